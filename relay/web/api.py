"""JSON API: public invoice reads, operator search and redelivery, health and readiness."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from relay.delivery import redeliver
from relay.errors import AuthError, NotFound, PayloadError
from relay.invoices import load_invoice
from relay.lifecycle import InvoiceStatus
from relay.models import Delivery, Invoice, utcnow
from relay.serialize import invoice_json, iso
from relay.web.app import db_of, settings_of

bp = Blueprint("api", __name__)
ADMIN_PAGE_LIMIT = 100


def _require_admin() -> None:
    settings = settings_of(current_app)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = settings.relay.admin_token.encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise AuthError("admin endpoints need 'Authorization: Bearer <admin_token>'")


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
    _require_admin()
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


def delivery_json(delivery: Delivery, attempts: bool = False) -> dict[str, Any]:
    """Return a delivery (and optionally its attempt log) as JSON-ready data."""
    data: dict[str, Any] = {
        "id": delivery.id,
        "event": delivery.event,
        "event_id": delivery.event_id,
        "invoice_id": delivery.invoice_id,
        "store": delivery.store,
        "order_id": delivery.order_id,
        "target": delivery.target,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "completed_at": iso(delivery.completed_at),
    }
    if attempts:
        data["attempt_log"] = [
            {
                "at": iso(a.at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "response_excerpt": a.response_excerpt,
                "error": a.error,
            }
            for a in delivery.attempt_log
        ]
    return data


@bp.get("/api/v1/admin/deliveries")
def list_deliveries() -> Any:
    """List deliveries, newest first, by status or invoice (bearer admin token)."""
    _require_admin()
    query = select(Delivery).order_by(Delivery.id.desc()).limit(ADMIN_PAGE_LIMIT)
    if status := request.args.get("status"):
        query = query.where(Delivery.status == status)
    if invoice_id := request.args.get("invoice_id"):
        query = query.where(Delivery.invoice_id == invoice_id)
    with db_of(current_app).transaction() as session:
        return jsonify({"deliveries": [delivery_json(d) for d in session.scalars(query)]})


@bp.get("/api/v1/admin/deliveries/<int:delivery_id>")
def show_delivery(delivery_id: int) -> Any:
    """Show one delivery with its attempts (bearer admin token)."""
    _require_admin()
    with db_of(current_app).transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            raise NotFound("no such delivery")
        return jsonify(delivery_json(delivery, attempts=True))


@bp.post("/api/v1/admin/deliveries/<int:delivery_id>/redeliver")
def redeliver_delivery(delivery_id: int) -> Any:
    """Queue a delivery to be sent again now (bearer admin token)."""
    _require_admin()
    delivery = redeliver(db_of(current_app), delivery_id, utcnow())
    if delivery is None:
        raise NotFound("no such delivery")
    return jsonify(delivery_json(delivery)), 202
