"""Reading webhooks by spec (pure): verification schemes, topics, fields, conditions, refetch."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest

from relay.errors import PayloadError, SignatureError
from relay.inbound import read_order, read_webhook
from relay.settings import StoreSettings
from relay.signing import sign_standard_webhook, verify_standard_webhook
from relay.specs import load_spec, parse_spec
from tests.conftest import SAMPLES, make_settings

VECTOR = json.loads((SAMPLES / "standard_webhooks_test_vector.json").read_text())
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
NOW = 1_900_000_000


def store(**extra: Any) -> StoreSettings:
    return make_settings(**extra).stores["shop"]


def test_standard_webhooks_test_vector() -> None:
    body = VECTOR["payload"].encode()
    expected = VECTOR["expected_signature_header"]
    assert sign_standard_webhook(VECTOR["secret"], VECTOR["msg_id"], VECTOR["timestamp"], body) == (
        expected
    )
    moment = VECTOR["timestamp"]
    args = (VECTOR["msg_id"], str(moment))
    verify_standard_webhook([VECTOR["secret"]], *args, expected, body, moment + 299)
    # rotation: several signatures in the header, several secrets on our side
    verify_standard_webhook(
        [SECRET, VECTOR["secret"]], *args, f"v1,bm9wZQ== {expected}", body, moment
    )
    with pytest.raises(SignatureError, match="5 minutes"):
        verify_standard_webhook([VECTOR["secret"]], *args, expected, body, moment + 301)
    with pytest.raises(SignatureError, match="does not match"):
        verify_standard_webhook([VECTOR["secret"]], *args, expected, body + b" ", moment)
    with pytest.raises(SignatureError, match="does not match"):
        verify_standard_webhook(
            [VECTOR["secret"]], *args, expected.replace("v1,", "v1a,"), body, moment
        )
    with pytest.raises(SignatureError, match="missing"):
        verify_standard_webhook([VECTOR["secret"]], None, str(moment), expected, body, moment)
    with pytest.raises(SignatureError, match="does not match"):
        verify_standard_webhook(["not base64 !"], *args, expected, body, moment)


def relay_event(data: dict[str, Any], kind: str = "order.created") -> tuple[dict[str, str], bytes]:
    body = json.dumps({"type": kind, "data": data}).encode()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": sign_standard_webhook(SECRET, "msg_1", NOW, body),
    }
    return headers, body


def test_relay_protocol_event_is_read_from_its_data() -> None:
    shop = store(platform="relay", webhook_secret=SECRET)
    spec = load_spec("relay")
    order = {"order_id": 17, "currency": "eur", "amount": "9.90", "customer_email": "a@b.c"}
    headers, body = relay_event(order)
    inbound = read_webhook(shop, spec, headers, body, now=NOW)
    assert inbound.kind == "order" and inbound.topic == "order.created"
    assert inbound.order is not None
    assert (inbound.order.order_id, inbound.order.currency, inbound.order.total) == (
        "17",
        "EUR",
        Decimal("9.90"),
    )
    assert inbound.order.customer_email == "a@b.c"
    headers, body = relay_event(order, kind="refund.created")
    assert read_webhook(shop, spec, headers, body, now=NOW).kind == "ignored"
    with pytest.raises(SignatureError):
        read_webhook(shop, spec, headers, body, now=NOW + 3600)
    headers, body = relay_event({"currency": "EUR"})
    with pytest.raises(PayloadError, match="order_id"):
        read_webhook(shop, spec, headers, body, now=NOW)


def test_woocommerce_ping_needs_no_signature(wc_deliveries: dict[str, Any]) -> None:
    ping = wc_deliveries["requests"][0]
    inbound = read_webhook(
        store(), load_spec("woocommerce"), ping["headers"], ping["body"].encode()
    )
    assert inbound.kind == "ping"


def test_shopify_fields_lists_and_conditions() -> None:
    fixture = json.loads((SAMPLES / "shopify_rest_order_fixture.json").read_text())["order"]
    spec = load_spec("shopify")
    shop = store(platform="shopify", payment_methods=["Pay with crypto"], api_token="shpat_x")
    order = dict(
        fixture, financial_status="pending", payment_gateway_names=["gift", "Pay with crypto"]
    )
    found = read_order(shop, spec, order)
    assert found.order is not None
    assert (found.order.order_id, found.order.order_number, found.order.order_key) == (
        "450789469",
        "#1001",
        "b1946ac92492d2347c6235b4d2611184",
    )
    assert (found.order.total, found.order.customer_email) == (
        Decimal("409.94"),
        "bob.norman@hostmail.com",
    )
    assert (
        read_order(shop, spec, fixture).reason
        == "order status 'authorized' does not open an invoice"
    )
    no_method = dict(order, payment_gateway_names=[])
    assert "payment method []" in read_order(shop, spec, no_method).reason
    cancelled = dict(order, cancelled_at="2008-01-10T11:00:00-05:00")
    assert (
        read_order(shop, spec, cancelled).reason == "condition 'cancelled_at == null' does not hold"
    )
    with pytest.raises(PayloadError, match="not a number"):
        read_order(shop, spec, dict(order, total_price="free"))


def test_none_refetch_trusts_only_the_order_id() -> None:
    data: dict[str, dict[str, Any]] = {
        "platform": {"name": "thin"},
        "inbound": {
            "verification": "none-refetch",
            "refetch_id": "entityId",
            "topic_header": "X-Event",
            "topics": ["order.created"],
            "fields": {"order_id": "id", "currency": "cur", "total": "sum"},
        },
        "outbound": {"auth": "bearer", "read_order": {"method": "GET", "path": "/o/{order_id}"}},
    }
    spec = parse_spec(data, "thin.toml")
    body = b'{"entityId": 42, "data": {"total": "0.01"}}'
    inbound = read_webhook(store(), spec, {"X-Event": "order.created"}, body)
    assert (inbound.kind, inbound.order_id, inbound.order) == ("refetch", "42", None)
    assert read_webhook(store(), spec, {"X-Event": "order.deleted"}, body).kind == "ignored"
    with pytest.raises(PayloadError):
        read_webhook(store(), spec, {"X-Event": "order.created"}, b'{"data": {}}')
    del data["outbound"]["read_order"]
    with pytest.raises(Exception, match=r"outbound.read_order: required by inbound verification"):
        parse_spec(data, "thin.toml")
