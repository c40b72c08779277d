"""Open invoices, record payments and apply status changes; every change queues its deliveries.

Each public function runs inside one database transaction given by the caller (or opens one), so a
transition and its outbox rows are written together. `open_invoice` gives an order one open
invoice (relay/order_invoices.py), concurrent duplicates included: the same one while it is open
or paid, a new one once it expired unpaid. When an invoice becomes paid, the order's other
invoices are closed in the same transaction.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from relay.address_checks import Unchecked, UsageReader, prepare, take_index
from relay.addresses import derive_address
from relay.db import Database
from relay.eip681 import payment_uri
from relay.errors import InvoiceError, RateUnavailable
from relay.events import EventType
from relay.lifecycle import (
    STATUS_EVENTS,
    CountedPayment,
    InvoiceException,
    InvoiceStatus,
    check_transition,
    evaluate,
)
from relay.models import Invoice, Payment, PaymentOption, PaymentState
from relay.order_invoices import (
    PAID,
    close_others,
    closed_evaluation,
    current_invoice,
    order_invoices,
    reusable_invoice,
)
from relay.outbox import queue_event
from relay.pricing import Rates, from_base_units, to_base_units
from relay.records import ObservedTransfer, OrderData
from relay.settings import Settings, StoreSettings

log = logging.getLogger(__name__)
OPEN_RETRIES = 5
ACTIVE_STATUSES = (InvoiceStatus.NEW, InvoiceStatus.PROCESSING)


def new_invoice_id() -> str:
    """Return a fresh, unguessable invoice id."""
    return "inv_" + secrets.token_urlsafe(16)


def load_invoice(session: Session, invoice_id: str) -> Invoice | None:
    """Return an invoice with its options and payments loaded, or None."""
    return session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .options(selectinload(Invoice.options), selectinload(Invoice.payments))
    )


def find_invoice(session: Session, store: str, order_id: str) -> Invoice | None:
    """Return the order's current invoice (the one open or paid, else the newest) with options
    and payments loaded, or None when the order has none."""
    return current_invoice(order_invoices(session, store, order_id))


def check_order(order: OrderData) -> None:
    """Raise InvoiceError when an order can never get an invoice: a total that is not positive,
    or a currency that is not an ISO 4217 code."""
    if not order.total.is_finite() or order.total <= 0:
        raise InvoiceError(f"order total must be positive, got {order.total}")
    if len(order.currency) != 3 or not order.currency.isalpha():
        raise InvoiceError(f"order currency must be an ISO 4217 code, got {order.currency!r}")


def open_invoice(
    db: Database,
    settings: Settings,
    order: OrderData,
    now: datetime,
    rates: Rates,
    usage: UsageReader | None = None,
    reopen: bool = True,
) -> tuple[Invoice, bool]:
    """Return the order's open invoice, opening one if it has none: (invoice, created).

    The order's invoice open or paid comes back; once the last one expired unpaid (or is
    invalid) a new one is opened, with a fresh address and rate, unless `reopen` is False
    (reconciliation, which only finds orders whose webhook never came: the current invoice comes
    back). Options are priced at `rates` (the runtime's, relay/runtime.py). With `usage` (the
    runtime's `address_usage`), an xpub address is handed out only once checked unused on the
    store's chains (relay/address_checks.py), unless the store turns
    `check_deposit_addresses` off; without it (tests), unchecked. raises InvoiceError
    (nothing written) when the total is not positive, RateUnavailable (an InvoiceError) when no
    option can be priced, ChainError when the address cannot be checked. Concurrent calls for
    one order open at most one invoice (the database's `uq_invoice_open_order`). Options whose
    rate is unavailable are left out and listed in `unavailable_options` with the reason.
    """
    store = settings.stores[order.store]
    check_order(order)
    for _ in range(OPEN_RETRIES):
        try:
            checked = usage is not None and bool(store.xpub) and store.check_deposit_addresses
            if usage is not None and checked:
                with db.transaction() as session:
                    existing = _existing(session, order, reopen)
                if existing is not None:
                    return existing, False
                prepare(db, store, usage, now)  # chain reads: outside the transaction
            with db.transaction() as session:
                existing = _existing(session, order, reopen)
                if existing is not None:
                    return existing, False
                invoice = _build_invoice(
                    session,
                    settings,
                    store,
                    order,
                    now,
                    rates,
                    checked=checked,
                )
                session.add(invoice)
                session.flush()
                queue_event(session, settings, invoice, EventType.CREATED, now)
                return invoice, True
        except IntegrityError:
            continue  # a concurrent delivery for the same order (or index) won; read it again
        except Unchecked:
            continue  # a concurrent invoice took the checked address: check the next one
    with db.transaction() as session:
        existing = find_invoice(session, order.store, order.order_id)
    if existing is None:
        raise InvoiceError("could not open the invoice: the database kept refusing it")
    return existing, False


def _existing(session: Session, order: OrderData, reopen: bool) -> Invoice | None:
    """Return the invoice opening the order gives back, or None when one is to be opened."""
    invoices = order_invoices(session, order.store, order.order_id)
    return reusable_invoice(invoices) if reopen else current_invoice(invoices)


def _build_invoice(
    session: Session,
    settings: Settings,
    store: StoreSettings,
    order: OrderData,
    now: datetime,
    rates: Rates,
    *,
    checked: bool,
) -> Invoice:
    invoice_id = new_invoice_id()
    priced = []
    unavailable = []
    for chain_name, symbol in store.accept:
        chain = settings.chains[chain_name]
        asset = chain.assets[symbol]
        try:
            rate = rates.quote(chain, asset, order.currency, now)
        except RateUnavailable as exc:
            log.warning(
                "store %s order %s: %s:%s not offered: %s",
                store.name,
                order.order_id,
                chain_name,
                symbol,
                exc.message,
            )
            unavailable.append({"chain": chain_name, "asset": symbol, "reason": exc.message})
            continue
        priced.append((chain, asset, rate, to_base_units(order.total, rate.rate, asset.decimals)))
    if not priced:
        reasons = "; ".join(item["reason"] for item in unavailable)
        raise RateUnavailable("no payment option could be priced: " + reasons)
    index = take_index(session, store, now, checked=checked)
    address = derive_address(store.xpub, index)
    expiry = (
        store.renewal_invoice_expiry_minutes
        if order.subscription_id
        else store.invoice_expiry_minutes
    )
    invoice = Invoice(
        id=invoice_id,
        store=store.name,
        order_id=order.order_id,
        order_number=order.order_number,
        order_key=order.order_key,
        customer_email=order.customer_email,
        subscription_id=order.subscription_id,
        return_url=order.return_url,
        currency=order.currency.upper(),
        amount=order.total,
        status=InvoiceStatus.NEW.value,
        exception="",
        created_at=now,
        expires_at=now + timedelta(minutes=expiry),
        monitoring_ends_at=now + timedelta(minutes=expiry + store.monitoring_minutes),
        address_index=index,
        deposit_address=address,
        paid_base_units=0,
        unavailable_options=unavailable,
    )
    invoice.options = [
        PaymentOption(
            chain=chain.name,
            chain_id=chain.chain_id,
            asset=asset.symbol,
            contract=asset.contract,
            decimals=asset.decimals,
            address=address,
            amount_base_units=amount,
            rate=rate.rate,
            rate_source=rate.source,
            rate_at=rate.at,
            uri=payment_uri(
                chain_id=chain.chain_id, to=address, amount=amount, token=asset.contract
            ),
        )
        for chain, asset, rate, amount in priced
    ]
    invoice.payments = []
    return invoice


def record_transfer(
    session: Session,
    settings: Settings,
    invoice: Invoice,
    transfer: ObservedTransfer,
    now: datetime,
) -> Payment | None:
    """Record a transfer to the invoice's address once; return the new Payment or None if known.

    The first asset paid fixes the invoice's option; a transfer in another asset is recorded as
    `other_asset` and reported, never summed at a made-up rate. A known transfer that had been
    orphaned by a reorg and is seen again in a canonical block is counted again.
    """
    existing = session.scalar(
        select(Payment).where(
            Payment.chain == transfer.chain,
            Payment.tx_hash == transfer.tx_hash,
            Payment.log_index == transfer.log_index,
        )
    )
    if existing is not None:
        if existing.block_hash != transfer.block_hash:
            existing.block_hash = transfer.block_hash
            existing.block_number = transfer.block_number
            existing.block_time = transfer.block_time
            if existing.state == PaymentState.ORPHANED:
                existing.state = _state_for(invoice, transfer, now).value
        return None
    key = f"{transfer.chain}:{transfer.asset}"
    if invoice.paid_option is None and any(f"{o.chain}:{o.asset}" == key for o in invoice.options):
        invoice.paid_option = key
    payment = Payment(
        invoice_id=invoice.id,
        chain=transfer.chain,
        asset=transfer.asset,
        tx_hash=transfer.tx_hash,
        log_index=transfer.log_index,
        from_address=transfer.from_address,
        to_address=transfer.to_address,
        amount_base_units=transfer.amount,
        block_number=transfer.block_number,
        block_hash=transfer.block_hash,
        block_time=transfer.block_time,
        seen_at=now,
        state=_state_for(invoice, transfer, now).value,
        confirmations=0,
        confirmed=False,
    )
    invoice.payments.append(payment)
    session.flush()
    queue_event(
        session,
        settings,
        invoice,
        EventType.PAYMENT_RECEIVED,
        now,
        extra=payment_extra(invoice, payment),
    )
    return payment


def payment_extra(invoice: Invoice, payment: Payment) -> dict[str, Any]:
    """Describe a payment for an event: tx, log index, chain, asset, amount (whole units)."""
    decimals = next(
        (
            o.decimals
            for o in invoice.options
            if (o.chain, o.asset) == (payment.chain, payment.asset)
        ),
        None,
    )
    amount = (
        str(from_base_units(payment.amount_base_units, decimals))
        if decimals is not None
        else f"{payment.amount_base_units} base units of"
    )
    return {
        "tx_hash": payment.tx_hash,
        "log_index": payment.log_index,
        "chain": payment.chain,
        "asset": payment.asset,
        "amount": amount,
        "amount_base_units": str(payment.amount_base_units),
        "state": payment.state,
    }


def _state_for(invoice: Invoice, transfer: ObservedTransfer, now: datetime) -> PaymentState:
    if f"{transfer.chain}:{transfer.asset}" != invoice.paid_option:
        return PaymentState.OTHER_ASSET
    if transfer.block_time > invoice.monitoring_ends_at or invoice.closed_by:
        # a closed invoice's window ended when another invoice paid the order: reported only
        return PaymentState.AFTER_MONITORING
    return PaymentState.COUNTED


def refresh_invoice(
    session: Session, settings: Settings, invoice: Invoice, now: datetime
) -> list[str]:
    """Apply the state machine to the invoice's payments; queue events; return the event names.

    An invoice becoming paid (processing or settled) closes the order's other invoices
    (relay/order_invoices.py): their `invoice.expired` is queued after its own events. A closed
    invoice stays `expired` whatever reaches it.
    """
    store = settings.stores[invoice.store]
    due = _due(invoice)
    counted: Sequence[CountedPayment] = [
        CountedPayment(p.amount_base_units, p.confirmed, p.block_time)
        for p in invoice.payments
        if p.state == PaymentState.COUNTED
    ]
    current = InvoiceStatus(invoice.status)
    result = evaluate(
        current=current,
        due=due,
        payments=counted,
        tolerance_percent=store.payment_tolerance_percent,
        now=now,
        expires_at=invoice.expires_at,
        monitoring_ends_at=invoice.monitoring_ends_at,
    )
    if invoice.closed_by:
        result = replace(
            result,
            status=InvoiceStatus.EXPIRED,
            exception=closed_evaluation(result.paid, result.due),
        )
    invoice.paid_base_units = result.paid
    events: list[str] = []
    if result.status == current and result.exception.value == invoice.exception:
        return events
    check_transition(current, result.status)
    closed: list[Invoice] = []
    if result.status in PAID and current not in PAID:
        closed = close_others(session, invoice, now)  # flushed before this one takes the slot
    invoice.exception = result.exception.value
    if result.status != current:
        invoice.status = result.status.value
        if result.status == InvoiceStatus.SETTLED:
            invoice.settled_at = now
        status_event = STATUS_EVENTS.get(result.status)  # back to NEW: removal already reported
        if status_event is not None:
            events.append(status_event.value)
        if (
            result.status == InvoiceStatus.SETTLED
            and result.exception == InvoiceException.PAID_LATE
        ):
            events.append(EventType.PAID_LATE.value)
    for event in events:
        queue_event(session, settings, invoice, event, now)
    for other in closed:
        queue_event(session, settings, other, EventType.EXPIRED.value, now)
    return events


def _due(invoice: Invoice) -> int:
    """Return the base units due in the fixed option (or the first option before any payment)."""
    for option in invoice.options:
        if f"{option.chain}:{option.asset}" == invoice.paid_option:
            return option.amount_base_units
    return invoice.options[0].amount_base_units if invoice.options else 0
