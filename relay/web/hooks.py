"""`POST /hooks/<store>`: storefront webhooks in; answers WooCommerce's ping with exactly 200."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from relay.errors import NotFound
from relay.inbound import read_webhook
from relay.invoices import open_invoice
from relay.models import utcnow
from relay.specs import load_spec
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
    body = request.get_data(cache=False)
    inbound = read_webhook(store, load_spec(store.platform), dict(request.headers), body)
    if inbound.kind == "ping":
        return jsonify({"ok": True, "ping": True}), 200
    if inbound.kind == "ignored" or inbound.order is None:
        log.info("store %s: ignored webhook: %s", store_name, inbound.reason)
        return jsonify({"ok": True, "ignored": inbound.reason}), 200
    invoice, created = open_invoice(db_of(current_app), settings, inbound.order, utcnow())
    if created:
        log.info("store %s: order %s → invoice %s", store_name, invoice.order_id, invoice.id)
    return jsonify({"ok": True, "invoice_id": invoice.id, "created": created}), 200
