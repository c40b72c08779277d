"""Read a storefront webhook: answer pings, verify the signature on raw bytes, extract the order.

Pure: takes headers and the raw body, returns what to do. Per WooCommerce class-wc-webhook.php the
creation ping is an unsigned form body `webhook_id=N` that must get exactly 200; deliveries carry
`X-WC-Webhook-Signature` = base64(HMAC-SHA256(secret, raw body)).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from relay.config import StoreSettings
from relay.errors import PayloadError
from relay.invoices import OrderData
from relay.signing import verify_hmac_sha256_base64
from relay.specs import PlatformSpec, read_path

_PING = re.compile(rb"^webhook_id=\d+$")
IGNORED_STATUSES = frozenset({"checkout-draft", "draft", "auto-draft", "trash"})


@dataclass(frozen=True)
class Inbound:
    """What a webhook asks of the relay: kind "ping", "ignored" (with reason) or "order"."""

    kind: str
    reason: str = ""
    order: OrderData | None = None
    topic: str = ""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def read_webhook(
    store: StoreSettings, spec: PlatformSpec, headers: Mapping[str, str], body: bytes
) -> Inbound:
    """Classify one webhook request for a store.

    raises SignatureError (nothing may be stored) when the signature is missing or wrong;
    raises PayloadError when a signed body is not the platform's JSON order.
    """
    signature = _header(headers, spec.signature_header)
    if spec.ping == "form:webhook_id" and signature is None and _PING.match(body.strip()):
        return Inbound("ping")
    verify_hmac_sha256_base64(store.webhook_secrets, body, signature)
    topic = _header(headers, spec.topic_header) or ""
    if topic not in spec.topics:
        return Inbound("ignored", f"topic {topic!r} is not handled", topic=topic)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise PayloadError("webhook body is not a JSON object")
    return read_order(store, spec, payload, topic)


def read_order(
    store: StoreSettings, spec: PlatformSpec, payload: Mapping[str, Any], topic: str = ""
) -> Inbound:
    """Extract the order from a platform payload, or say why it is not the relay's to handle."""
    fields = spec.fields

    def text(name: str) -> str:
        path = fields.get(name)
        value = read_path(payload, path) if path else None
        return "" if value is None else str(value)

    order_id = text("order_id")
    if not order_id:
        raise PayloadError(f"order has no {fields['order_id']!r} field")
    status = text("status")
    method = text("payment_method")
    if status in IGNORED_STATUSES:
        return Inbound("ignored", f"order status {status!r}", topic=topic)
    if method not in store.payment_methods:
        return Inbound("ignored", f"payment method {method!r} is not handled", topic=topic)
    if status not in spec.open_statuses:
        return Inbound("ignored", f"order status {status!r} does not open an invoice", topic=topic)
    try:
        total = Decimal(text("total"))
    except InvalidOperation:
        raise PayloadError(f"order total {text('total')!r} is not a number") from None
    order = OrderData(
        store=store.name,
        order_id=order_id,
        currency=text("currency").upper(),
        total=total,
        order_number=text("order_number"),
        order_key=text("order_key"),
        customer_email=text("customer_email"),
    )
    return Inbound("order", order=order, topic=topic)
