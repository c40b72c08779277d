"""Pricing is exact, rounds up, and fails closed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from relay.config import AssetSettings
from relay.errors import RateUnavailable
from relay.pricing import from_base_units, quote, to_base_units

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def test_peg_and_fixed_rates() -> None:
    usdc = AssetSettings("USDC", 6, ("peg:USD",), "0x" + "11" * 20)
    assert quote(usdc, "USD", NOW).rate == Decimal(1)
    eth = AssetSettings("ETH", 18, ("peg:EUR", "fixed:USD:2500.50"))
    q = quote(eth, "USD", NOW)
    assert (q.rate, q.source, q.at) == (Decimal("2500.50"), "fixed:USD:2500.50", NOW)


def test_no_source_fails_closed_with_every_reason() -> None:
    usdc = AssetSettings("USDC", 6, ("peg:USD", "coingecko:usd-coin"), "0x" + "11" * 20)
    with pytest.raises(RateUnavailable) as info:
        quote(usdc, "EUR", NOW)
    assert "peg:USD" in info.value.message and "coingecko" in info.value.message


def test_amounts_are_exact_and_never_short() -> None:
    assert to_base_units(Decimal("44.98"), Decimal(1), 6) == 44_980_000
    # 44.98 / 2000 = 0.02249 ETH exactly
    assert to_base_units(Decimal("44.98"), Decimal(2000), 18) == 22_490_000_000_000_000
    # 10 / 3 = 3.333… rounds UP at 1e-8
    assert to_base_units(Decimal(10), Decimal(3), 18) == 3_333_333_340_000_000_000
    assert to_base_units(Decimal("0.01"), Decimal(3), 6) == 3334


def test_from_base_units() -> None:
    assert from_base_units(44_980_000, 6) == Decimal("44.98")
    assert str(from_base_units(1_000_000, 6)) == "1"
    assert str(from_base_units(22_490_000_000_000_000, 18)) == "0.02249"
