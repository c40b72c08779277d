"""Scan one chain from a stored cursor, record payments to deposit addresses, update confirmations.

One tick (`scan_once`): read the head; if the cursor's block is no longer canonical (a reorg),
rewind `reorg_depth` blocks; scan (cursor, min(head, cursor + max_block_range)] for ERC-20 Transfer
logs (one eth_getLogs per address chunk) and native transfers (batched blocks); record each payment
once; recount confirmations of unsettled payments and check their blocks are still canonical;
apply the state machine; store the new cursor — all in one transaction. `sweep_expired` expires
invoices only once every chain they can be paid on has scanned past their expiry time, so a
payment made in time is never beaten by a late "expired".
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from relay.chain import BlockRef, Chain
from relay.config import ChainSettings, Settings
from relay.db import Database
from relay.events import EventType
from relay.invoices import ObservedTransfer, record_transfer, refresh_invoice
from relay.lifecycle import InvoiceStatus
from relay.models import ChainCursor, Invoice, Payment, PaymentOption

log = logging.getLogger(__name__)

UNSETTLED = (InvoiceStatus.NEW.value, InvoiceStatus.PROCESSING.value, InvoiceStatus.EXPIRED.value)


def _time(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def scan_once(
    db: Database, settings: Settings, chain_settings: ChainSettings, chain: Chain, now: datetime
) -> int:
    """Run one watcher tick for a chain; return the number of new payments recorded."""
    head = chain.head()
    finalized = chain.finalized() if chain_settings.finality else None
    with db.transaction() as session:
        cursor = session.get(ChainCursor, chain_settings.name)
        if cursor is None:
            # first run: start at the head; invoices are opened after the relay starts watching
            ref = chain.blocks([head])[head]
            session.add(_cursor(chain_settings.name, ref, now))
            return 0
        start = cursor.block_number + 1
        if start <= head:
            canonical = chain.blocks([cursor.block_number]).get(cursor.block_number)
            if canonical is None or canonical.hash != cursor.block_hash:
                start = max(cursor.block_number - chain_settings.reorg_depth + 1, 0)
                log.warning(
                    "%s: reorg at or below block %s; rescanning from %s",
                    chain_settings.name,
                    cursor.block_number,
                    start,
                )
        end = min(head, start + chain_settings.max_block_range - 1)
        invoices = _watched_invoices(session, chain_settings, now)
        by_address = {inv.deposit_address.lower(): inv for inv in invoices}
        found = 0
        if end >= start and by_address:
            found = _record_range(
                session, settings, chain_settings, chain, by_address, start, end, now
            )
        touched = _recount(session, settings, chain_settings, chain, head, finalized, now)
        for invoice in {*touched, *(i for i in invoices if i.payments)}:
            refresh_invoice(session, settings, invoice, now)
        if end >= start:
            ref = chain.blocks([end])[end]
            cursor.block_number, cursor.block_hash = ref.number, ref.hash
            cursor.block_time, cursor.updated_at = _time(ref.timestamp), now
        return found


def _cursor(chain: str, ref: BlockRef, now: datetime) -> ChainCursor:
    return ChainCursor(
        chain=chain,
        block_number=ref.number,
        block_hash=ref.hash,
        block_time=_time(ref.timestamp),
        updated_at=now,
    )


def _watched_invoices(
    session: Session, chain_settings: ChainSettings, now: datetime
) -> list[Invoice]:
    """Return invoices with an option on this chain that may still receive payments."""
    query = (
        select(Invoice)
        .join(PaymentOption, PaymentOption.invoice_id == Invoice.id)
        .where(
            PaymentOption.chain == chain_settings.name,
            or_(Invoice.status.in_(UNSETTLED), Invoice.monitoring_ends_at > now),
        )
        .options(selectinload(Invoice.options), selectinload(Invoice.payments))
        .distinct()
    )
    return list(session.scalars(query))


def _record_range(
    session: Session,
    settings: Settings,
    chain_settings: ChainSettings,
    chain: Chain,
    by_address: dict[str, Invoice],
    start: int,
    end: int,
    now: datetime,
) -> int:
    tokens = {
        asset.contract.lower(): asset.symbol
        for asset in chain_settings.assets.values()
        if asset.contract is not None
    }
    native = next((a.symbol for a in chain_settings.assets.values() if a.native), None)
    transfers: list[ObservedTransfer] = []
    logs = chain.token_transfers(list(tokens), list(by_address), start, end)
    times = chain.blocks(sorted({t.block_number for t in logs})) if logs else {}
    for item in logs:
        symbol = tokens.get(item.token.lower())
        block = times.get(item.block_number)
        if symbol is None or block is None or block.hash != item.block_hash:
            continue  # another contract with the same symbol counts for nothing; stale log
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
                block_time=_time(block.timestamp),
            )
        )
    if native is not None:
        txs = chain.native_transfers(set(by_address), start, end)
        statuses = chain.receipt_statuses([tx.tx_hash for tx in txs])
        for tx in txs:
            if statuses.get(tx.tx_hash) != 1:
                continue  # a failed transaction moved nothing
            transfers.append(
                ObservedTransfer(
                    chain=chain_settings.name,
                    asset=native,
                    tx_hash=tx.tx_hash,
                    log_index=-1,
                    from_address=tx.sender,
                    to_address=tx.to,
                    amount=tx.value,
                    block_number=tx.block.number,
                    block_hash=tx.block.hash,
                    block_time=_time(tx.block.timestamp),
                )
            )
    found = 0
    for transfer in sorted(transfers, key=lambda t: (t.block_number, t.log_index)):
        invoice = by_address[transfer.to_address.lower()]
        if record_transfer(session, settings, invoice, transfer, now) is not None:
            found += 1
            log.info(
                "%s: payment %s %s to invoice %s",
                chain_settings.name,
                transfer.amount,
                transfer.asset,
                invoice.id,
            )
    return found


def _recount(
    session: Session,
    settings: Settings,
    chain_settings: ChainSettings,
    chain: Chain,
    head: int,
    finalized: int | None,
    now: datetime,
) -> set[Invoice]:
    """Update confirmations of payments on unsettled invoices; orphan those off the chain."""
    payments = list(
        session.scalars(
            select(Payment)
            .join(Invoice, Invoice.id == Payment.invoice_id)
            .where(
                Payment.chain == chain_settings.name,
                Payment.state != "orphaned",
                Invoice.status.in_(UNSETTLED),
            )
        )
    )
    if not payments:
        return set()
    canonical = chain.blocks(sorted({p.block_number for p in payments}))
    touched: dict[str, Invoice] = {}
    for payment in payments:
        ref = canonical.get(payment.block_number)
        if ref is None or ref.hash != payment.block_hash:
            log.warning(
                "%s: payment %s left the canonical chain", chain_settings.name, payment.tx_hash
            )
            payment.state, payment.confirmations, payment.confirmed = "orphaned", 0, False
        else:
            payment.confirmations = max(head - payment.block_number + 1, 0)
            if chain_settings.finality:
                payment.confirmed = finalized is not None and payment.block_number <= finalized
            else:
                payment.confirmed = payment.confirmations >= chain_settings.confirmations
        touched[payment.invoice_id] = payment.invoice
    return set(touched.values())


def sweep_expired(db: Database, settings: Settings, now: datetime) -> list[str]:
    """Expire due `new` invoices whose chains have all scanned past the expiry; return their ids."""
    expired = []
    with db.transaction() as session:
        cursors = {c.chain: c.block_time for c in session.scalars(select(ChainCursor))}
        due = session.scalars(
            select(Invoice)
            .where(Invoice.status == InvoiceStatus.NEW.value, Invoice.expires_at <= now)
            .options(selectinload(Invoice.options), selectinload(Invoice.payments))
        )
        per_chain: dict[str, int] = defaultdict(int)
        for invoice in due:
            chains = {option.chain for option in invoice.options}
            if not all(c in cursors and cursors[c] >= invoice.expires_at for c in chains):
                for c in chains:
                    per_chain[c] += 1
                continue  # a watcher is behind: a payment made in time may not be seen yet
            if EventType.EXPIRED.value in refresh_invoice(session, settings, invoice, now):
                expired.append(invoice.id)
        for chain, count in per_chain.items():
            log.debug("%s: %s invoices wait for the watcher before expiring", chain, count)
    return expired
