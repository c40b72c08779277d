"""Subscription renewals: invoiced like any order, the subscription named, never cancelled.

WooCommerce Subscriptions creates one renewal order per billing cycle: `created_via`
"subscription" and the meta `_subscription_renewal` = the subscription's id (what
`wcs_order_contains_renewal()` tests). A manual renewal's order starts `pending` and the
subscription waits `on-hold`; moving the renewal order to `processing` is what reactivates it.
A custom shop sends `subscription_id` with the relay protocol.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from relay.config import parse_settings
from relay.db import Database
from relay.errors import ConfigError
from relay.inbound import read_order
from relay.invoices import find_invoice
from relay.reconcile import reconcile_store
from relay.specs import load_spec
from tests.conftest import SAMPLES, WEBHOOK_SECRET, config_dict
from tests.live_shop import USDC, LiveShop, dev_chain, live_shop
from tests.support import relay_app
from tests.test_scenarios import Chain

SUBSCRIPTION = "4242"


def renewal_order(**changes: Any) -> dict[str, Any]:
    """A renewal order as the WooCommerce REST API shows it with WooCommerce Subscriptions."""
    sample = json.loads((SAMPLES / "woocommerce_v3_order_retrieve_response.json").read_text())
    order: dict[str, Any] = copy.deepcopy(sample)
    order.update(
        status="pending",
        payment_method="cheque",
        created_via="subscription",
        date_paid=None,
        transaction_id="",
        meta_data=[
            {"id": 13107, "key": "_subscription_renewal", "value": SUBSCRIPTION},
            {"id": 13108, "key": "_download_permissions_granted", "value": "yes"},
        ],
    )
    return order | changes


def test_a_subscriptions_renewal_order_names_its_subscription() -> None:
    settings = parse_settings(config_dict(), env={})
    store, spec = settings.stores["shop"], load_spec("woocommerce")
    inbound = read_order(store, spec, renewal_order())
    assert inbound.kind == "order" and inbound.order is not None
    assert inbound.order.subscription_id == SUBSCRIPTION
    # a one-off order, and a resubscribe order (another meta key) are no renewals
    for other in (
        renewal_order(created_via="checkout", meta_data=[]),
        renewal_order(meta_data=[{"id": 1, "key": "_subscription_resubscribe", "value": "7"}]),
    ):
        read = read_order(store, spec, other)
        assert read.order is not None and read.order.subscription_id == ""


def test_renewal_expiry_defaults_to_the_invoice_expiry() -> None:
    assert parse_settings(config_dict(), env={}).stores["shop"].renewal_invoice_expiry_minutes == 30
    longer = parse_settings(config_dict(renewal_invoice_expiry_minutes=4320), env={})
    assert longer.stores["shop"].renewal_invoice_expiry_minutes == 4320
    with pytest.raises(ConfigError) as caught:
        parse_settings(config_dict(renewal_invoice_expiry_minutes=-1), env={})
    assert caught.value.problems[0][0] == "stores.shop.renewal_invoice_expiry_minutes"


@pytest.fixture
def custom_shop(db: Database) -> FlaskClient:
    data = config_dict(
        platform="relay",
        api_token="shop-api-token-0123456789",
        payment_methods=["crypto"],
        renewal_invoice_expiry_minutes=1440,
    )
    return relay_app(parse_settings(data, env={}), db).test_client()


def test_a_custom_shop_sends_the_subscription_id(custom_shop: FlaskClient) -> None:
    order = {"order_id": "R-7", "currency": "USD", "amount": "9.00", "subscription_id": "sub_7"}
    headers = {"Authorization": "Bearer shop-api-token-0123456789"}
    answer = custom_shop.post("/api/v1/stores/shop/invoices", json=order, headers=headers)
    assert answer.status_code == 201 and answer.json is not None
    assert answer.json["subscription_id"] == "sub_7"
    created, expires = (answer.json[k] for k in ("created_at", "expires_at"))
    assert _minutes_between(created, expires) == 1440
    one_off = {k: v for k, v in order.items() if k != "subscription_id"} | {"order_id": "O-1"}
    other = custom_shop.post("/api/v1/stores/shop/invoices", json=one_off, headers=headers)
    assert other.json is not None and other.json["subscription_id"] is None
    assert _minutes_between(other.json["created_at"], other.json["expires_at"]) == 30


def _minutes_between(start: str, end: str) -> float:
    parse = datetime.fromisoformat
    delta = parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))
    return delta.total_seconds() / 60


# ------------------------------------------------------------------ on anvil, over real HTTP


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    with dev_chain() as node:
        yield node


@pytest.fixture
def shop(chain: Chain, tmp_path: Path) -> Iterator[LiveShop]:
    with live_shop(chain, tmp_path / "shop", renewal_invoice_expiry_minutes=1440) as built:
        built.store.add_webhook("order.created", f"{built.url}/hooks/shop", WEBHOOK_SECRET)
        yield built


def place_renewal(shop: LiveShop, total: str = "19.00") -> None:
    """WooCommerce Subscriptions creates a pending renewal order; its webhook opens an invoice."""
    w = shop.world
    shop.tick()  # the watcher's cursor starts before the order
    w.order = shop.store.create_order(
        total=total,
        status="pending",
        created_via="subscription",
        meta_data=[{"key": "_subscription_renewal", "value": SUBSCRIPTION}],
    )
    shop.store.flush_webhooks()
    with w.db.transaction() as session:
        invoice = find_invoice(session, "shop", str(w.order["id"]))
        assert invoice is not None
        w.invoice_id = invoice.id
    shop.tick()


def test_a_renewal_is_invoiced_paid_and_settled(shop: LiveShop) -> None:
    w = shop.world
    place_renewal(shop)
    invoice = w.invoice
    assert invoice.subscription_id == SUBSCRIPTION
    assert invoice.expires_at - invoice.created_at == timedelta(minutes=1440)
    public = requests.get(f"{shop.url}/api/v1/invoices/{invoice.id}", timeout=10).json()
    assert public["subscription_id"] == SUBSCRIPTION
    (ask,) = [n for n in shop.notes(customer=True) if "/pay/" in n]
    assert ask.startswith(f"Renewal of your subscription #{SUBSCRIPTION}: pay 19.00 USD in crypto")
    meta = {m["key"]: m["value"] for m in w.order_now()["meta_data"]}
    assert meta["_relay_invoice_id"] == invoice.id
    tx = w.pay(19 * USDC)
    shop.tick()
    assert w.order_now()["status"] == "on-hold"
    shop.tick(blocks=2)
    assert w.invoice.status == "settled"
    order = w.order_now()
    # processing is what makes WooCommerce Subscriptions reactivate the subscription
    assert (order["status"], order["transaction_id"]) == ("processing", tx)
    assert any(
        f"settled for the renewal of subscription #{SUBSCRIPTION}" in n and tx in n
        for n in shop.notes()
    )


def test_an_expired_renewal_stays_unpaid_and_the_subscription_is_left_alone(
    shop: LiveShop,
) -> None:
    w = shop.world
    place_renewal(shop)
    renewal = w.order
    w.advance(1441)  # past the renewal's 24 hours
    shop.tick()
    assert w.invoice.status == "expired"
    assert w.order_now()["status"] == "pending"  # not cancelled: the renewal is just unpaid
    assert any(
        f"renewal of subscription #{SUBSCRIPTION} expired" in n and "UNPAID" in n
        for n in shop.notes(customer=False)
    )
    writes = [r for r in shop.store.requests if r["method"] in ("PUT", "POST", "PATCH", "DELETE")]
    assert all(r["path"].startswith(f"/wp-json/wc/v3/orders/{renewal['id']}") for r in writes)
    assert not any(isinstance(r["json"], dict) and "status" in r["json"] for r in writes)
    # reconciliation agrees that the order is as it should be
    report = reconcile_store(w.db, w.settings, "shop", w.sender.storefronts, w.now(), w.rates)
    assert report.mismatches == [] and report.opened == []

    # a one-off order of the same store still expires into `cancelled`
    w.open("5.00")
    w.advance(31)
    shop.tick()
    assert (w.invoice.status, w.order_now()["status"]) == ("expired", "cancelled")
