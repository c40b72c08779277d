"""`POST /hooks/<store>`: the ping, raw-byte signatures, which orders open invoices, idempotency."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from relay.config import parse_settings
from relay.db import Database
from relay.signing import hmac_sha256_base64
from tests.conftest import ADMIN_TOKEN, WEBHOOK_SECRET, config_dict
from tests.support import relay_app


@pytest.fixture
def client(db: Database) -> FlaskClient:
    data = config_dict()
    data["stores"]["sample"] = dict(data["stores"]["shop"], webhook_secret="whsec-loopback")
    return relay_app(parse_settings(data, env={}), db).test_client()


def order_body(**fields: Any) -> bytes:
    order = {
        "id": 42,
        "number": "42",
        "status": "pending",
        "currency": "USD",
        "total": "44.98",
        "payment_method": "cheque",
        "billing": {"email": "ada@example.com"},
        "order_key": "wc_order_x",
    }
    order.update(fields)
    return json.dumps(order, separators=(",", ":")).replace("/", "\\/").encode()


def post(
    client: FlaskClient,
    body: bytes,
    topic: str = "order.created",
    secret: str = WEBHOOK_SECRET,
    store: str = "shop",
) -> Any:
    headers = {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": hmac_sha256_base64(secret, body),
        "Content-Type": "application/json",
    }
    return client.post(f"/hooks/{store}", data=body, headers=headers)


def invoices(client: FlaskClient, **query: str) -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/admin/invoices",
        query_string=query,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json["invoices"]  # type: ignore[index]
    return result


def test_real_ping_gets_exactly_200(client: FlaskClient, wc_deliveries: dict[str, Any]) -> None:
    ping = wc_deliveries["requests"][0]
    response = client.post("/hooks/sample", data=ping["body"].encode(), headers=ping["headers"])
    assert response.status_code == 200
    assert invoices(client) == []


def test_real_delivery_verifies_byte_exact(
    client: FlaskClient, wc_deliveries: dict[str, Any]
) -> None:
    real = wc_deliveries["requests"][1]
    headers = {k: v for k, v in real["headers"].items() if k not in ("Host", "Content-Length")}
    body = real["body"].encode()
    response = client.post("/hooks/sample", data=body, headers=headers)
    # verified (a bad signature answers 401), then ignored: the captured order has no payment method
    assert response.status_code == 200
    assert "payment method ''" in response.json["ignored"]  # type: ignore[index]
    tampered = body.replace(b'"total":"44.98"', b'"total":"0.01"')
    assert client.post("/hooks/sample", data=tampered, headers=headers).status_code == 401


def test_bad_signature_is_401_and_stores_nothing(client: FlaskClient) -> None:
    response = post(client, order_body(), secret="wrong")
    assert response.status_code == 401
    assert response.json == {
        "error": {"code": "invalid_signature", "message": "webhook signature does not match"}
    }
    unsigned = client.post(
        "/hooks/shop", data=order_body(), headers={"X-WC-Webhook-Topic": "order.created"}
    )
    assert unsigned.status_code == 401
    assert invoices(client) == []


def test_unknown_store_is_404(client: FlaskClient) -> None:
    assert post(client, order_body(), store="nope").status_code == 404


def test_order_opens_one_invoice_however_often_it_arrives(client: FlaskClient) -> None:
    first = post(client, order_body(), topic="order.updated")  # reordered: the update came first
    assert first.status_code == 200
    assert first.json == {"ok": True, "queued": True, "order_id": "42"}
    for topic in ("order.created", "order.updated", "order.created"):
        again = post(client, order_body(status="on-hold"), topic=topic)
        assert again.status_code == 200 and again.json["queued"] is True
    (invoice,) = invoices(client, store="shop", order_id="42")
    assert invoice["amount"] == "44.98" and invoice["status"] == "new"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"payment_method": "bacs"}, "payment method 'bacs'"),
        ({"status": "processing"}, "order status 'processing'"),
        ({"status": "checkout-draft"}, "order status 'checkout-draft'"),
    ],
)
def test_orders_not_for_the_relay_are_ignored_with_200(
    client: FlaskClient, fields: dict[str, str], reason: str
) -> None:
    response = post(client, order_body(**fields))
    assert response.status_code == 200
    assert reason in response.json["ignored"]
    assert invoices(client) == []


def test_other_topics_are_ignored(client: FlaskClient) -> None:
    response = post(client, b'{"id": 5}', topic="product.created")
    assert response.status_code == 200 and "topic" in response.json["ignored"]


def test_signed_garbage_is_400_not_a_traceback(client: FlaskClient) -> None:
    response = post(client, b"not json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_payload"
    zero = post(client, order_body(total="0.00"))
    assert zero.status_code == 422 and invoices(client) == []


def test_admin_needs_the_bearer_token(client: FlaskClient) -> None:
    assert client.get("/api/v1/admin/invoices").status_code == 401
    wrong = client.get("/api/v1/admin/invoices", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "unauthorized"  # type: ignore[index]


def test_invoice_json_has_the_design_fields(client: FlaskClient) -> None:
    assert post(client, order_body()).status_code == 200
    invoice_id = invoices(client, order_id="42")[0]["id"]
    data = client.get(f"/api/v1/invoices/{invoice_id}").json
    assert data is not None
    for key in (
        "id",
        "store",
        "order_id",
        "status",
        "exception",
        "currency",
        "amount",
        "created_at",
        "expires_at",
        "payment_url",
        "options",
        "payments",
    ):
        assert key in data
    option = data["options"][0]
    assert set(option) >= {
        "chain",
        "chain_id",
        "asset",
        "address",
        "amount",
        "amount_base_units",
        "uri",
    }
    assert (option["amount"], option["amount_base_units"]) == ("44.98", "44980000")
    assert "xpub" not in json.dumps(data) and "customer" not in json.dumps(data)
    assert client.get("/api/v1/invoices/inv_nope").status_code == 404
    page = client.get(data["payment_url"].removeprefix("http://127.0.0.1:8080"))
    assert page.status_code == 200 and option["address"].encode() in page.data
    assert client.get("/pay/forged-token").status_code == 404
