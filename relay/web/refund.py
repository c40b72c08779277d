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

from flask import Blueprint, Flask, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup, escape

from relay.errors import (
    AddressError,
    ChainError,
    NotFound,
    PayloadError,
    RefundConflict,
    RelayError,
)
from relay.links import refund_id_from_token
from relay.models import Refund, utcnow
from relay.pricing import from_base_units
from relay.refund_lifecycle import RefundStatus
from relay.refunds import CodeReader, load_refund, submit_address
from relay.web import languages
from relay.web.context import db_of, runtime_of, settings_of
from relay.web.display import chain_name
from relay.web.languages import gettext as _

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
    "Vary": "Accept-Language",
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
    view = customer_view(refund)
    context = view | {
        "asset_amount": languages.number(
            from_base_units(refund.amount_base_units, refund.decimals)
        ),
        "fiat_amount": languages.fiat(refund.amount, refund.currency),
        "address_html": _code(refund.to_address, "address"),
        "tx_html": _code(refund.tx_hash),
        "chain_name": chain_name(refund.chain_id, refund.chain),
        "store_host": urlparse(store.base_url).netloc if store else refund.store,
        "languages": _language_links(),
        "error": None,
        "error_code": None,
        "typed": "",
    }
    context |= form
    return render_template("refund.html", **context), status, PAGE_HEADERS


def _not_found() -> Any:
    html = render_template("refund_not_found.html")
    return html, 404, PAGE_HEADERS


def _language_links() -> list[dict[str, str | bool]]:
    args = request.view_args or {}
    return languages.language_links(
        lambda lang: url_for("refund.refund_page", token=args.get("token", ""), lang=lang)
    )


def _code(value: str | None, css: str = "") -> Markup:
    kind = f' class="{css}"' if css else ""
    return Markup(f"<code{kind}>{escape(value or '')}</code>")


def _error_text(exc: RelayError, refund: Refund, typed: str) -> str:
    """Return the refusal in the page's language (the JSON answer keeps the English message)."""
    asset, chain = refund.asset, chain_name(refund.chain_id, refund.chain)
    if exc.code == "own_address" and refund.contract and typed.lower() == refund.contract.lower():
        return _(
            "This is the %(asset)s token contract itself: tokens sent to it are lost.", asset=asset
        )
    if isinstance(exc, RefundConflict):
        return {
            RefundStatus.AWAITING_PAYMENT.value: _("The refund address was already given."),
            RefundStatus.CONFIRMING.value: _("The refund has been sent and is being confirmed."),
            RefundStatus.REFUNDED.value: _("The refund has been sent."),
            RefundStatus.CANCELLED.value: _("This refund request was cancelled by the store."),
        }.get(refund.status, exc.message)
    texts = {
        "not_an_address": _(
            "This is not an Ethereum address: it must be 0x followed by 40 hexadecimal digits."
        ),
        "bad_checksum": _(
            "The address's upper and lower case letters do not match its EIP-55 checksum: it "
            "was probably mistyped. Copy it again from your wallet."
        ),
        "zero_address": _("The zero address burns whatever is sent to it."),
        "own_address": _("This is one of the store's own deposit addresses."),
        "contract_address": _(
            "This address is a smart contract, not a wallet account. Only confirm it if you are "
            "sure it can receive %(asset)s on %(chain)s (a multisig or smart wallet you own); an "
            "exchange or app contract may lose the refund.",
            asset=asset,
            chain=chain,
        ),
        "chain_unavailable": _("The address cannot be checked right now; please try again."),
    }
    return texts.get(exc.code, exc.message)


@bp.get("/refund/<token>")
def refund_page(token: str) -> Any:
    """Show a refund and, while it waits for one, the address form; 404 for a bad token."""
    refund = _load(token)
    if refund is None:
        return _not_found()
    return _page(refund)


@bp.post("/refund/<token>")
def give_address(token: str) -> Any:
    """Take the customer's refund address; JSON in → JSON out, a form → the page again."""
    wants_json = request.is_json
    refund = _load(token)
    if refund is None:
        if wants_json:
            raise NotFound("no such refund")
        return _not_found()
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
        typed = typed.strip()
        error = _error_text(exc, refund, typed)
        return _page(refund, exc.http_status, error=error, error_code=exc.code, typed=typed)
    if wants_json:
        return jsonify(customer_view(updated))
    return _page(updated)
