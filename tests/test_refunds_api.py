"""Refund requests from Shopify and custom shops; the operator's refund API and its errors.

Paying a refund on a chain is covered on anvil in tests/test_refunds.py; here the invoice is
marked paid in the database, which is all a refund request needs.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from devkit.shopify import ShopifyStore, webhook_hmac
from relay.config import parse_settings
from relay.db import Database
from relay.delivery import deliver_due
from relay.invoices import find_invoice
from relay.links import payment_token
from relay.models import Invoice, Refund, utcnow
from relay.runtime import Runtime
from relay.settings import Settings
from relay.signing import sign_standard_webhook
from tests.conftest import ADMIN_TOKEN, SAMPLES, SECRET_KEY, config_dict
from tests.support import AppServer, relay_app, wait_for

API_TOKEN = "shop-api-token-0123456789"
SHOP_SECRET = "whsec_" + base64.b64encode(b"custom shop signing key 0123456").decode()
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
METHOD = "Pay with crypto"


def mark_paid(db: Database, store: str, order_id: str, asset: str = "USDC") -> Invoice:
    """Record the invoice of an order as settled in `asset` (what the watcher would do)."""
    with db.transaction() as session:
        invoice = find_invoice(session, store, order_id)
        assert invoice is not None
        option = next(o for o in invoice.options if o.asset == asset)
        invoice.status, invoice.settled_at = "settled", utcnow()
        invoice.paid_option = f"{option.chain}:{option.asset}"
        invoice.paid_base_units = option.amount_base_units
        return invoice


def refunds_of(db: Database) -> list[Refund]:
    with db.transaction() as session:
        return list(session.query(Refund).order_by(Refund.created_at, Refund.id))


# ------------------------------------------------------------------ the relay protocol


@pytest.fixture
def relay_settings() -> Settings:
    data = config_dict(
        platform="relay", webhook_secret=SHOP_SECRET, api_token=API_TOKEN, payment_methods=["x"]
    )
    return parse_settings(data, env={})


@pytest.fixture
def client(db: Database, relay_settings: Settings) -> FlaskClient:
    return relay_app(relay_settings, db).test_client()


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}"}


def opened(client: FlaskClient, order_id: str, amount: str = "25.00") -> None:
    order = {"order_id": order_id, "currency": "USD", "amount": amount}
    answer = client.post("/api/v1/stores/shop/invoices", json=order, headers=bearer())
    assert answer.status_code == 201


def test_a_custom_shop_records_a_refund_once(client: FlaskClient, db: Database) -> None:
    opened(client, "A-1")
    mark_paid(db, "shop", "A-1")
    path = "/api/v1/stores/shop/orders/A-1/refunds"
    body = {"id": "r-1", "amount": "5.00", "reason": "size"}
    first = client.post(path, json=body, headers=bearer())
    assert first.status_code == 201, first.json
    data = first.json
    assert data is not None
    assert (data["status"], data["amount"], data["amount_base_units"]) == (
        "awaiting_address",
        "5.00",
        "5000000",
    )
    assert (data["external_id"], data["reason"], data["asset"]) == ("r-1", "size", "USDC")
    assert data["address_url"].startswith("http://127.0.0.1:8080/refund/")
    assert data["uri"] is None and data["address"] is None
    again = client.post(path, json=body | {"amount": "9.00"}, headers=bearer())
    assert again.status_code == 200 and again.json is not None
    assert (again.json["id"], again.json["amount"]) == (data["id"], "5.00")
    page = client.get(data["address_url"].removeprefix("http://127.0.0.1:8080"))
    assert page.status_code == 200 and b"5 USDC" in page.data
    # a payment link's token (another salt) never opens a refund form, even for the same id
    assert client.get("/refund/" + payment_token(SECRET_KEY, data["id"])).status_code == 404
    # the same order's refund reported as a Standard Webhooks event
    event = {
        "type": "order.refunded",
        "data": {"order_id": "A-1", "refunds": [{"id": "r-2", "amount": "2.50"}]},
    }
    raw = json.dumps(event).encode()
    moment = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "msg_refund_1",
        "webhook-timestamp": str(moment),
        "webhook-signature": sign_standard_webhook(SHOP_SECRET, "msg_refund_1", moment, raw),
    }
    hooked = client.post("/hooks/shop", data=raw, headers=headers)
    assert hooked.status_code == 200 and hooked.json is not None
    assert len(hooked.json["refunds"]) == 1 and "invoice_id" not in hooked.json
    assert [r.external_id for r in refunds_of(db)] == ["r-1", "r-2"]
    assert refunds_of(db)[1].amount_base_units == 2_500_000


def test_the_plugin_sends_woocommerces_refund_id_as_an_integer(
    client: FlaskClient, db: Database
) -> None:
    opened(client, "41")
    mark_paid(db, "shop", "41")
    path = "/api/v1/stores/shop/orders/41/refunds"
    body = {"id": 7, "amount": "10.00", "reason": "returned"}
    first = client.post(path, json=body, headers=bearer())
    assert first.status_code == 201 and first.json is not None
    assert first.json["external_id"] == "7"
    assert first.json["address_url"].startswith("http://127.0.0.1:8080/refund/")
    again = client.post(path, json=body | {"id": "7"}, headers=bearer())  # a retry opens nothing
    assert again.status_code == 200 and again.json is not None
    assert again.json["id"] == first.json["id"]


@pytest.mark.parametrize(
    ("order_id", "body", "status", "code"),
    [
        ("A-9", {"id": "r", "amount": "1.00"}, 404, "not_found"),  # no invoice
        ("A-2", {"id": "r", "amount": "1.00"}, 409, "refund_conflict"),  # not paid
        ("A-1", {"id": "r", "amount": "lots"}, 400, "invalid_payload"),
        ("A-1", {"id": "r", "amount": "0.00"}, 400, "invalid_payload"),
        ("A-1", {"amount": "1.00"}, 400, "invalid_payload"),
    ],
)
def test_bad_refunds_get_the_error_shape_and_store_nothing(
    client: FlaskClient, db: Database, order_id: str, body: dict[str, Any], status: int, code: str
) -> None:
    opened(client, "A-1")
    opened(client, "A-2")
    mark_paid(db, "shop", "A-1")
    answer = client.post(
        f"/api/v1/stores/shop/orders/{order_id}/refunds", json=body, headers=bearer()
    )
    assert answer.status_code == status and answer.json is not None
    assert answer.json["error"]["code"] == code
    assert refunds_of(db) == []
    unauthorized = client.post("/api/v1/stores/shop/orders/A-1/refunds", json=body)
    assert unauthorized.status_code == 401


def test_operator_api_lists_shows_prices_and_cancels(client: FlaskClient, db: Database) -> None:
    opened(client, "A-1")
    mark_paid(db, "shop", "A-1")
    path = "/api/v1/stores/shop/orders/A-1/refunds"
    refund = client.post(path, json={"id": "r-1", "amount": "5.00"}, headers=bearer()).json
    assert refund is not None
    assert client.get("/api/v1/admin/refunds").status_code == 401
    assert (
        client.get("/api/v1/admin/refunds", headers={"Authorization": "Bearer no"}).status_code
        == 401
    )
    listed = client.get("/api/v1/admin/refunds?store=shop&order_id=A-1", headers=ADMIN).json
    assert listed is not None and [r["id"] for r in listed["refunds"]] == [refund["id"]]
    none = client.get("/api/v1/admin/refunds?status=refunded", headers=ADMIN).json
    assert none == {"refunds": []}
    bad = client.get("/api/v1/admin/refunds?status=paid", headers=ADMIN)
    assert bad.status_code == 400 and bad.json is not None
    assert bad.json["error"]["code"] == "invalid_payload"
    assert client.get("/api/v1/admin/refunds/rfd_nope", headers=ADMIN).status_code == 404
    shown = client.get(f"/api/v1/admin/refunds/{refund['id']}", headers=ADMIN).json
    assert shown == refund
    target = f"/api/v1/admin/refunds/{refund['id']}"
    for body in (
        {},
        {"amount_base_units": "1.5"},
        {"amount_base_units": "0"},
        {"amount_base_units": -3},
        {"amount_base_units": True},
    ):
        answer = client.patch(target, json=body, headers=ADMIN)
        assert answer.status_code == 400, body
    assert client.get(target, headers=ADMIN).json == refund  # nothing changed
    changed = client.patch(target, json={"amount_base_units": 4_900_000}, headers=ADMIN).json
    assert changed is not None
    assert (changed["amount_base_units"], changed["amount_source"]) == ("4900000", "merchant")
    cancelled = client.post(f"{target}/cancel", headers=ADMIN)
    assert cancelled.status_code == 200 and cancelled.json is not None
    assert cancelled.json["status"] == "cancelled" and cancelled.json["cancelled_at"]
    late = client.patch(target, json={"amount_base_units": "1"}, headers=ADMIN)
    assert late.status_code == 409
    form = client.post(
        refund["address_url"].removeprefix("http://127.0.0.1:8080"),
        json={"address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"},
    )
    assert form.status_code == 409 and form.json is not None
    assert form.json["error"]["code"] == "refund_conflict"


# ------------------------------------------------------------------ Shopify refunds/create


@pytest.fixture
def shopify() -> Iterator[ShopifyStore]:
    with ShopifyStore(webhook_delay=0.05) as store:
        yield store


def test_shopify_refund_webhook_opens_a_request_and_notes_the_link(
    shopify: ShopifyStore, db: Database
) -> None:
    data = config_dict(
        store_url=shopify.base_url,
        platform="shopify",
        webhook_secret=shopify.client_secret,
        api_token=shopify.access_token,
        payment_methods=[METHOD],
    )
    settings = parse_settings(data, env={})
    fixture = json.loads((SAMPLES / "shopify_rest_order_fixture.json").read_text())["order"]
    fixture.update(financial_status="pending", gateway=METHOD, payment_gateway_names=[METHOD])
    with AppServer(relay_app(settings, db)) as server:
        for topic in ("orders/create", "refunds/create"):
            shopify.add_webhook(topic, f"{server.url}/hooks/shop")
        order = shopify.create_order(fixture)
        order_id = str(order["id"])
        wait_for("the invoice", lambda: _has_invoice(db, order_id))
        mark_paid(db, "shop", order_id)
        shopify.update_order(order_id, financial_status="paid")
        refund = shopify.refund_order(order_id, "100.00", note="Damaged box")
        (opened_refund,) = wait_for("the refund request", lambda: refunds_of(db))
        assert (opened_refund.external_id, opened_refund.amount) == (
            str(refund["id"]),
            Decimal("100.00"),
        )
        assert (opened_refund.reason, opened_refund.amount_base_units) == (
            "Damaged box",
            100 * 10**6,
        )
        # Shopify retries carry the same refund: nothing new; a restock without money: nothing
        body = json.dumps(refund).encode()
        headers = {
            "X-Shopify-Topic": "refunds/create",
            "X-Shopify-Hmac-Sha256": webhook_hmac(shopify.client_secret, body),
        }
        assert requests.post(f"{server.url}/hooks/shop", data=body, headers=headers, timeout=5).ok
        restock = dict(refund, id=refund["id"] + 100, transactions=[])
        raw = json.dumps(restock).encode()
        headers["X-Shopify-Hmac-Sha256"] = webhook_hmac(shopify.client_secret, raw)
        assert requests.post(f"{server.url}/hooks/shop", data=raw, headers=headers, timeout=5).ok
        assert len(refunds_of(db)) == 1
        runtime = Runtime(settings, db)
        try:
            while deliver_due(db, settings, runtime.sender):
                pass
        finally:
            runtime.close()
        note = shopify.get_order(order_id)["note"] or ""
        assert f"Refund {refund['id']} of 100.00 USD (100 USDC on dev)" in note
        assert "/refund/" in note  # staff send the customer the address link


def _has_invoice(db: Database, order_id: str) -> bool:
    with db.transaction() as session:
        return find_invoice(session, "shop", order_id) is not None
