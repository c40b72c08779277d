"""`POST /hooks/<store>`: storefront webhooks in, read as the store's platform spec says.

Answers WooCommerce's creation ping with exactly 200, ignored orders with 200 (so the platform
does not retry them), a bad signature with 401. An order the relay should invoice is written to
the inbox (relay/inbox.py) and answered 200 with `"queued": true` at once; the inbox job opens
its invoice, and the payment link reaches the order through the storefront delivery. For
`none-refetch` platforms the order named in the (untrusted) webhook is read back from the store's
API before anything is queued. Refunds a webhook reports (WooCommerce `refunds[]`, Shopify
`refunds/create`) open refund requests (relay/refunds.py), once per storefront refund id; refunds
of orders the relay did not get paid are logged and answered 200 as well.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

from flask import Blueprint, current_app, jsonify, request

from relay.errors import NotFound, RefundConflict
from relay.inbound import Inbound, read_order, read_webhook
from relay.invoices import check_order
from relay.models import utcnow
from relay.refunds import request_refunds
from relay.specs import load_spec
from relay.web.context import db_of, inbox_of, runtime_of, settings_of, store_of

log = logging.getLogger(__name__)
bp = Blueprint("hooks", __name__)


@bp.post("/hooks/<store_name>")
def receive(store_name: str) -> Any:
    """Verify and handle one storefront webhook; 200 for pings and ignored orders."""
    store = store_of(current_app, store_name)
    spec = load_spec(store)
    body = request.get_data(cache=False)
    # werkzeug's Headers: a case-insensitive mapping in all but name (no copy per request)
    headers = cast(Mapping[str, str], request.headers)
    inbound = read_webhook(store, spec, headers, body)
    if inbound.kind == "ping":
        return jsonify({"ok": True, "ping": True}), 200
    refunds = _open_refunds(store_name, inbound) if inbound.refunds else {}
    if inbound.kind == "refunds":
        return jsonify({"ok": True, **refunds}), 200
    if inbound.kind == "refetch":
        raw = runtime_of(current_app).storefronts.client(store_name).read_order(inbound.order_id)
        inbound = read_order(store, spec, raw, inbound.topic)
    if inbound.kind == "ignored" or inbound.order is None:
        log.info("store %s: ignored webhook: %s", store_name, inbound.reason)
        return jsonify({"ok": True, "ignored": inbound.reason, **refunds}), 200
    check_order(inbound.order)  # 422 now, not a failed inbox row later
    inbox_of(current_app).accept(inbound.order, inbound.topic, utcnow())
    return jsonify({"ok": True, "queued": True, "order_id": inbound.order.order_id, **refunds}), 200


def _open_refunds(store_name: str, inbound: Inbound) -> dict[str, Any]:
    """Open the refund requests a webhook reports; return `{"refunds": [ids]}` or why not."""
    try:
        opened = request_refunds(
            db_of(current_app),
            settings_of(current_app),
            store_name,
            inbound.order_id,
            inbound.refunds,
            utcnow(),
        )
    except (NotFound, RefundConflict) as exc:
        log.info("store %s order %s: refunds not handled: %s", store_name, inbound.order_id, exc)
        return {"refunds_ignored": exc.message}
    return {"refunds": [refund.id for refund, _ in opened]}
