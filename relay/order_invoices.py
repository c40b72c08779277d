"""The invoices of one storefront order: at most one open, newest first, the others closed.

DESIGN.md "One open invoice per order": while the order's invoice is open (`new`, `processing`)
or paid (`settled`), opening again gives it back; once it has expired unpaid (or is `invalid`),
opening again makes a new invoice (fresh address, fresh rate), and the old one stays watched.
When one of the order's invoices is paid, every other one still open or watched is *closed*: a
`new` one expires at once, and each gets `closed_by` (the paying invoice's id) and a monitoring
window that ends now, so a payment to it afterwards is recorded and reported (as
`after_monitoring`) but never counted. The database holds the rule too: the partial unique
index `uq_invoice_open_order` (relay/models.py) allows one invoice per order in an open or paid
status, so concurrent opens make one invoice; callers flush a closing before the paying
invoice's own status change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from relay.lifecycle import InvoiceException, InvoiceStatus
from relay.models import Invoice

# the statuses `uq_invoice_open_order` allows once per order (relay/models.py OPEN_OR_PAID)
HELD = (InvoiceStatus.NEW.value, InvoiceStatus.PROCESSING.value, InvoiceStatus.SETTLED.value)
PAID = (InvoiceStatus.PROCESSING, InvoiceStatus.SETTLED)


def order_invoices(session: Session, store: str, order_id: str) -> list[Invoice]:
    """Return the order's invoices newest first, with options and payments loaded."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.store == store, Invoice.order_id == order_id)
            .order_by(Invoice.created_at.desc(), Invoice.id.desc())
            .options(selectinload(Invoice.options), selectinload(Invoice.payments))
        )
    )


def current_invoice(invoices: Sequence[Invoice]) -> Invoice | None:
    """Return the order's current invoice among `invoices` (newest first): the one open or paid,
    else the newest; None when there are none."""
    held = next((i for i in invoices if i.status in HELD), None)
    return held if held is not None else (invoices[0] if invoices else None)


def reusable_invoice(invoices: Sequence[Invoice]) -> Invoice | None:
    """Return the invoice opening the order again gives back, or None when a new one is due.

    Given back: the one open or paid; or the newest when it expired partly paid (the customer
    settles the rest with the merchant, not through a second invoice for the whole amount).
    """
    held = next((i for i in invoices if i.status in HELD), None)
    if held is not None or not invoices:
        return held
    newest = invoices[0]
    partly_paid = newest.exception == InvoiceException.PAID_PARTIAL.value
    return newest if newest.status == InvoiceStatus.EXPIRED.value and partly_paid else None


def close_others(session: Session, paying: Invoice, now: datetime) -> list[Invoice]:
    """Close the order's other invoices still open or watched, because `paying` pays the order;
    return the ones that expired now (their `invoice.expired` is the caller's to queue, after the
    paying invoice's own events). The changes are flushed, so the paying invoice may then take an
    open status under `uq_invoice_open_order`."""
    expired = []
    others = session.scalars(
        select(Invoice)
        .where(
            Invoice.store == paying.store,
            Invoice.order_id == paying.order_id,
            Invoice.id != paying.id,
            Invoice.closed_by == "",
            Invoice.status.in_((InvoiceStatus.NEW.value, InvoiceStatus.EXPIRED.value)),
        )
        .options(selectinload(Invoice.options), selectinload(Invoice.payments))
    )
    for other in others:
        other.closed_by = paying.id
        other.expires_at = min(other.expires_at, now)
        other.monitoring_ends_at = min(other.monitoring_ends_at, now)
        if other.status == InvoiceStatus.NEW.value:
            other.status = InvoiceStatus.EXPIRED.value
            expired.append(other)
    session.flush()
    return expired


def closed_evaluation(paid: int, due: int) -> InvoiceException:
    """Return the exception of a closed invoice, which stays `expired` whatever it was paid."""
    if paid == 0 or paid == due:
        return InvoiceException.NONE
    return InvoiceException.PAID_PARTIAL if paid < due else InvoiceException.PAID_OVER
