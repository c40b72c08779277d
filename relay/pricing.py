"""Turn a fiat total into an asset amount in base units, from rate sources tried in order.

A rate is fiat per whole asset unit (`Decimal`, never a float). Sources, per asset, in order:
`peg:<FIAT>` (a stablecoin 1:1 to its fiat), `fixed:<FIAT>:<price>` (a rate written in config),
`chainlink:<feed>[:<FIAT>]` (an AggregatorV3 feed on the asset's chain, read with eth_call; a round
older than `rate_max_age_seconds` or a non-positive answer is refused) and `coingecko:<coin id>`
(CoinGecko's /simple/price, asked directly in the store's currency). A rate in another fiat than the
store's converts through `[relay] fiat_rates` (`fixed:USD:EUR:0.92`, `frankfurter:<URL>`). Fail
closed: when no source answers, RateUnavailable names every source and why; never a default rate.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from functools import partial
from typing import Any, Protocol

from relay.errors import RateUnavailable
from relay.http import HttpClient
from relay.settings import AssetSettings, ChainSettings, Settings

DISPLAY_DECIMALS = (
    8  # amounts of 18-decimal coins are rounded up to 1e-8 so wallets show them whole
)
HTTP_TIMEOUT_SECONDS = 10
CACHE_SECONDS = 30  # one answer per source serves a burst of checkouts


@dataclass(frozen=True)
class RateQuote:
    """A rate: `rate` fiat per whole asset unit in `currency`, from `source`, read at `at` (UTC)."""

    rate: Decimal
    currency: str
    source: str
    at: datetime


@dataclass(frozen=True)
class FeedRound:
    """A price feed's latest round: `answer` scaled by 10**decimals, `updated_at` unix seconds."""

    answer: int
    decimals: int
    updated_at: int


class PriceFeeds(Protocol):
    """Read Chainlink-style price feeds on a named chain."""

    def latest_round(self, chain: str, feed: str) -> FeedRound:
        """Return the feed's latest round; raise any exception when it cannot be read."""
        ...


class FeedReader(Protocol):
    """Read a Chainlink feed on one chain (relay/chain/rpc.py's Web3Chain is one)."""

    def latest_round(self, feed: str) -> tuple[int, int, int]:
        """Return the feed's (answer, decimals, updated_at unix seconds)."""
        ...


class ChainFeeds:
    """Read price feeds through each chain's client (PriceFeeds over {chain name: FeedReader})."""

    def __init__(self, chains: Mapping[str, FeedReader]) -> None:
        self.chains = chains

    def latest_round(self, chain: str, feed: str) -> FeedRound:
        """Return the feed's latest round on `chain`; raises what the chain client raises."""
        answer, decimals, updated_at = self.chains[chain].latest_round(feed)
        return FeedRound(answer, decimals, updated_at)


