"""`GET /pay/<token>`: the customer's payment page; `GET /pay/<token>/status.json` keeps it live.

The page is rendered on the server, so without JavaScript a reload shows the current state;
`?option=<chain>:<ASSET>` picks the payment option and `?lang=de` the language (otherwise
Accept-Language). static/pay.js polls status.json and, when its `page_key` differs from the
page's, fetches the page again and swaps its `<main>`; it also runs the countdown and the copy
buttons. A tampered, foreign or unknown token is the same plain 404: invoices cannot be enumerated.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlparse

import segno
from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup

from relay.eip681 import payment_uri
from relay.errors import NotFound
from relay.invoices import load_invoice
from relay.lifecycle import InvoiceStatus
from relay.links import invoice_id_from_token
from relay.models import Invoice, Payment, PaymentOption, utcnow
from relay.pricing import from_base_units
from relay.serialize import invoice_json, iso
from relay.settings import Settings
from relay.web.app import db_of, settings_of
from relay.web.i18n import LANGUAGES, STRINGS, Translator, choose_language, countdown

bp = Blueprint(
    "pay",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/pay/static",
)

POLL_SECONDS = 3
# Names customers know; a chain not listed shows its config name.
CHAIN_NAMES = {
    1: "Ethereum",
    10: "OP Mainnet",
    56: "BNB Smart Chain",
    137: "Polygon",
    8453: "Base",
    42161: "Arbitrum One",
    43114: "Avalanche C-Chain",
    11155111: "Sepolia",
}
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


class Screen(StrEnum):
    """What the customer sees; the value names the template's section."""

    WAITING = "waiting"
    PARTIAL = "partial"
    CONFIRMING = "confirming"
    PAID = "paid"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True)
class Progress:
    """Where an invoice stands for its customer; amounts in base units of `option`'s asset."""

    screen: Screen
    option: PaymentOption | None  # the option the first payment fixed, if any
    paid: int
    due: int
    confirmations: int  # the fewest among the counted payments
    required: int | None  # confirmations the chain needs; None when it waits for finality
    poll: bool  # the page may still change

    @property
    def remaining(self) -> int:
        """Base units still to send (0 when paid in full)."""
        return max(self.due - self.paid, 0)

    @property
    def key(self) -> str:
        """Return a string that changes whenever the page would look different."""
        return f"{self.screen}:{self.paid}:{self.confirmations}:{self.poll}"


def progress_of(invoice: Invoice, settings: Settings, now: datetime) -> Progress:
    """Work out the customer's screen from the invoice's status, exception and payments."""
    fixed = next((o for o in invoice.options if _key(o) == invoice.paid_option), None)
    counted = [p for p in invoice.payments if p.state == "counted"]
    chain = settings.chains.get(fixed.chain) if fixed else None
    required = None if chain is None or chain.finality else chain.confirmations
    status = InvoiceStatus(invoice.status)
    paid = invoice.paid_base_units if fixed else 0
    screens = {
        InvoiceStatus.PROCESSING: Screen.CONFIRMING,
        InvoiceStatus.SETTLED: Screen.PAID,
        InvoiceStatus.EXPIRED: Screen.EXPIRED,
        InvoiceStatus.INVALID: Screen.INVALID,
    }
    if status != InvoiceStatus.NEW:
        screen = screens[status]
    elif now >= invoice.expires_at:
        screen = Screen.EXPIRED  # the sweeper has not caught up yet; don't invite a payment
    else:
        screen = Screen.PARTIAL if paid else Screen.WAITING
    watching = status == InvoiceStatus.EXPIRED and now < invoice.monitoring_ends_at
    return Progress(
        screen=screen,
        option=fixed,
        paid=paid,
        due=fixed.amount_base_units if fixed else 0,
        confirmations=min((p.confirmations for p in counted), default=0),
        required=required,
        poll=status in (InvoiceStatus.NEW, InvoiceStatus.PROCESSING) or watching,
    )


def order_page_url(invoice: Invoice, settings: Settings) -> str | None:
    """Return the store's own page for the order (WooCommerce's order-received page), or None."""
    store = settings.stores.get(invoice.store)
    if store is None or store.platform != "woocommerce":
        return None
    url = f"{store.base_url.rstrip('/')}/checkout/order-received/{quote(invoice.order_id)}/"
    return f"{url}?key={quote(invoice.order_key)}" if invoice.order_key else url


def status_json(invoice: Invoice, settings: Settings, now: datetime) -> dict[str, Any]:
    """Return the invoice JSON plus what the live page needs.

    Adds per option `required_confirmations` (None when the chain waits for finality); and
    `screen`, `page_key`, `poll`, `confirmations`, `required_confirmations`, `paid_amount`,
    `remaining_amount` (decimal strings in the fixed option's asset, None before any payment),
    `seconds_left` and `order_url`.
    """
    data = invoice_json(invoice, settings.relay.public_url, settings.relay.secret_key)
    for option in data["options"]:
        chain = settings.chains.get(option["chain"])
        option["required_confirmations"] = (
            None if chain is None or chain.finality else chain.confirmations
        )
    state = progress_of(invoice, settings, now)
    decimals = state.option.decimals if state.option else 0
    data.update(
        screen=state.screen.value,
        page_key=state.key,
        poll=state.poll,
        confirmations=state.confirmations,
        required_confirmations=state.required,
        paid_amount=str(from_base_units(state.paid, decimals)) if state.option else None,
        remaining_amount=str(from_base_units(state.remaining, decimals)) if state.option else None,
        seconds_left=max(int((invoice.expires_at - now).total_seconds()), 0),
        order_url=order_page_url(invoice, settings),
    )
    return data


