"""Read a storefront webhook as its platform spec says: ping, signature on raw bytes, the order.

Pure: takes headers and the raw body, returns what to do. Verification schemes (named in the
spec's `inbound.verification`):

* `hmac-sha256-base64`: base64(HMAC-SHA256(secret, raw body)) in the spec's signature header
  (WooCommerce class-wc-webhook.php, Shopify hmac-validator.ts); WooCommerce's creation ping, an
  unsigned form body `webhook_id=N`, must get exactly 200.
* `standard-webhooks`: `webhook-id`/`webhook-timestamp`/`webhook-signature` (v1), whsec_ secrets.
* `none-refetch`: for platforms whose webhooks are unsigned or sign only metadata: nothing in the
  body is trusted but the order id, and the order is read back from the store's API (the caller
  does that, see relay/web/hooks.py).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from relay.config import StoreSettings
from relay.errors import PayloadError
from relay.invoices import OrderData
from relay.signing import verify_hmac_sha256_base64, verify_standard_webhook
from relay.specs import PlatformSpec, as_text, read_path

_PING = re.compile(rb"^webhook_id=\d+$")


@dataclass(frozen=True)
class Inbound:
    """What a webhook asks of the relay.

    kind: "ping", "ignored" (with `reason`), "order" (with `order`) or "refetch" (with
    `order_id`: read that order from the store's API, then call read_order on it).
    """

    kind: str
    reason: str = ""
    order: OrderData | None = None
    topic: str = ""
    order_id: str = ""


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Return a header's value by case-insensitive name, or None."""
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def verify(
    store: StoreSettings,
    spec: PlatformSpec,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> None:
    """Check a request's signature by the spec's scheme; raise SignatureError when it fails."""
    if spec.verification == "hmac-sha256-base64":
        signature = header(headers, spec.signature_header)
        verify_hmac_sha256_base64(store.webhook_secrets, body, signature)
    elif spec.verification == "standard-webhooks":
        verify_standard_webhook(
            store.webhook_secrets,
            header(headers, "webhook-id"),
            header(headers, "webhook-timestamp"),
            header(headers, "webhook-signature"),
            body,
            time.time() if now is None else now,
        )


def read_webhook(
    store: StoreSettings,
    spec: PlatformSpec,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> Inbound:
    """Classify one webhook request for a store (`now`: unix seconds, for timestamped schemes).

    raises SignatureError (nothing may be stored) when the signature is missing or wrong;
    raises PayloadError when a verified body is not the platform's JSON.
    """
    signature = header(headers, spec.signature_header) if spec.signature_header else None
    if spec.ping == "form:webhook_id" and signature is None and _PING.match(body.strip()):
        return Inbound("ping")
    verify(store, spec, headers, body, now)
    topic = (header(headers, spec.topic_header) or "") if spec.topic_header else ""
    if spec.topic_header and spec.topics and topic not in spec.topics:
        return Inbound("ignored", f"topic {topic!r} is not handled", topic=topic)
    payload = parse_json(body)
    if spec.topic_path:
        topic = as_text(read_path(payload, spec.topic_path))
        if spec.topics and topic not in spec.topics:
            return Inbound("ignored", f"topic {topic!r} is not handled", topic=topic)
    if spec.verification == "none-refetch":
        order_id = as_text(read_path(payload, spec.refetch_id))
        if not order_id:
            raise PayloadError(f"webhook has no order id at {spec.refetch_id!r}")
        return Inbound("refetch", topic=topic, order_id=order_id)
    order = read_path(payload, spec.order_path) if spec.order_path else payload
    if not isinstance(order, dict):
        raise PayloadError(f"webhook has no order object at {spec.order_path or 'its top'!r}")
    return read_order(store, spec, order, topic)


def parse_json(body: bytes) -> dict[str, Any]:
    """Return a request body as a JSON object; raise PayloadError otherwise."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("body is not JSON") from None
    if not isinstance(payload, dict):
        raise PayloadError("body is not a JSON object")
    return payload


def read_order(
    store: StoreSettings, spec: PlatformSpec, payload: Mapping[str, Any], topic: str = ""
) -> Inbound:
    """Extract the order from a platform's order JSON, or say why it is not the relay's to handle.

    `payload` is the raw order (a webhook's order, or one read back with StorefrontClient).
    An order is the relay's when its status is one of the spec's open statuses, its payment
    method (a text, or a list of them) is one of the store's `payment_methods`, and every spec
    condition holds. raises PayloadError when it has no id or its total is not a number.
    """
    fields = spec.fields

    def text(name: str) -> str:
        path = fields.get(name)
        return as_text(read_path(payload, path)) if path else ""

    order_id = text("order_id")
    if not order_id:
        raise PayloadError(f"order has no {fields['order_id']!r} field")
    if "status" in fields and spec.open_statuses:
        status = text("status")
        if status not in spec.open_statuses:
            reason = f"order status {status!r} does not open an invoice"
            return Inbound("ignored", reason, topic=topic)
    if "payment_method" in fields:
        method = read_path(payload, fields["payment_method"])
        methods = [as_text(m) for m in method] if isinstance(method, list) else [as_text(method)]
        if not any(m in store.payment_methods for m in methods):
            shown = methods[0] if len(methods) == 1 else methods
            return Inbound("ignored", f"payment method {shown!r} is not handled", topic=topic)
    for condition in spec.conditions:
        if not read_path(payload, condition):
            return Inbound("ignored", f"condition {condition!r} does not hold", topic=topic)
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
