"""Work out where an invoice stands for its customer: the payment page's screen and status JSON.

`progress_of` maps the invoice's status, exception and payments to a Screen (the template's
section) with the amounts behind it; `status_json` is what `GET /pay/<token>/status.json`
answers, so the live page (static/pay.js) knows when to fetch itself again (`page_key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from relay.lifecycle import InvoiceStatus
from relay.models import Invoice, PaymentOption, PaymentState
from relay.pricing import from_base_units
from relay.serialize import decimal_text, invoice_json
from relay.settings import Settings


class Screen(StrEnum):
    """What the customer sees; the value names the template's section."""

    WAITING = "waiting"
    PARTIAL = "partial"
    CONFIRMING = "confirming"
    PAID = "paid"
    EXPIRED = "expired"
    INVALID = "invalid"


SCREENS = {
    InvoiceStatus.PROCESSING: Screen.CONFIRMING,
    InvoiceStatus.SETTLED: Screen.PAID,
    InvoiceStatus.EXPIRED: Screen.EXPIRED,
    InvoiceStatus.INVALID: Screen.INVALID,
}


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


def option_key(option: PaymentOption) -> str:
    """Return an option's "chain:ASSET" key (as `Invoice.paid_option` and `?option=` name it)."""
    return f"{option.chain}:{option.asset}"


def progress_of(invoice: Invoice, settings: Settings, now: datetime) -> Progress:
    """Work out the customer's screen from the invoice's status, exception and payments."""
    fixed = next((o for o in invoice.options if option_key(o) == invoice.paid_option), None)
    counted = [p for p in invoice.payments if p.state == PaymentState.COUNTED]
    chain = settings.chains.get(fixed.chain) if fixed else None
    required = None if chain is None or chain.finality else chain.confirmations
    status = InvoiceStatus(invoice.status)
    paid = invoice.paid_base_units if fixed else 0
    if status != InvoiceStatus.NEW:
        screen = SCREENS[status]
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
    """Return the store's own page for the order, or None: the `return_url` the invoice was
    opened with (checked to be on the store's host), else WooCommerce's order-received page."""
    if invoice.return_url:
        return invoice.return_url
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
        paid_amount=decimal_text(from_base_units(state.paid, decimals)) if state.option else None,
        remaining_amount=(
            decimal_text(from_base_units(state.remaining, decimals)) if state.option else None
        ),
        seconds_left=max(int((invoice.expires_at - now).total_seconds()), 0),
        order_url=order_page_url(invoice, settings),
    )
    return data
