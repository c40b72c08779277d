"""`GET /pay/<token>`: the customer's payment page; `GET /pay/<token>/status.json` keeps it live.

The page is rendered on the server, so without JavaScript a reload shows the current state;
`?option=<chain>:<ASSET>` picks the payment option and `?lang=<tag>` the language (otherwise
Accept-Language; relay/web/languages.py). static/pay.js polls status.json and, when its
`page_key` differs from the page's, fetches the page again and swaps its `<main>`; it also runs
the countdown and the copy buttons. static/wallet.js shows "Pay with browser wallet" where the
browser has an EIP-1193 wallet (EIP-6963 discovery, else window.ethereum) and sends exactly the
shown option's transfer from it; the page renders what it needs in data- attributes (the chain
as display.wallet_chain gives it, deposit address, token contract, amount in base units).
A tampered, foreign or unknown token is the same plain 404: invoices cannot be enumerated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, current_app, jsonify, render_template, request, url_for

from relay.eip681 import payment_uri
from relay.errors import NotFound
from relay.invoices import load_invoice
from relay.links import invoice_id_from_token
from relay.models import Invoice, Payment, PaymentOption, PaymentState, utcnow
from relay.pricing import from_base_units
from relay.serialize import iso
from relay.settings import Settings
from relay.web import languages
from relay.web.context import db_of, settings_of
from relay.web.display import chain_name, countdown, qr_svg, wallet_chain
from relay.web.languages import gettext as _
from relay.web.progress import Screen, option_key, order_page_url, progress_of, status_json

bp = Blueprint(
    "pay",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/pay/static",
)

POLL_SECONDS = 3
# The token in the URL is the key to the page: never send it on in a Referer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Vary": "Accept-Language",
}


@bp.get("/pay/<token>")
def payment_page(token: str) -> Any:
    """Show the invoice behind a signed token; a tampered or foreign token is a plain 404."""
    settings = settings_of(current_app)
    now = utcnow()
    with db_of(current_app).transaction() as session:
        invoice_id = invoice_id_from_token(settings.relay.secret_key, token)
        invoice = load_invoice(session, invoice_id) if invoice_id else None
        if invoice is None:
            html = render_template("pay_not_found.html")
            return html, 404, PAGE_HEADERS
        context = _page_context(invoice, settings, now, token)
    return render_template("pay.html", **context), 200, PAGE_HEADERS


@bp.get("/pay/<token>/status.json")
def page_status(token: str) -> Any:
    """Return `status_json` for the invoice behind a signed token (404 JSON when unknown)."""
    settings = settings_of(current_app)
    invoice_id = invoice_id_from_token(settings.relay.secret_key, token)
    with db_of(current_app).transaction() as session:
        invoice = load_invoice(session, invoice_id) if invoice_id else None
        if invoice is None:
            raise NotFound("no such payment page")
        data = status_json(invoice, settings, utcnow())
    return jsonify(data), 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _decimals(invoice: Invoice, settings: Settings, payment: Payment) -> int:
    """Return the decimals of a payment's asset: its option's, else the chain's config."""
    for option in invoice.options:
        if (option.chain, option.asset) == (payment.chain, payment.asset):
            return option.decimals
    chain = settings.chains.get(payment.chain)
    asset = chain.assets.get(payment.asset) if chain else None
    return asset.decimals if asset else 0


def _amount(base_units: int, option: PaymentOption) -> str:
    """Write base units of an option's asset for the locale with its symbol: "1.234,5 USDC"."""
    return f"{languages.number(from_base_units(base_units, option.decimals))} {option.asset}"


def _page_context(
    invoice: Invoice, settings: Settings, now: datetime, token: str
) -> dict[str, Any]:
    state = progress_of(invoice, settings, now)
    lang = languages.chosen_language()
    choices = [state.option] if state.option else list(invoice.options)
    selected = next((o for o in choices if option_key(o) == request.args.get("option")), choices[0])
    amount = state.remaining if state.screen == Screen.PARTIAL else selected.amount_base_units
    uri = payment_uri(
        chain_id=selected.chain_id, to=selected.address, amount=amount, token=selected.contract
    )
    # the amount to send stays as wallets and exchanges take it (dot, no grouping) in every language
    decimal_amount = str(from_base_units(amount, selected.decimals))
    name = chain_name(selected.chain_id, selected.chain)
    store = settings.stores.get(invoice.store)
    order = invoice.order_number or invoice.order_id
    payments = [p for p in invoice.payments if p.state != PaymentState.ORPHANED]
    return {
        "languages": languages.language_links(lambda tag: _self_url(token, selected, tag)),
        "order": order,
        "store_host": urlparse(store.base_url).netloc if store else invoice.store,
        "store_url": store.base_url if store else "",
        "total": languages.fiat(invoice.amount, invoice.currency),
        "state": state,
        "screen": state.screen.value,
        "exception": invoice.exception,
        "options": [
            {
                "key": option_key(o),
                "label": _(
                    "%(asset)s on %(chain)s", asset=o.asset, chain=chain_name(o.chain_id, o.chain)
                ),
                "href": _self_url(token, o, lang and languages.tag(lang)),
                "selected": o is selected,
            }
            for o in choices
        ],
        "selected": selected,
        "chain_name": name,
        "amount": decimal_amount,
        "amount_base_units": str(amount),
        "wallet": wallet_chain(selected.chain_id, settings.chains.get(selected.chain)),
        "uri": uri,
        "qr": qr_svg(
            uri,
            _(
                "QR code: pay %(amount)s on %(chain)s",
                amount=_amount(amount, selected),
                chain=name,
            ),
        )
        if state.screen in (Screen.WAITING, Screen.PARTIAL)
        else "",
        "countdown": countdown((invoice.expires_at - now).total_seconds()),
        "expires_at": iso(invoice.expires_at),
        "expires": invoice.expires_at.timestamp(),
        "pay_by": languages.moment(invoice.expires_at),
        "watch_until": languages.moment(invoice.monitoring_ends_at),
        "now": now.timestamp(),
        "paid": _amount(state.paid, state.option) if state.option else "",
        "due": _amount(state.due, state.option) if state.option else "",
        "remaining": _amount(state.remaining, state.option) if state.option else "",
        "payments": [
            {
                "tx_hash": p.tx_hash,
                "amount": languages.number(
                    from_base_units(p.amount_base_units, _decimals(invoice, settings, p))
                ),
                "asset": p.asset,
                "confirmations": p.confirmations,
                "state": p.state,
            }
            for p in payments
        ],
        "order_url": order_page_url(invoice, settings),
        "status_url": url_for("pay.page_status", token=token),
        "page_key": state.key,
        "poll_seconds": POLL_SECONDS,
    }


def _self_url(token: str, option: PaymentOption, lang: str | None) -> str:
    params: dict[str, Any] = {"option": option_key(option)} | ({"lang": lang} if lang else {})
    return url_for("pay.payment_page", token=token, **params)
