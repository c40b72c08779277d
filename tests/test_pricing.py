"""Pricing: exact amounts rounded up, sources in order, stale or missing rates fail closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask, jsonify, request

from devkit.devchain import Anvil, deploy_price_feed, set_feed_answer
from relay.chain.rpc import Web3Chain
from relay.config import parse_settings
from relay.errors import RateUnavailable
from relay.http import HttpClient
from relay.pricing import ChainFeeds, Rates, from_base_units, to_base_units
from relay.settings import AssetSettings, Settings
from tests.conftest import config_dict, free_port
from tests.support import AppServer

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def settings_with(**relay: Any) -> Settings:
    data = config_dict()
    data["relay"].update(relay)
    return parse_settings(data, env={})


def asset(*rate: str, decimals: int = 18) -> AssetSettings:
    return AssetSettings("ETH", decimals, rate)


def quote(settings: Settings, currency: str, *rate: str, rates: Rates | None = None) -> Any:
    with HttpClient(5) as http:
        rates = rates or Rates(settings, http=http)
        return rates.quote(settings.chains["dev"], asset(*rate), currency, NOW)


@pytest.fixture(scope="module")
def price_api() -> Iterator[dict[str, Any]]:
    """A CoinGecko- and Frankfurter-shaped API over HTTP; `state` controls its answers."""
    state: dict[str, Any] = {"status": 200, "updated": int(NOW.timestamp()), "calls": 0}
    app = Flask("prices")

    @app.get("/simple/price")
    def simple_price() -> Any:
        state["calls"] += 1
        if state["status"] != 200:
            return jsonify({"error": "down"}), state["status"]
        coin, currency = request.args["ids"], request.args["vs_currencies"]
        prices = {"usd": 2512.34, "eur": 2301.1}
        return (
            f'{{"{coin}": {{"{currency}": {prices[currency]}, '
            f'"last_updated_at": {state["updated"]}}}}}',
            200,
            {"Content-Type": "application/json"},
        )

    @app.get("/latest")
    def latest() -> Any:
        return jsonify(
            {"amount": 1.0, "base": request.args["from"], "rates": {request.args["to"]: 0.9215}}
        )

    with AppServer(app) as server:
        state["url"] = server.url
        yield state


def test_peg_and_fixed_rates() -> None:
    settings = settings_with()
    assert quote(settings, "USD", "peg:USD").rate == Decimal(1)
    q = quote(settings, "USD", "peg:EUR", "fixed:USD:2500.50")
    assert (q.rate, q.source, q.at) == (Decimal("2500.50"), "fixed:USD:2500.50", NOW)


def test_coingecko_price_is_exact_and_in_the_store_currency(price_api: dict[str, Any]) -> None:
    settings = settings_with(coingecko_url=price_api["url"])
    assert quote(settings, "USD", "coingecko:ethereum").rate == Decimal("2512.34")
    assert quote(settings, "EUR", "coingecko:ethereum").rate == Decimal("2301.1")


def test_source_down_falls_back_in_order(price_api: dict[str, Any]) -> None:
    settings = settings_with(coingecko_url=price_api["url"])
    price_api["status"] = 503
    try:
        q = quote(settings, "USD", "coingecko:ethereum", "fixed:USD:2400")
    finally:
        price_api["status"] = 200
    assert (q.rate, q.source) == (Decimal(2400), "fixed:USD:2400")
    unreachable = settings_with(coingecko_url=f"http://127.0.0.1:{free_port()}")
    q = quote(unreachable, "USD", "coingecko:ethereum", "fixed:USD:2400")
    assert q.source == "fixed:USD:2400"


def test_stale_http_price_is_refused(price_api: dict[str, Any]) -> None:
    settings = settings_with(coingecko_url=price_api["url"], rate_max_age_seconds=60)
    price_api["updated"] = int(NOW.timestamp()) - 3600
    try:
        with pytest.raises(RateUnavailable, match="stale price"):
            quote(settings, "USD", "coingecko:ethereum")
    finally:
        price_api["updated"] = int(NOW.timestamp())


def test_all_sources_down_fails_closed_with_every_reason() -> None:
    settings = settings_with(coingecko_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RateUnavailable) as info:
        quote(settings, "USD", "peg:EUR", "coingecko:ethereum", "chainlink:0x" + "22" * 20)
    message = info.value.message
    assert "peg:EUR" in message and "coingecko:ethereum: no answer" in message
    assert "chainlink" in message


def test_eur_store_converts_through_a_fiat_source(price_api: dict[str, Any]) -> None:
    fixed = settings_with(fiat_rates=["fixed:USD:EUR:0.92"])
    q = quote(fixed, "EUR", "peg:USD")
    assert (q.rate, q.source) == (Decimal("0.92"), "peg:USD * USD/EUR")
    inverse = settings_with(fiat_rates=["fixed:EUR:USD:1.25"])
    assert quote(inverse, "EUR", "peg:USD").rate == Decimal("0.8")
    live = settings_with(fiat_rates=[f"frankfurter:{price_api['url']}"])
    assert quote(live, "EUR", "peg:USD").rate == Decimal("0.9215")
    with pytest.raises(RateUnavailable, match="cannot convert USD to EUR"):
        quote(settings_with(), "EUR", "peg:USD")


def test_chainlink_feed_on_anvil() -> None:
    with Anvil() as node:
        feed = deploy_price_feed(node.w3, decimals=8, answer=2_501_23000000)
        chain = Web3Chain([node.url])
        try:
            settings = settings_with(rate_max_age_seconds=600)
            rates = Rates(settings, ChainFeeds({"dev": chain}))
            block_time = node.w3.eth.get_block("latest")["timestamp"]
            now = datetime.fromtimestamp(block_time, UTC)
            dev = settings.chains["dev"]
            q = rates.quote(dev, asset(f"chainlink:{feed}"), "USD", now)
            assert q.rate == Decimal("2501.23")
            set_feed_answer(node.w3, feed, 2_600_00000000, block_time - 3600)
            stale = Rates(settings, ChainFeeds({"dev": chain}))
            with pytest.raises(RateUnavailable, match="stale round"):
                stale.quote(dev, asset(f"chainlink:{feed}"), "USD", now)
            set_feed_answer(node.w3, feed, -1, block_time)
            with pytest.raises(RateUnavailable, match="non-positive"):
                Rates(settings, ChainFeeds({"dev": chain})).quote(
                    dev, asset(f"chainlink:{feed}"), "USD", now
                )
        finally:
            chain.close()


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
