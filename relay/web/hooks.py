"""`POST /hooks/<store>`: storefront webhooks in, read as the store's platform spec says.

Answers WooCommerce's creation ping with exactly 200, ignored orders with 200 (so the platform
does not retry them), a bad signature with 401. For `none-refetch` platforms the order named in
the (untrusted) webhook is read back from the store's API before anything is opened.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from flask import Blueprint, current_app, jsonify, request

from relay.errors import NotFound
from relay.inbound import read_order, read_webhook
from relay.invoices import open_invoice
from relay.models import utcnow
from relay.specs import load_spec
from relay.storefront import StorefrontClient
from relay.web.app import db_of, settings_of

log = logging.getLogger(__name__)
bp = Blueprint("hooks", __name__)


@bp.post("/hooks/<store_name>")
def receive(store_name: str) -> Any:
    """Verify and handle one storefront webhook; 200 for pings and ignored orders."""
    settings = settings_of(current_app)
    store = settings.stores.get(store_name)
    if store is None:
        raise NotFound(f"no store named {store_name!r}")
    spec = load_spec(store)
    body = request.get_data(cache=False)
    inbound = read_webhook(store, spec, dict(request.headers), body)
    if inbound.kind == "ping":
        return jsonify({"ok": True, "ping": True}), 200
    if inbound.kind == "refetch":
        with requests.Session() as http:
            client = StorefrontClient(store, spec, http, settings.relay.delivery_timeout_seconds)
            raw = client.read_order(inbound.order_id)
        inbound = read_order(store, spec, raw, inbound.topic)
    if inbound.kind == "ignored" or inbound.order is None:
        log.info("store %s: ignored webhook: %s", store_name, inbound.reason)
        return jsonify({"ok": True, "ignored": inbound.reason}), 200
    invoice, created = open_invoice(db_of(current_app), settings, inbound.order, utcnow())
    if created:
        log.info("store %s: order %s → invoice %s", store_name, invoice.order_id, invoice.id)
    return jsonify({"ok": True, "invoice_id": invoice.id, "created": created}), 200
