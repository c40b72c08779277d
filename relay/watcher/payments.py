"""Record payments to deposit addresses in a tick's blocks and recount their confirmations.

The payment recorder of the watcher tick (relay/watcher/tick.py): in the tick's range it finds
ERC-20 Transfer logs of the configured contracts (one eth_getLogs per address chunk) and native
transfers (batched blocks; failed transactions never count), and native ETH that arrived inside a
contract call (relay/watcher/balances.py); then it recounts confirmations of every unsettled
payment and checks its block is still canonical (an orphaned payment is removed and the invoice
recomputed), re-checks receipts before a payment counts as confirmed (relay/confirmations.py),
and keeps checking settled payments during the monitoring window (a deep reorg after settlement
makes the invoice `invalid`: an alert).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from relay.confirmations import Seen
from relay.errors import ChainUnavailable
from relay.events import EventType
from relay.invoices import payment_extra, refresh_invoice
from relay.lifecycle import InvoiceStatus
from relay.models import Invoice, Payment, PaymentState
from relay.outbox import queue_event
from relay.records import ObservedTransfer
from relay.settings import ChainSettings, Settings
from relay.watcher.balances import UNTRACED_LOG_INDEX, record_internal
from relay.watcher.tick import Tick
from relay.watcher.watched import (
    UNSETTLED,
    Watched,
    native_symbol,
    native_transfer,
    record_found,
    time_of,
    watched,
    watched_ids,
)

log = logging.getLogger(__name__)


def record_payments(session: Session, tick: Tick) -> int:
    """Record the tick's new payments, recount confirmations, refresh the invoices they touch;
    return the number of new payments."""
    chain_settings, now = tick.chain_settings, tick.now
    invoices = watched(session, chain_settings, now)
    by_address = {w.address: w for w in invoices}
    found = 0
    if tick.scans and by_address:
        found = _record_range(session, tick, by_address)
        found += record_internal(session, tick, invoices)
    touched = _recount(session, tick)
    for invoice in {*touched, *_paid_invoices(session, chain_settings, now)}:
        refresh_invoice(session, tick.settings, invoice, now)
    return found


def _paid_invoices(session: Session, chain_settings: ChainSettings, now: datetime) -> list[Invoice]:
    """Return the watched invoices that have payments, with options and payments loaded."""
    paid = select(Payment.invoice_id).where(
        Payment.invoice_id.in_(watched_ids(chain_settings, now))
    )
    query = (
        select(Invoice)
        .where(Invoice.id.in_(paid))
        .options(selectinload(Invoice.options), selectinload(Invoice.payments))
    )
    return list(session.scalars(query))


def _record_range(session: Session, tick: Tick, by_address: dict[str, Watched]) -> int:
    """Record token and top-level native transfers to `by_address` in the tick's range."""
    chain_settings, chain, start, end = tick.chain_settings, tick.chain, tick.start, tick.end
    tokens = {
        asset.contract.lower(): asset.symbol
        for asset in chain_settings.assets.values()
        if asset.contract is not None
    }
    transfers: list[ObservedTransfer] = []
    logs = chain.token_transfers(list(tokens), list(by_address), start, end)
    times = chain.blocks(sorted({t.block_number for t in logs})) if logs else {}
    for item in logs:
        symbol = tokens.get(item.token.lower())
        block = times.get(item.block_number)
        if symbol is None:
            continue  # another contract with the same symbol counts for nothing
        if block is None or block.hash != item.block_hash:
            # the chain moved between the two reads: redo the tick rather than skip a payment
            raise ChainUnavailable(f"block {item.block_number} changed during the scan")
        transfers.append(
            ObservedTransfer(
                chain=chain_settings.name,
                asset=symbol,
                tx_hash=item.tx_hash,
                log_index=item.log_index,
                from_address=item.sender,
                to_address=item.to,
                amount=item.amount,
                block_number=item.block_number,
                block_hash=item.block_hash,
                block_time=time_of(block.timestamp),
            )
        )
    native = native_symbol(chain_settings)
    if native is not None:
        txs = chain.native_transfers(set(by_address), start, end)
        receipts = chain.receipts([tx.tx_hash for tx in txs])
        for tx in txs:
            receipt = receipts.get(tx.tx_hash)
            if receipt is None or receipt.block_hash != tx.block.hash:
                raise ChainUnavailable(f"transaction {tx.tx_hash} moved during the scan")
            if receipt.status != 1:
                continue  # a failed transaction moved nothing
            transfers.append(native_transfer(chain_settings.name, native, tx, -1))
    return record_found(session, tick.settings, by_address, transfers, tick.now)


def _recount(session: Session, tick: Tick) -> set[Invoice]:
    """Update confirmations; orphan payments off the canonical chain; re-check receipts."""
    chain_settings, now = tick.chain_settings, tick.now
    payments = list(
        session.scalars(
            select(Payment)
            .join(Invoice, Invoice.id == Payment.invoice_id)
            .where(
                Payment.chain == chain_settings.name,
                Payment.state != PaymentState.ORPHANED.value,
                or_(
                    Invoice.status.in_(UNSETTLED),
                    # a settled invoice stays watched for deep reorgs during its monitoring window
                    and_(
                        Invoice.status == InvoiceStatus.SETTLED.value,
                        Invoice.monitoring_ends_at > now,
                    ),
                ),
            )
        )
    )
    # a confirmed payment, or one found by balance alone (no transaction), has no receipt re-check
    seen = [
        Seen(
            p.block_number,
            p.block_hash,
            p.tx_hash,
            recheck=not p.confirmed and p.log_index != UNTRACED_LOG_INDEX,
        )
        for p in payments
    ]
    touched: dict[str, Invoice] = {}
    for payment, standing in zip(payments, tick.standings(seen), strict=True):
        if standing.orphaned:
            _orphan(session, tick.settings, chain_settings, payment, now)
        else:
            payment.confirmations, payment.confirmed = standing.confirmations, standing.final
        touched[payment.invoice_id] = payment.invoice
    return set(touched.values())


def _orphan(
    session: Session,
    settings: Settings,
    chain_settings: ChainSettings,
    payment: Payment,
    now: datetime,
) -> None:
    invoice = payment.invoice
    settled = invoice.status == InvoiceStatus.SETTLED.value
    log.log(
        logging.ERROR if settled else logging.WARNING,
        "%s: payment %s (log %s) of invoice %s left the canonical chain%s",
        chain_settings.name,
        payment.tx_hash,
        payment.log_index,
        invoice.id,
        " AFTER SETTLEMENT" if settled else "",
    )
    was_counted = payment.state == PaymentState.COUNTED
    payment.state, payment.confirmations, payment.confirmed = PaymentState.ORPHANED.value, 0, False
    if was_counted:
        queue_event(
            session,
            settings,
            invoice,
            EventType.PAYMENT_REMOVED.value,
            now,
            extra=payment_extra(invoice, payment),
        )
