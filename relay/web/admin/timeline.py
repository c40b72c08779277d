"""Tell an invoice's story from what the database recorded, oldest first.

Sources: the invoice's own times (created, expiry, monitoring end, settled), each payment when the
watcher saw it, each event queued to the outbox (once per event id, whatever the number of
targets), and its refunds' times. Texts go through gettext.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from relay.models import Delivery, Invoice, Payment, PaymentState, Refund
from relay.pricing import from_base_units
from relay.web.languages import gettext as _


@dataclass(frozen=True)
class Entry:
    """One moment of the timeline: when, and what happened (translated)."""

    at: datetime
    text: str


def _decimals(invoice: Invoice, payment: Payment) -> int:
    for option in invoice.options:
        if (option.chain, option.asset) == (payment.chain, payment.asset):
            return option.decimals
    return 0


def _payment_text(invoice: Invoice, payment: Payment) -> str:
    amount = from_base_units(payment.amount_base_units, _decimals(invoice, payment))
    values = {"amount": str(amount), "asset": payment.asset, "block": payment.block_number}
    if payment.state == PaymentState.ORPHANED:
        return _("Payment of %(amount)s %(asset)s left the chain (block %(block)s)", **values)
    if payment.state == PaymentState.OTHER_ASSET:
        return _("Payment of %(amount)s %(asset)s in another asset (block %(block)s)", **values)
    if payment.state == PaymentState.AFTER_MONITORING:
        return _(
            "Payment of %(amount)s %(asset)s after monitoring ended (block %(block)s)", **values
        )
    return _("Payment of %(amount)s %(asset)s seen (block %(block)s)", **values)


def _refund_entries(refund: Refund) -> list[Entry]:
    values = {"amount": str(refund.amount), "currency": refund.currency}
    entries = [Entry(refund.created_at, _("Refund of %(amount)s %(currency)s requested", **values))]
    if refund.address_at:
        entries.append(Entry(refund.address_at, _("The customer gave a refund address")))
    if refund.refunded_at:
        entries.append(Entry(refund.refunded_at, _("Refund sent and confirmed")))
    if refund.cancelled_at:
        entries.append(Entry(refund.cancelled_at, _("Refund request cancelled")))
    return entries


def timeline(
    invoice: Invoice,
    deliveries: Sequence[Delivery],
    refunds: Sequence[Refund],
    now: datetime,
) -> list[Entry]:
    """Return the invoice's timeline, oldest first (moments in the future are left out)."""
    values = {"amount": str(invoice.amount), "currency": invoice.currency}
    entries = [
        Entry(invoice.created_at, _("Invoice created for %(amount)s %(currency)s", **values))
    ]
    entries += [Entry(p.seen_at, _payment_text(invoice, p)) for p in invoice.payments]
    seen: set[str] = set()
    for delivery in sorted(deliveries, key=lambda d: (d.created_at, d.id)):
        if delivery.event_id not in seen:
            seen.add(delivery.event_id)
            entries.append(Entry(delivery.created_at, _("Event %(event)s", event=delivery.event)))
    if invoice.settled_at:
        entries.append(Entry(invoice.settled_at, _("Settled")))
    if invoice.expires_at <= now:
        entries.append(Entry(invoice.expires_at, _("The payment window closed")))
    if invoice.monitoring_ends_at <= now:
        entries.append(Entry(invoice.monitoring_ends_at, _("Monitoring for late payments ended")))
    for refund in refunds:
        entries += _refund_entries(refund)
    return sorted(entries, key=lambda e: e.at)
