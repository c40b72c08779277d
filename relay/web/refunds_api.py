"""Operator API for refunds (bearer admin token): list, show, cancel, choose the amount.

| route | what |
|---|---|
| `GET /api/v1/admin/refunds?store=&order_id=&invoice_id=&status=` | newest first, at most 100 |
| `GET /api/v1/admin/refunds/<id>` | one refund: amounts, the customer's address, `uri` (EIP-681) |
| `POST /api/v1/admin/refunds/<id>/cancel` | withdraw a request not paid yet (409 otherwise) |
| `PATCH /api/v1/admin/refunds/<id>` | `{"amount_base_units": "<integer>"}`: pay another amount |

Refund JSON: relay/serialize.py `refund_json`. Errors: `{"error": {"code", "message"}}`, 401 without
the token, 404 unknown refund, 409 a refund past the step, 400 a bad body.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from relay.errors import NotFound, PayloadError
from relay.models import Refund, utcnow
from relay.refund_lifecycle import RefundStatus
from relay.refunds import cancel_refund, load_refund, set_refund_amount
from relay.serialize import refund_json
from relay.web.auth import ADMIN_PAGE_LIMIT, require_admin
from relay.web.context import db_of, settings_of

bp = Blueprint("refunds_api", __name__)


@bp.get("/api/v1/admin/refunds")
def list_refunds() -> Any:
    """List refunds, newest first, by store, order id, invoice id or status."""
    require_admin()
    settings = settings_of(current_app)
    query = select(Refund).order_by(Refund.created_at.desc(), Refund.id).limit(ADMIN_PAGE_LIMIT)
    if store := request.args.get("store"):
        query = query.where(Refund.store == store)
    if order_id := request.args.get("order_id"):
        query = query.where(Refund.order_id == order_id)
    if invoice_id := request.args.get("invoice_id"):
        query = query.where(Refund.invoice_id == invoice_id)
    if status := request.args.get("status"):
        if status not in {s.value for s in RefundStatus}:
            raise PayloadError(f"unknown refund status {status!r}")
        query = query.where(Refund.status == status)
    with db_of(current_app).transaction() as session:
        refunds = [
            refund_json(r, settings.relay.public_url, settings.relay.secret_key)
            for r in session.scalars(query)
        ]
    return jsonify({"refunds": refunds})


@bp.get("/api/v1/admin/refunds/<refund_id>")
def show_refund(refund_id: str) -> Any:
    """Show one refund."""
    require_admin()
    settings = settings_of(current_app)
    with db_of(current_app).transaction() as session:
        refund = load_refund(session, refund_id)
        if refund is None:
            raise NotFound("no such refund")
        return jsonify(refund_json(refund, settings.relay.public_url, settings.relay.secret_key))


@bp.post("/api/v1/admin/refunds/<refund_id>/cancel")
def cancel(refund_id: str) -> Any:
    """Cancel a refund request that was not paid; 409 once a transfer was seen."""
    require_admin()
    settings = settings_of(current_app)
    refund = cancel_refund(db_of(current_app), settings, refund_id, utcnow())
    return jsonify(refund_json(refund, settings.relay.public_url, settings.relay.secret_key))


@bp.patch("/api/v1/admin/refunds/<refund_id>")
def change_amount(refund_id: str) -> Any:
    """Set the amount to pay, in base units of the refund's asset (a merchant-chosen amount)."""
    require_admin()
    body = request.get_json(silent=True)
    raw = body.get("amount_base_units") if isinstance(body, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, str | int) or not str(raw).isdigit():
        raise PayloadError('send {"amount_base_units": "<a positive integer>"}')
    if int(raw) <= 0:
        raise PayloadError("amount_base_units must be positive")
    settings = settings_of(current_app)
    refund = set_refund_amount(db_of(current_app), settings, refund_id, int(raw), utcnow())
    return jsonify(refund_json(refund, settings.relay.public_url, settings.relay.secret_key))