class Rates:
    """Quote assets in a store's currency from the configured sources (short-lived cache).

    `feeds` reads on-chain price feeds and `http` the HTTP sources (relay/runtime.py passes the
    relay's own); without one, its sources answer RateUnavailable and the next source is tried.
    """

    def __init__(
        self,
        settings: Settings,
        feeds: PriceFeeds | None = None,
        http: HttpClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.feeds = feeds
        self.http = http
        self.clock = clock
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def quote(
        self, chain: ChainSettings, asset: AssetSettings, currency: str, now: datetime
    ) -> RateQuote:
        """Return the first rate any of the asset's sources gives, in `currency`.

        raises RateUnavailable naming each source and why it gave nothing.
        """
        currency = currency.upper()
        reasons = []
        for source in asset.rate:
            try:
                rate, quoted_in = self._read(chain, source, currency, now)
                if rate <= 0:
                    raise RateUnavailable(f"non-positive rate {rate}")
                if quoted_in != currency:
                    rate = rate * self.fiat_rate(quoted_in, currency)
                    source = f"{source} * {quoted_in}/{currency}"
                return RateQuote(rate, currency, source, now)
            except RateUnavailable as exc:
                reasons.append(f"{source}: {exc.message}")
        raise RateUnavailable(f"no rate for {asset.symbol} in {currency}: " + "; ".join(reasons))

    def _read(
        self, chain: ChainSettings, source: str, currency: str, now: datetime
    ) -> tuple[Decimal, str]:
        kind, _, arg = source.partition(":")
        if kind == "peg":
            return Decimal(1), arg.upper()
        if kind == "fixed":
            fiat, _, price = arg.partition(":")
            return Decimal(price), fiat.upper()
        if kind == "chainlink":
            feed, _, fiat = arg.partition(":")
            return self._chainlink(chain.name, feed, now), (fiat or "USD").upper()
        if kind == "coingecko":
            return self._coingecko(arg, currency, now), currency
        raise RateUnavailable(f"unknown source kind {kind!r}")

    def _cached(self, key: str, read: Callable[[], Any]) -> Any:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and self.clock() - hit[0] < CACHE_SECONDS:
                return hit[1]
        value = read()
        with self._lock:
            self._cache[key] = (self.clock(), value)
        return value

    def _chainlink(self, chain: str, feed: str, now: datetime) -> Decimal:
        if self.feeds is None:
            raise RateUnavailable("no chain access to read price feeds here")
        try:
            latest: FeedRound = self._cached(
                f"chainlink:{chain}:{feed}",
                lambda: self.feeds.latest_round(chain, feed),  # type: ignore[union-attr]
            )
        except RateUnavailable:
            raise
        except Exception as exc:
            raise RateUnavailable(f"feed unreadable ({type(exc).__name__})") from None
        age = now.timestamp() - latest.updated_at
        if age > self.settings.relay.rate_max_age_seconds:
            raise RateUnavailable(f"stale round: updated {int(age)} s ago")
        if latest.answer <= 0:
            raise RateUnavailable(f"non-positive answer {latest.answer}")
        return Decimal(latest.answer).scaleb(-latest.decimals)

    def _get_json(self, url: str, params: dict[str, str]) -> Any:
        if self.http is None:
            raise RateUnavailable("no HTTP client to read rate sources here")
        response, record = self.http.call(
            "GET", url, params=params, timeout=HTTP_TIMEOUT_SECONDS, allow_redirects=True
        )
        if response is None:
            raise RateUnavailable(f"no answer ({record.error})")
        if response.status_code != 200:
            raise RateUnavailable(f"HTTP {response.status_code}")
        try:
            # floats in the JSON become exact Decimals of the digits sent
            return json.loads(response.text, parse_float=Decimal)
        except ValueError:
            raise RateUnavailable("answer is not JSON") from None

    def _coingecko(self, coin: str, currency: str, now: datetime) -> Decimal:
        url = f"{self.settings.relay.coingecko_url}/simple/price"
        params = {"ids": coin, "vs_currencies": currency.lower(), "include_last_updated_at": "true"}
        data = self._cached(f"coingecko:{coin}:{currency}", partial(self._get_json, url, params))
        try:
            entry = data[coin]
            price = Decimal(entry[currency.lower()])
        except (KeyError, TypeError, InvalidOperation):
            raise RateUnavailable(f"no {currency} price for {coin!r} in the answer") from None
        updated = entry.get("last_updated_at")
        if (
            isinstance(updated, int)
            and now.timestamp() - updated > self.settings.relay.rate_max_age_seconds
        ):
            raise RateUnavailable(f"stale price: updated {int(now.timestamp() - updated)} s ago")
        return price

    def fiat_rate(self, source: str, target: str) -> Decimal:
        """Return how many `target` units one `source` unit buys, from `[relay] fiat_rates`.

        raises RateUnavailable when no fiat source answers.
        """
        if source == target:
            return Decimal(1)
        reasons = []
        for spec in self.settings.relay.fiat_rates:
            kind, _, arg = spec.partition(":")
            if kind == "fixed":
                base, quote_currency, value = arg.split(":")
                if (base.upper(), quote_currency.upper()) == (source, target):
                    return Decimal(value)
                if (base.upper(), quote_currency.upper()) == (target, source):
                    return Decimal(1) / Decimal(value)
                reasons.append(f"{spec}: not {source}/{target}")
            elif kind == "frankfurter":
                url = f"{arg.rstrip('/')}/latest"
                params = {"from": source, "to": target}
                try:
                    data = self._cached(
                        f"fx:{url}:{source}:{target}", partial(self._get_json, url, params)
                    )
                    return Decimal(data["rates"][target])
                except RateUnavailable as exc:
                    reasons.append(f"{spec}: {exc.message}")
                except (KeyError, TypeError, InvalidOperation):
                    reasons.append(f"{spec}: no {source}/{target} rate in the answer")
        if not reasons:
            reasons.append("no fiat_rates configured")
        raise RateUnavailable(f"cannot convert {source} to {target}: " + "; ".join(reasons))


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