def qr_svg(data: str, title: str) -> Markup:
    """Return an inline, size-free SVG QR code of `data` (segno), titled for screen readers."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(
        buffer, kind="svg", xmldecl=False, svgns=True, omitsize=True, title=title, svgclass="qr"
    )
    return Markup(buffer.getvalue().decode())


@bp.get("/pay/<token>")
def payment_page(token: str) -> Any:
    """Show the invoice behind a signed token; a tampered or foreign token is a plain 404."""
    settings = settings_of(current_app)
    t = Translator(choose_language(request.accept_languages, request.args.get("lang")))
    now = utcnow()
    with db_of(current_app).transaction() as session:
        invoice_id = invoice_id_from_token(settings.relay.secret_key, token)
        invoice = load_invoice(session, invoice_id) if invoice_id else None
        if invoice is None:
            html = render_template("pay_not_found.html", t=t)
            return html, 404, PAGE_HEADERS
        context = _page_context(invoice, settings, now, t, token)
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


def _key(option: PaymentOption) -> str:
    return f"{option.chain}:{option.asset}"


def _chain_name(option: PaymentOption) -> str:
    return CHAIN_NAMES.get(option.chain_id, option.chain.replace("_", " ").title())


def _amount(base_units: int, option: PaymentOption) -> str:
    return f"{from_base_units(base_units, option.decimals)} {option.asset}"


def _decimals(invoice: Invoice, settings: Settings, payment: Payment) -> int:
    """Return the decimals of a payment's asset: its option's, else the chain's config."""
    for option in invoice.options:
        if (option.chain, option.asset) == (payment.chain, payment.asset):
            return option.decimals
    chain = settings.chains.get(payment.chain)
    asset = chain.assets.get(payment.asset) if chain else None
    return asset.decimals if asset else 0


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _page_context(
    invoice: Invoice, settings: Settings, now: datetime, t: Translator, token: str
) -> dict[str, Any]:
    state = progress_of(invoice, settings, now)
    lang = request.args.get("lang") if request.args.get("lang") in STRINGS else None
    choices = [state.option] if state.option else list(invoice.options)
    selected = next((o for o in choices if _key(o) == request.args.get("option")), choices[0])
    amount = state.remaining if state.screen == Screen.PARTIAL else selected.amount_base_units
    uri = payment_uri(
        chain_id=selected.chain_id, to=selected.address, amount=amount, token=selected.contract
    )
    decimal_amount = str(from_base_units(amount, selected.decimals))
    chain_name = _chain_name(selected)
    store = settings.stores.get(invoice.store)
    order = invoice.order_number or invoice.order_id
    payments = [p for p in invoice.payments if p.state != "orphaned"]
    return {
        "t": t,
        "languages": [
            (code, STRINGS[code]["language_name"], _self_url(token, selected, code))
            for code in LANGUAGES
        ],
        "order": order,
        "store_host": urlparse(store.base_url).netloc if store else invoice.store,
        "store_url": store.base_url if store else "",
        "total": t.fiat(invoice.amount, invoice.currency),
        "state": state,
        "screen": state.screen.value,
        "exception": invoice.exception,
        "options": [
            {
                "key": _key(o),
                "label": t("option", asset=o.asset, chain=_chain_name(o)),
                "href": _self_url(token, o, lang),
                "selected": o is selected,
            }
            for o in choices
        ],
        "selected": selected,
        "chain_name": chain_name,
        "amount": decimal_amount,
        "uri": uri,
        "qr": qr_svg(
            uri, t("qr_title", amount=decimal_amount, asset=selected.asset, chain=chain_name)
        )
        if state.screen in (Screen.WAITING, Screen.PARTIAL)
        else "",
        "countdown": countdown((invoice.expires_at - now).total_seconds()),
        "expires_at": iso(invoice.expires_at),
        "expires": invoice.expires_at.timestamp(),
        "pay_by": _time(invoice.expires_at),
        "watch_until": _time(invoice.monitoring_ends_at),
        "now": now.timestamp(),
        "paid": _amount(state.paid, state.option) if state.option else "",
        "due": _amount(state.due, state.option) if state.option else "",
        "remaining": _amount(state.remaining, state.option) if state.option else "",
        "payments": [
            {
                "tx_hash": p.tx_hash,
                "amount": str(
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
    params: dict[str, Any] = {"option": _key(option)} | ({"lang": lang} if lang else {})
    return url_for("pay.payment_page", token=token, **params)
