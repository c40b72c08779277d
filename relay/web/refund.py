"""`GET/POST /refund/<token>`: where the customer says which address gets a refund.

The token is an itsdangerous-signed refund id (relay/links.py), sent to the customer in a note on
the order. The page shows the refund (asset, amount, chain) and, while no address was given, a
form; it works without JavaScript. A POST takes the form fields `address` and `confirm_contract`
(any of "1", "true", "on", "yes"), or the same as JSON (`{"address", "confirm_contract": true}`);
a JSON request gets JSON back: 200 and the customer's view of the refund, or 4xx
`{"error": {"code", "message"}}`. Refused addresses (relay/refund_lifecycle.py): not an address,
a wrong EIP-55 checksum, the zero address, the store's own deposit address or the token contract
(422), a contract address until the customer confirms it (422 `contract_address`); the address
once given (409). Nothing is stored on a refusal. A tampered or foreign token is a plain 404.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from relay.errors import AddressError, ChainError, NotFound, PayloadError, RefundConflict
from relay.links import refund_id_from_token
from relay.models import Refund, utcnow
from relay.pricing import from_base_units
from relay.refunds import CodeReader, load_refund, submit_address
from relay.web.context import db_of, runtime_of, settings_of
from relay.web.display import chain_name

bp = Blueprint("refund", __name__, template_folder="templates")

TRUE = frozenset({"1", "true", "on", "yes"})
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}


def code_reader(app: Flask) -> CodeReader:
    """Return the app's reader of account code (tests may put their own in app.extensions)."""
    reader: CodeReader | None = app.extensions.get("relay.code_reader")
    return reader or runtime_of(app).read_code


def customer_view(refund: Refund) -> dict[str, Any]:
    """Return what the customer may see of a refund: no merchant data, no other orders."""
    return {
        "status": refund.status,
        "order_number": refund.invoice.order_number or refund.order_id,
        "amount": str(refund.amount),
        "currency": refund.currency,
        "chain": refund.chain,
        "chain_id": refund.chain_id,
        "asset": refund.asset,
        "asset_amount": str(from_base_units(refund.amount_base_units, refund.decimals)),
        "address": refund.to_address,
        "tx_hash": refund.tx_hash,
    }


def _load(token: str) -> Refund | None:
    refund_id = refund_id_from_token(settings_of(current_app).relay.secret_key, token)
    if refund_id is None:
        return None
    with db_of(current_app).transaction() as session:
        return load_refund(session, refund_id)


def _page(refund: Refund, status: int = 200, **form: Any) -> Any:
    settings = settings_of(current_app)
    store = settings.stores.get(refund.store)
    context = customer_view(refund) | {
        "chain_name": chain_name(refund.chain_id, refund.chain),
        "store_host": urlparse(store.base_url).netloc if store else refund.store,
        "error": None,
        "error_code": None,
        "typed": "",
    }
    context |= form
    return render_template("refund.html", **context), status, PAGE_HEADERS


@bp.get("/refund/<token>")
def refund_page(token: str) -> Any:
    """Show a refund and, while it waits for one, the address form; 404 for a bad token."""
    refund = _load(token)
    if refund is None:
        return render_template("refund_not_found.html"), 404, PAGE_HEADERS
    return _page(refund)


@bp.post("/refund/<token>")
def give_address(token: str) -> Any:
    """Take the customer's refund address; JSON in → JSON out, a form → the page again."""
    wants_json = request.is_json
    refund = _load(token)
    if refund is None:
        if wants_json:
            raise NotFound("no such refund")
        return render_template("refund_not_found.html"), 404, PAGE_HEADERS
    if wants_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise PayloadError("send a JSON object with an `address`")
        typed = body.get("address")
        confirm = body.get("confirm_contract") is True
    else:
        typed = request.form.get("address")
        confirm = (request.form.get("confirm_contract") or "").lower() in TRUE
    if not isinstance(typed, str):
        typed = ""
    try:
        updated = submit_address(
            db_of(current_app),
            settings_of(current_app),
            refund.id,
            typed,
            confirm,
            code_reader(current_app),
            utcnow(),
        )
    except (AddressError, RefundConflict, ChainError) as exc:
        if wants_json:
            raise
        return _page(
            refund, exc.http_status, error=exc.message, error_code=exc.code, typed=typed.strip()
        )
    if wants_json:
        return jsonify(customer_view(updated))
    return _page(updated)
