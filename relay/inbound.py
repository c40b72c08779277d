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

Refunds the storefront recorded (the spec's `[inbound.refunds]`: WooCommerce `refunds[]` in
`order.updated`, Shopify `refunds/create`, the relay protocol's `refunds`) are read from every
topic that carries them, beside whatever the order itself asks for.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from relay.errors import InvoiceError, PayloadError
from relay.links import return_url_problem
from relay.records import OrderData, RefundRequest
from relay.settings import StoreSettings
from relay.signing import verify_hmac_sha256_base64, verify_standard_webhook
from relay.specs import PlatformSpec, as_text, read_path

_PING = re.compile(rb"^webhook_id=\d+$")


@dataclass(frozen=True)
class Inbound:
    """What a webhook asks of the relay.

    kind: "ping", "ignored" (with `reason`), "order" (with `order`), "refetch" (with
    `order_id`: read that order from the store's API, then call read_order on it) or "refunds"
    (a topic that only reports refunds). `refunds` (with `order_id`) lists the refunds any
    order webhook reported, whatever its kind.
    """

    kind: str
    reason: str = ""
    order: OrderData | None = None
    topic: str = ""
    order_id: str = ""
    refunds: tuple[RefundRequest, ...] = ()


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Return a header's value by case-insensitive name, or None (a werkzeug `Headers` answers
    `get` case-insensitively at once; a plain dict is searched)."""
    value = headers.get(name)
    if value is not None:
        return value
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
    handled = (*spec.topics, *spec.refund_topics)
    topic = (header(headers, spec.topic_header) or "") if spec.topic_header else ""
    if spec.topic_header and spec.topics and topic not in handled:
        return Inbound("ignored", f"topic {topic!r} is not handled", topic=topic)
    payload = parse_json(body)
    if spec.topic_path:
        topic = as_text(read_path(payload, spec.topic_path))
        if spec.topics and topic not in handled:
            return Inbound("ignored", f"topic {topic!r} is not handled", topic=topic)
    if spec.verification == "none-refetch":
        order_id = as_text(read_path(payload, spec.refetch_id))
        if not order_id:
            raise PayloadError(f"webhook has no order id at {spec.refetch_id!r}")
        return Inbound("refetch", topic=topic, order_id=order_id)
    order = read_path(payload, spec.order_path) if spec.order_path else payload
    if not isinstance(order, dict):
        raise PayloadError(f"webhook has no order object at {spec.order_path or 'its top'!r}")
    refunds: tuple[RefundRequest, ...] = ()
    refund_order_id = ""
    if spec.refunds is not None and (topic in spec.refund_topics or not spec.topics):
        refund_order_id, refunds = read_refunds(spec, order)
    if spec.topics and topic not in spec.topics:  # a topic that only reports refunds
        return Inbound("refunds", topic=topic, order_id=refund_order_id, refunds=refunds)
    inbound = read_order(store, spec, order, topic)
    if not refunds:
        return inbound
    return replace(inbound, order_id=refund_order_id, refunds=refunds)


def read_refunds(
    spec: PlatformSpec, document: Mapping[str, Any]
) -> tuple[str, tuple[RefundRequest, ...]]:
    """Return (order id, refunds) a webhook's order document reports, by `[inbound.refunds]`.

    An amount path may yield a decimal or a list of decimals (summed exactly; Shopify's refund
    transactions); amounts are positive Decimals in the order's currency, never floats. Entries
    with a zero amount (a restock without money back) are left out. raises PayloadError when the
    order id or a refund id is missing, or an amount is not a number.
    """
    if spec.refunds is None:
        return "", ()
    rules = spec.refunds
    order_id = as_text(read_path(document, rules.order_id or spec.fields["order_id"]))
    entries = read_path(document, rules.list)
    if not isinstance(entries, list) or not entries:
        return order_id, ()
    if not order_id:
        raise PayloadError("a refund webhook has no order id")
    found = []
    for entry in entries:
        external_id = as_text(read_path(entry, rules.id))
        if not external_id:
            raise PayloadError(f"a refund has no id at {rules.id!r}")
        value = read_path(entry, rules.amount)
        parts = value if isinstance(value, list) else [value]
        try:
            amount = abs(sum((Decimal(as_text(part)) for part in parts), Decimal(0)))
        except InvalidOperation:
            raise PayloadError(f"refund {external_id}: amount {value!r} is not a number") from None
        if not amount.is_finite():
            raise PayloadError(f"refund {external_id}: amount {value!r} is not a number")
        if amount == 0:
            continue
        reason = as_text(read_path(entry, rules.reason)) if rules.reason else ""
        found.append(RefundRequest(external_id, amount, reason))
    return order_id, tuple(found)


def parse_json(body: bytes) -> dict[str, Any]:
    """Return a request body as a JSON object; raise PayloadError otherwise."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("body is not JSON") from None
    if not isinstance(payload, dict):
        raise PayloadError("body is not a JSON object")
    try:  # a lone surrogate ("\\ud800") is valid JSON but no text: it cannot be stored
        json.dumps(payload, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise PayloadError("body has a string that is not valid Unicode") from None
    return payload


def read_order(
    store: StoreSettings, spec: PlatformSpec, payload: Mapping[str, Any], topic: str = ""
) -> Inbound:
    """Extract the order from a platform's order JSON, or say why it is not the relay's to handle.

    `payload` is the raw order (a webhook's order, or one read back with StorefrontClient).
    An order is the relay's when its status is one of the spec's open statuses, its payment
    method (a text, or a list of them) is one of the store's `payment_methods`, and every spec
    condition holds. raises PayloadError when it has no id or its total is not a number,
    InvoiceError (422) when its `return_url` is not on the store's host (relay/links.py).
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
    return_url = text("return_url")
    problem = return_url_problem(store.base_url, return_url) if return_url else None
    if problem is not None:
        raise InvoiceError(problem)
    order = OrderData(
        store=store.name,
        order_id=order_id,
        currency=text("currency").upper(),
        total=total,
        order_number=text("order_number"),
        order_key=text("order_key"),
        customer_email=text("customer_email"),
        subscription_id=text("subscription_id"),
        return_url=return_url,
    )
    return Inbound("order", order=order, topic=topic)
