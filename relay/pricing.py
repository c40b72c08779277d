"""Turn a fiat total into an asset amount in base units, from rate sources tried in order.

A rate is fiat per whole asset unit (`Decimal`). Sources: `peg:<FIAT>` (a stablecoin 1:1 to its
fiat) and `fixed:<FIAT>:<price>` (a rate written in config). Fail closed: when no source answers,
RateUnavailable is raised and the option is not offered — there is never a default rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from relay.config import AssetSettings
from relay.errors import RateUnavailable

DISPLAY_DECIMALS = (
    8  # amounts of 18-decimal coins are rounded up to 1e-8 so wallets show them whole
)


@dataclass(frozen=True)
class RateQuote:
    """A rate: `rate` fiat per whole asset unit, from `source`, read at `at` (UTC)."""

    rate: Decimal
    currency: str
    source: str
    at: datetime


def quote(asset: AssetSettings, currency: str, now: datetime) -> RateQuote:
    """Return the first rate any of the asset's sources gives in `currency`.

    raises RateUnavailable naming each source and why it gave nothing.
    """
    reasons = []
    for source in asset.rate:
        kind, _, arg = source.partition(":")
        if kind == "peg":
            if arg.upper() == currency.upper():
                return RateQuote(Decimal(1), currency, source, now)
            reasons.append(f"{source}: pegged to {arg}, store currency is {currency}")
        elif kind == "fixed":
            fiat, _, price = arg.partition(":")
            if fiat.upper() == currency.upper():
                return RateQuote(Decimal(price), currency, source, now)
            reasons.append(f"{source}: quoted in {fiat}, store currency is {currency}")
        else:
            reasons.append(f"{source}: source kind {kind!r} is not available in this version")
    raise RateUnavailable(f"no rate for {asset.symbol} in {currency}: " + "; ".join(reasons))


def to_base_units(fiat_amount: Decimal, rate: Decimal, decimals: int) -> int:
    """Convert a fiat amount at `rate` (fiat per unit) to base units, rounding up (never short)."""
    if rate <= 0:
        raise RateUnavailable(f"rate must be positive, got {rate}")
    units = fiat_amount / rate * (Decimal(10) ** decimals)
    step = Decimal(10) ** max(decimals - DISPLAY_DECIMALS, 0)
    steps = (units / step).to_integral_value(rounding=ROUND_CEILING)
    return int(steps * step)


def from_base_units(amount: int, decimals: int) -> Decimal:
    """Return base units as a whole-unit Decimal without trailing zeros beyond the point."""
    value = Decimal(amount).scaleb(-decimals)
    return value.normalize() if value != value.to_integral_value() else value.quantize(Decimal(1))
