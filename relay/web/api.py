"""JSON API: public invoice reads; the operator's invoice search, deliveries and redelivery."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from relay.delivery import redeliver
from relay.errors import NotFound, PayloadError
from relay.invoices import load_invoice
from relay.lifecycle import InvoiceStatus
from relay.models import Delivery, Invoice, utcnow
from relay.serialize import delivery_json, invoice_json
from relay.web.auth import ADMIN_PAGE_LIMIT, require_admin
from relay.web.context import db_of, settings_of

bp = Blueprint("api", __name__)
# the largest row id a database integer holds: a larger one is no delivery (404, not a 500)
MAX_ROW_ID = 2**63 - 1


@bp.get("/api/v1/invoices/<invoice_id>")
def get_invoice(invoice_id: str) -> Any:
    """Return one invoice's JSON; anyone with the id may read it."""
    settings = settings_of(current_app)
    with db_of(current_app).transaction() as session:
        invoice = load_invoice(session, invoice_id)
        if invoice is None:
            raise NotFound("no such invoice")
        return jsonify(invoice_json(invoice, settings.relay.public_url, settings.relay.secret_key))


@bp.get("/api/v1/admin/invoices")
def search_invoices() -> Any:
    """Search invoices by store, order id and status (bearer admin token)."""
    require_admin()
    settings = settings_of(current_app)
    query = select(Invoice).order_by(Invoice.created_at.desc()).limit(ADMIN_PAGE_LIMIT)
    if store := request.args.get("store"):
        query = query.where(Invoice.store == store)
    if order_id := request.args.get("order_id"):
        query = query.where(Invoice.order_id == order_id)
    if status := request.args.get("status"):
        if status not in {s.value for s in InvoiceStatus}:
            raise PayloadError(f"unknown status {status!r}")
        query = query.where(Invoice.status == status)
    query = query.options(selectinload(Invoice.options), selectinload(Invoice.payments))
    with db_of(current_app).transaction() as session:
        invoices = [
            invoice_json(i, settings.relay.public_url, settings.relay.secret_key)
            for i in session.scalars(query)
        ]
    return jsonify({"invoices": invoices})


@bp.get("/api/v1/admin/deliveries")
def list_deliveries() -> Any:
    """List deliveries, newest first, by status or invoice (bearer admin token)."""
    require_admin()
    query = select(Delivery).order_by(Delivery.id.desc()).limit(ADMIN_PAGE_LIMIT)
    if status := request.args.get("status"):
        query = query.where(Delivery.status == status)
    if invoice_id := request.args.get("invoice_id"):
        query = query.where(Delivery.invoice_id == invoice_id)
    with db_of(current_app).transaction() as session:
        return jsonify({"deliveries": [delivery_json(d) for d in session.scalars(query)]})


@bp.get(f"/api/v1/admin/deliveries/<int(max={MAX_ROW_ID}):delivery_id>")
def show_delivery(delivery_id: int) -> Any:
    """Show one delivery with its attempts (bearer admin token)."""
    require_admin()
    with db_of(current_app).transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            raise NotFound("no such delivery")
        return jsonify(delivery_json(delivery, attempts=True))


@bp.post(f"/api/v1/admin/deliveries/<int(max={MAX_ROW_ID}):delivery_id>/redeliver")
def redeliver_delivery(delivery_id: int) -> Any:
    """Queue a delivery to be sent again now (bearer admin token)."""
    require_admin()
    delivery = redeliver(db_of(current_app), delivery_id, utcnow())
    if delivery is None:
        raise NotFound("no such delivery")
    return jsonify(delivery_json(delivery)), 202
