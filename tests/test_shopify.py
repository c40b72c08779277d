"""Shopify through its spec: REST webhook in, GraphQL `orderMarkAsPaid` out, over real HTTP.

The store is the Shopify Admin API emulator (devkit.shopify); orders are the
REST fixture from Shopify's own Python library (samples/shopify_rest_order_fixture.json).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from devkit.devchain import Anvil, transfer_token
from devkit.shopify import ShopifyStore, webhook_hmac
from relay.config import parse_settings
from relay.db import Database
from relay.http import HttpClient
from relay.inbound import read_order
from relay.settings import StoreSettings
from relay.specs import load_spec
from relay.storefront import StorefrontClient
from tests.conftest import ADMIN_TOKEN, SAMPLES, config_dict, database_url_for
from tests.support import invoice_of, relay_address, relay_app, relay_process, wait_for

METHOD = "Pay with crypto"  # the merchant's custom manual payment method


@pytest.fixture(scope="module")
def fixture_order() -> dict[str, Any]:
    wrapped: dict[str, dict[str, Any]] = json.loads(
        (SAMPLES / "shopify_rest_order_fixture.json").read_text()
    )
    return wrapped["order"]


def crypto_order(fixture_order: dict[str, Any]) -> dict[str, Any]:
    """Return the fixture as an order placed with the manual crypto method (unpaid)."""
    order = copy.deepcopy(fixture_order)
    order.update(financial_status="pending", gateway=METHOD, payment_gateway_names=[METHOD])
    return order


def shop_config(shop: ShopifyStore, **extra: Any) -> dict[str, Any]:
    return config_dict(
        store_url=shop.base_url,
        platform="shopify",
        webhook_secret=shop.client_secret,
        api_token=shop.access_token,
        payment_methods=[METHOD],
        **extra,
    )


@pytest.fixture
def shop() -> Iterator[ShopifyStore]:
    with ShopifyStore() as store:
        yield store


@pytest.fixture
def store(shop: ShopifyStore) -> StoreSettings:
    return parse_settings(shop_config(shop), env={}).stores["shop"]


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def client_for(
    store: StoreSettings, http: requests.Session, **spec_changes: Any
) -> StorefrontClient:
    spec = dataclasses.replace(load_spec(store), **spec_changes)
    return StorefrontClient(store, spec, HttpClient(5, http))


VALUES = {
    "invoice_id": "inv_test",
    "payment_url": "http://127.0.0.1:8080/pay/abc",
    "amount": "409.94",
    "currency": "USD",
    "expires_at": "2030-01-01 00:00",
    "asset": "USDC",
    "chain": "dev",
    "paid_amount": "409.94",
    "tx_hash": "0x" + "ab" * 32,
    "tx_hashes": "0x" + "ab" * 32,
    "required_confirmations": "2",
}


def payload(event: str, order_id: Any, exception: str = "") -> dict[str, Any]:
    return {"event": event, "exception": exception, "order_id": str(order_id), "values": VALUES}


def writes(shop: ShopifyStore) -> list[dict[str, Any]]:
    return [r for r in shop.requests if r["method"] == "POST"]


# ------------------------------------------------------------------ webhook in (no network)


@pytest.fixture
def app(db: Database) -> FlaskClient:
    data = config_dict(
        platform="shopify",
        webhook_secret="shopify-client-secret",
        api_token="shpat_x",
        payment_methods=[METHOD],
    )
    return relay_app(parse_settings(data, env={}), db).test_client()


def deliver(client: FlaskClient, order: dict[str, Any], topic: str = "orders/create") -> Any:
    """Post an order webhook as Shopify signs it; return the response (its .json is Any)."""
    body = json.dumps(order).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": webhook_hmac("shopify-client-secret", body),
        "X-Shopify-Shop-Domain": "relay-test.myshopify.com",
    }
    return client.post("/hooks/shop", data=body, headers=headers)


def test_fixture_order_opens_an_invoice_only_when_unpaid_and_ours(
    app: FlaskClient, fixture_order: dict[str, Any]
) -> None:
    as_is = deliver(app, fixture_order)  # authorized, by card: not the relay's
    assert as_is.status_code == 200
    assert "'authorized' does not open" in as_is.json["ignored"]
    card = dict(crypto_order(fixture_order), payment_gateway_names=["bogus"])
    assert "payment method 'bogus'" in deliver(app, card).json["ignored"]
    cancelled = dict(crypto_order(fixture_order), cancelled_at="2008-01-10T12:00:00-05:00")
    assert "cancelled_at == null" in deliver(app, cancelled).json["ignored"]

    opened = deliver(app, crypto_order(fixture_order))
    assert opened.status_code == 200 and opened.json["queued"] is True
    again = deliver(app, crypto_order(fixture_order), topic="orders/updated")
    assert again.status_code == 200 and again.json["queued"] is True
    invoice = invoice_of(app, "shop", "450789469")  # one invoice, however often it came
    assert (invoice["order_id"], invoice["order_number"]) == ("450789469", "#1001")
    assert (invoice["amount"], invoice["currency"]) == ("409.94", "USD")


def test_shopify_signature_is_checked_on_raw_bytes(
    app: FlaskClient, fixture_order: dict[str, Any]
) -> None:
    body = json.dumps(crypto_order(fixture_order)).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": webhook_hmac("shopify-client-secret", body),
    }
    tampered = body.replace(b'"409.94"', b'"1.00"')
    assert app.post("/hooks/shop", data=tampered, headers=headers).status_code == 401
    other = dict(headers, **{"X-Shopify-Topic": "products/create"})
    ignored = app.post("/hooks/shop", data=body, headers=other)
    assert ignored.status_code == 200 and "topic" in ignored.json["ignored"]  # type: ignore[index]
    listing = app.get(
        "/api/v1/admin/invoices", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json
    assert listing == {"invoices": []}


# ------------------------------------------------------------------ order API out


def test_settled_marks_the_order_paid_once_and_records_the_tx(
    shop: ShopifyStore,
    store: StoreSettings,
    http: requests.Session,
    fixture_order: dict[str, Any],
) -> None:
    order = shop.create_order(crypto_order(fixture_order))
    client = client_for(store, http)
    assert client.push(payload("invoice.created", order["id"])).ok
    assert VALUES["payment_url"] in shop.get_order(order["id"])["note"]

    outcome = client.push(payload("invoice.settled", order["id"]))
    assert outcome.ok, outcome.error
    paid = shop.get_order(order["id"])
    assert (paid["financial_status"], paid["total_outstanding"]) == ("paid", "0.00")
    assert paid["transactions"][0]["amount"] == "409.94"
    assert VALUES["payment_url"] in paid["note"] and VALUES["tx_hash"] in paid["note"]
    mutations = [r["json"]["query"] for r in writes(shop)]
    assert len(mutations) == 3 and "orderMarkAsPaid" in mutations[1]
    marked = writes(shop)[1]
    assert marked["json"]["variables"] == {"input": {"id": f"gid://shopify/Order/{order['id']}"}}
    assert {r["token"] for r in shop.requests} == {shop.access_token}

    before = len(writes(shop))
    assert client.push(payload("invoice.settled", order["id"])).ok  # a repeat changes nothing
    assert len(writes(shop)) == before


def test_orders_paid_another_way_are_never_marked(
    shop: ShopifyStore, store: StoreSettings, http: requests.Session
) -> None:
    client = client_for(store, http)
    for status in ("paid", "refunded", "voided"):
        order = shop.create_order()
        shop.update_order(order["id"], financial_status=status)
        assert client.push(payload("invoice.settled", order["id"])).ok
        assert shop.get_order(order["id"])["financial_status"] == status
    assert not any("orderMarkAsPaid" in r["json"]["query"] for r in writes(shop))


def test_graphql_throttling_is_retried_and_a_bad_token_is_not(
    shop: ShopifyStore, store: StoreSettings, http: requests.Session
) -> None:
    order = shop.create_order()
    shop.throttle_next(1)
    throttled = client_for(store, http).push(payload("invoice.settled", order["id"]))
    assert (throttled.ok, throttled.retry, throttled.status_code) == (False, True, 200)
    assert "THROTTLED" in throttled.error
    assert shop.get_order(order["id"])["financial_status"] == "pending"
    wrong = dataclasses.replace(store, api_token="shpat_wrong")
    refused = client_for(wrong, http).push(payload("invoice.settled", order["id"]))
    assert (refused.ok, refused.retry, refused.status_code) == (False, False, 401)
    assert client_for(store, http).push(payload("invoice.settled", order["id"])).ok
    assert shop.get_order(order["id"])["financial_status"] == "paid"


def test_read_and_list_open_orders_for_reconciliation(
    shop: ShopifyStore, store: StoreSettings, http: requests.Session, fixture_order: dict[str, Any]
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=2)
    pending = [shop.create_order(crypto_order(fixture_order))["id"] for _ in range(3)]
    shop.update_order(shop.create_order()["id"], financial_status="paid")
    shop.update_order(shop.create_order()["id"], cancelled_at="2030-01-01T00:00:00+00:00")
    spec = load_spec(store)
    assert spec.list_orders is not None
    small_pages = dataclasses.replace(
        spec.list_orders, query={**spec.list_orders.query, "limit": "2"}
    )
    client = client_for(store, http, list_orders=small_pages)

    listed = client.list_open_orders(start)
    assert sorted(o["id"] for o in listed) == sorted(pending)
    assert [c.path for c in client.calls if "page_info" in c.path]  # the second page was followed
    assert client.list_open_orders(datetime.now(UTC) + timedelta(hours=1)) == []

    raw = client.read_order(str(pending[0]))
    found = read_order(store, spec, raw)
    assert found.order is not None and found.order.order_id == str(pending[0])
    assert found.order.total == Decimal(fixture_order["total_price"])


# ------------------------------------------------------------------ end to end


def test_shopify_order_paid_on_chain_end_to_end(
    chain: Anvil, usdc: str, tmp_path: Any, fixture_order: dict[str, Any]
) -> None:
    with ShopifyStore() as shop:
        data = shop_config(
            shop,
            rpc_url=chain.url,
            token=usdc,
            database_url=database_url_for(tmp_path),
            **relay_address(),
        )
        relay = relay_process(data, tmp_path).start()
        try:
            for topic in ("orders/create", "orders/updated"):
                shop.add_webhook(topic, f"{relay.url}/hooks/shop")
            order = shop.create_order(crypto_order(fixture_order))
            invoice = wait_for("the invoice", lambda: relay.invoice_for(order["id"]))
            option = next(o for o in invoice["options"] if o["asset"] == "USDC")
            assert option["amount_base_units"] == "409940000"
            wait_for(
                "the payment link in the order note",
                lambda: invoice["payment_url"] in (shop.get_order(order["id"])["note"] or ""),
            )
            tx = transfer_token(chain.w3, usdc, chain.accounts[1], option["address"], 409_940_000)
            paid = wait_for(
                "the order to be paid",
                lambda: (o := shop.get_order(order["id"]))["financial_status"] == "paid" and o,
            )
            wait_for(
                "the tx in the note", lambda: tx in (shop.get_order(order["id"])["note"] or "")
            )
            assert paid["transactions"][0]["kind"] == "sale"
            assert relay.invoice(invoice["id"])["status"] == "settled"
            # the relay's own changes came back as orders/updated webhooks and changed nothing
            wait_for(
                "the orders/updated deliveries",
                lambda: sum(d["topic"] == "orders/updated" for d in shop.deliveries) >= 3,
            )
            assert all(d["status_code"] == 200 for d in shop.deliveries)
            found = relay.admin("/api/v1/admin/invoices", store="shop", order_id=str(order["id"]))
            assert len(found["invoices"]) == 1
        finally:
            relay.stop()
