"""Poll each store for what its webhooks never told the relay, and for orders that drifted.

WooCommerce delivers webhooks late (WP-Cron), never on an idle store, and never retries
(reference/protocols.md §1.5-1.6). So every `reconcile_seconds` the relay lists the store's recent
orders in the statuses that open invoices (the spec's `list_orders` call) and opens invoices for
those it has none for — idempotently, so the customer still gets the payment link. It also reads
back orders whose final push was acknowledged and reports one whose status no longer agrees (set
by hand, or lost) — once, in the log and as an `invoice.order_mismatch` event — without fighting
the merchant: the relay never pushes the order back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from relay.address_checks import UsageReader
from relay.db import Database
from relay.errors import ChainError, InvoiceError, RelayError
from relay.events import EventType
from relay.inbound import read_order
from relay.invoices import open_invoice
from relay.lifecycle import InvoiceStatus
from relay.models import Delivery, DeliveryStatus, Invoice
from relay.outbox import STOREFRONT, action_variants, queue_event
from relay.pricing import Rates
from relay.settings import Settings
from relay.specs import load_spec, read_path
from relay.storefront import CallFailed, StorefrontClient
from relay.storefronts import Storefronts

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=24)  # orders and final pushes this recent are checked
FINAL_EVENTS = {
    InvoiceStatus.SETTLED.value: EventType.SETTLED.value,
    InvoiceStatus.EXPIRED.value: EventType.EXPIRED.value,
    InvoiceStatus.INVALID.value: EventType.INVALID.value,
}


@dataclass
class Report:
    """What one reconciliation pass did: invoices opened, mismatches reported (invoice id,
    expected statuses, the order's status)."""

    opened: list[str] = field(default_factory=list)
    mismatches: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)


def reconcile_store(
    db: Database,
    settings: Settings,
    store_name: str,
    storefronts: Storefronts,
    now: datetime,
    rates: Rates,
    usage: UsageReader | None = None,
) -> Report:
    """Reconcile one store with its order API (a client from `storefronts`); return what was done.

    Invoices are opened at `rates`, their xpub addresses checked by `usage`
    (relay/address_checks.py). raises StorefrontError (via CallFailed) only for the listing
    call; an order that cannot be read is skipped until the next pass.
    """
    store = settings.stores[store_name]
    spec = load_spec(store)
    client = storefronts.client(store_name)
    report = Report()
    if spec.can_list_orders:
        for raw in client.list_open_orders(now - LOOKBACK):
            inbound = read_order(store, spec, raw)
            if inbound.kind != "order" or inbound.order is None:
                continue
            try:
                # only orders without an invoice: an expired one is not reopened from here
                # (a renewal order left unpaid would get a new invoice on every pass)
                invoice, created = open_invoice(
                    db, settings, inbound.order, now, rates, usage, reopen=False
                )
            except (InvoiceError, ChainError) as exc:  # the next pass tries again
                log.warning(
                    "store %s order %s: no invoice: %s",
                    store_name,
                    inbound.order.order_id,
                    exc.message,
                )
                continue
            if created:
                log.warning(
                    "store %s: order %s had no invoice (its webhook never came): opened %s",
                    store_name,
                    invoice.order_id,
                    invoice.id,
                )
                report.opened.append(invoice.id)
    if spec.can_read_orders:
        _check_final_pushes(db, settings, store_name, client, now, report)
    return report


def _check_final_pushes(
    db: Database,
    settings: Settings,
    store_name: str,
    client: StorefrontClient,
    now: datetime,
    report: Report,
) -> None:
    store = settings.stores[store_name]
    spec = load_spec(store)
    status_path = spec.fields.get("status")
    if not status_path:
        return
    acknowledged = select(Delivery.invoice_id).where(
        Delivery.store == store_name,
        Delivery.target == STOREFRONT,
        Delivery.status == DeliveryStatus.SUCCEEDED.value,
        Delivery.event.in_(FINAL_EVENTS.values()),
    )
    with db.transaction() as session:
        invoices = list(
            session.scalars(
                select(Invoice)
                .where(
                    Invoice.store == store_name,
                    Invoice.id.in_(acknowledged),
                    or_(
                        and_(
                            Invoice.status == InvoiceStatus.SETTLED.value,
                            Invoice.settled_at > now - LOOKBACK,
                        ),
                        and_(
                            Invoice.status != InvoiceStatus.SETTLED.value,
                            Invoice.expires_at > now - LOOKBACK,
                        ),
                    ),
                )
                .options(selectinload(Invoice.options), selectinload(Invoice.payments))
            )
        )
        for invoice in invoices:
            session.expunge(invoice)
    for invoice in invoices:
        event = FINAL_EVENTS.get(invoice.status, "")
        action = spec.action_for(event, *action_variants(invoice, event))
        if action is None or action.status is None:
            continue
        try:
            order = client.read_order(invoice.order_id)
        except (CallFailed, RelayError) as exc:
            log.info("store %s order %s: not read back (%s)", store_name, invoice.order_id, exc)
            continue
        actual = str(read_path(order, status_path) or "")
        expected = tuple(dict.fromkeys((action.status, *spec.protected_statuses)))
        if actual in expected or actual == invoice.order_mismatch:
            continue
        _report(db, settings, invoice.id, expected, actual, now)
        report.mismatches.append((invoice.id, expected, actual))


def _report(
    db: Database,
    settings: Settings,
    invoice_id: str,
    expected: tuple[str, ...],
    actual: str,
    now: datetime,
) -> None:
    with db.transaction() as session:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None or invoice.order_mismatch == actual:
            return
        invoice.order_mismatch = actual
        log.warning(
            "store %s order %s: the store shows %r, but invoice %s is %s (expected %s); "
            "left as the merchant set it",
            invoice.store,
            invoice.order_id,
            actual,
            invoice.id,
            invoice.status,
            " or ".join(expected),
        )
        queue_event(
            session,
            settings,
            invoice,
            EventType.ORDER_MISMATCH.value,
            now,
            extra={"order_status": actual, "expected": list(expected)},
        )
