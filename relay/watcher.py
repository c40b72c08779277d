"""Scan one chain from a stored cursor, record payments to deposit addresses, count confirmations.

One tick (`scan_once`), in one transaction: read the head; if the cursor's block is no longer
canonical (a reorg), rewind `reorg_depth` blocks; scan (cursor, min(head, cursor + max_block_range)]
for ERC-20 Transfer logs of the configured contracts (one eth_getLogs per address chunk) and for
native transfers (batched blocks; failed transactions never count); catch native ETH that arrived
inside a contract call (exchanges, multisigs) by comparing deposit-address balances with what was
recorded, then locating the transfer with call traces; recount confirmations and check every
unsettled payment's block is still canonical (an orphaned payment is removed and the invoice
recomputed); re-check receipts before a payment counts as confirmed; keep checking settled
payments during the monitoring window (a deep reorg after settlement makes the invoice `invalid`:
an alert); find and confirm the merchant's refund transfers (relay/refund_watch.py); store the
new cursor.

`sweep_expired` expires invoices only once every chain they can be paid on has scanned past their
expiry time, so a payment made in time is never beaten by a late "expired".
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from relay.chain import BlockRef, Chain, NativeTx
from relay.config import ChainSettings, Settings
from relay.db import Database
from relay.events import EventType
from relay.invoices import payment_extra, record_transfer, refresh_invoice
from relay.lifecycle import InvoiceStatus
from relay.models import ChainCursor, Invoice, Payment, PaymentOption, PaymentState
from relay.outbox import queue_event
from relay.records import ObservedTransfer
from relay.refund_watch import scan_refunds

log = logging.getLogger(__name__)

OPEN = (InvoiceStatus.NEW.value, InvoiceStatus.PROCESSING.value)
UNSETTLED = (*OPEN, InvoiceStatus.EXPIRED.value)
# after the monitoring window, late payments are still recorded (and reported) this long
LATE_WATCH = timedelta(days=30)
CLOCK_SKEW = timedelta(minutes=2)  # block timestamps may run this far behind the relay's clock
UNTRACED_LOG_INDEX = -2  # a native transfer found by balance, where the node offers no traces
INTERNAL_LOG_INDEX_BASE = 1_000_000  # internal transfers: the call's place in its tx trace + this
LOAD_CHUNK = 500  # invoice ids per IN (...) when loading invoices by id


def _time(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def scan_once(
    db: Database, settings: Settings, chain_settings: ChainSettings, chain: Chain, now: datetime
) -> int:
    """Run one watcher tick for a chain; return the number of new payments recorded."""
    head = chain.head()
    finalized = chain.finalized() if chain_settings.finality else None
    with db.transaction() as session:
        # one scan per chain at a time: a second worker waits here, then sees the new cursor
        cursor = session.get(ChainCursor, chain_settings.name, with_for_update=True)
        if cursor is None:
            # first run: start at the head, or before the oldest invoice already waiting
            oldest = session.scalar(
                select(func.min(Invoice.created_at)).where(
                    Invoice.id.in_(_watched_ids(chain_settings, now))
                )
            )
            number = head if oldest is None else _block_before(chain, oldest - CLOCK_SKEW, head)
            ref = chain.blocks([number])[number]
            session.add(_cursor(chain_settings.name, ref, now))
            return 0
        start = cursor.block_number + 1
        canonical = chain.blocks([cursor.block_number]).get(cursor.block_number)
        if canonical is None or canonical.hash != cursor.block_hash:
            start = max(cursor.block_number - chain_settings.reorg_depth + 1, 0)
            log.warning(
                "%s: block %s was replaced (reorg); rescanning from %s",
                chain_settings.name,
                cursor.block_number,
                start,
            )
        end = min(head, start + chain_settings.max_block_range - 1)
        watched = _watched(session, chain_settings, now)
        by_address = {w.address: w for w in watched}
        found = 0
        if end >= start and by_address:
            found = _record_range(
                session, settings, chain_settings, chain, by_address, start, end, now
            )
            found += _record_internal(
                session, settings, chain_settings, chain, watched, start, end, now
            )
        touched = _recount(session, settings, chain_settings, chain, head, finalized, now)
        for invoice in {*touched, *_paid_invoices(session, chain_settings, now)}:
            refresh_invoice(session, settings, invoice, now)
        # the merchant's refund transfers to customers' addresses (no RPC call while none waits)
        scan_refunds(session, settings, chain_settings, chain, start, end, head, finalized, now)
        if end >= start:
            ref = chain.blocks([end])[end]
            cursor.block_number, cursor.block_hash = ref.number, ref.hash
            cursor.block_time, cursor.updated_at = _time(ref.timestamp), now
        return found


def _block_before(chain: Chain, moment: datetime, head: int) -> int:
    """Return the last block mined before `moment` (binary search over block timestamps)."""
    low, high = 0, head
    while low < high:
        middle = (low + high + 1) // 2
        if _time(chain.blocks([middle])[middle].timestamp) < moment:
            low = middle
        else:
            high = middle - 1
    return low


def _cursor(chain: str, ref: BlockRef, now: datetime) -> ChainCursor:
    return ChainCursor(
        chain=chain,
        block_number=ref.number,
        block_hash=ref.hash,
        block_time=_time(ref.timestamp),
        updated_at=now,
    )


def _watched_ids(chain_settings: ChainSettings, now: datetime) -> Select[str]:
    """Select the ids of invoices with an option on this chain that may still receive payments."""
    on_chain = select(PaymentOption.invoice_id).where(PaymentOption.chain == chain_settings.name)
    return select(Invoice.id).where(
        Invoice.id.in_(on_chain),
        or_(
            Invoice.status.in_(OPEN),
            Invoice.monitoring_ends_at > now,
            and_(
                Invoice.status == InvoiceStatus.EXPIRED.value,
                Invoice.monitoring_ends_at > now - LATE_WATCH,
            ),
        ),
    )


@dataclass(frozen=True)
class _Watched:
    """A watched invoice as a tick reads it: a plain row, not an ORM object.

    A tick reads every watched invoice's address and native baseline but changes only the few a
    transfer or a balance change reaches; those are loaded as ORM objects (`_load`) when needed,
    which keeps a tick over 100,000 open invoices from building objects it never uses
    (bench/README.md, scan).
    """

    id: str
    address: str  # lowercase
    deposit_address: str  # as stored (checksummed)
    created_at: datetime
    native_balance: int
    native_balance_block: int | None


def _watched(session: Session, chain_settings: ChainSettings, now: datetime) -> list[_Watched]:
    """Return the invoices with an option on this chain that may still receive payments."""
    query = select(
        Invoice.id,
        Invoice.deposit_address,
        Invoice.created_at,
        Invoice.native_balance,
        Invoice.native_balance_block,
    ).where(Invoice.id.in_(_watched_ids(chain_settings, now)))
    return [
        _Watched(id_, address.lower(), address, created, balance or 0, block)
        for id_, address, created, balance, block in session.execute(query)
    ]


def _load(session: Session, invoice_ids: Collection[str]) -> list[Invoice]:
    """Return the invoices with these ids as ORM objects (from the session's identity map first)."""
    wanted = list(dict.fromkeys(invoice_ids))
    found = []
    for i in range(0, len(wanted), LOAD_CHUNK):
        chunk = wanted[i : i + LOAD_CHUNK]
        found += list(session.scalars(select(Invoice).where(Invoice.id.in_(chunk))))
    return found


def _paid_invoices(session: Session, chain_settings: ChainSettings, now: datetime) -> list[Invoice]:
    """Return the watched invoices that have payments, with options and payments loaded."""
    paid = select(Payment.invoice_id).where(
        Payment.invoice_id.in_(_watched_ids(chain_settings, now))
    )
    query = (
        select(Invoice)
        .where(Invoice.id.in_(paid))
        .options(selectinload(Invoice.options), selectinload(Invoice.payments))
    )
    return list(session.scalars(query))


def _native_symbol(chain_settings: ChainSettings) -> str | None:
    return next((a.symbol for a in chain_settings.assets.values() if a.native), None)


def _record(
    session: Session,
    settings: Settings,
    by_address: dict[str, _Watched],
    transfers: list[ObservedTransfer],
    now: datetime,
) -> int:
    found = 0
    for transfer in sorted(transfers, key=lambda t: (t.block_number, t.log_index)):
        watched = by_address[transfer.to_address.lower()]
        if transfer.block_time < watched.created_at - CLOCK_SKEW:
            # mined before the invoice existed (a rescan after a reorg, or a reused address):
            # not a payment for it
            continue
        invoice = session.get(Invoice, watched.id)
        if invoice is None:
            continue  # deleted meanwhile: nothing to pay
        if record_transfer(session, settings, invoice, transfer, now) is not None:
            found += 1
            log.info(
                "%s: payment of %s %s base units to invoice %s (tx %s)",
                transfer.chain,
                transfer.amount,
                transfer.asset,
                invoice.id,
                transfer.tx_hash,
            )
    return found


def _native_transfer(chain: str, asset: str, tx: NativeTx, log_index: int) -> ObservedTransfer:
    return ObservedTransfer(
        chain=chain,
        asset=asset,
        tx_hash=tx.tx_hash,
        log_index=log_index,
        from_address=tx.sender,
        to_address=tx.to,
        amount=tx.value,
        block_number=tx.block.number,
        block_hash=tx.block.hash,
        block_time=_time(tx.block.timestamp),
    )


def _record_range(
    session: Session,
    settings: Settings,
    chain_settings: ChainSettings,
    chain: Chain,
    by_address: dict[str, _Watched],
    start: int,
    end: int,
    now: datetime,
) -> int:
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
    native = _native_symbol(chain_settings)
    if native is not None:
        txs = chain.native_transfers(set(by_address), start, end)
        receipts = chain.receipts([tx.tx_hash for tx in txs])
        for tx in txs:
            receipt = receipts.get(tx.tx_hash)
            if receipt is None or receipt.status != 1:
                continue  # a failed transaction moved nothing
            transfers.append(_native_transfer(chain_settings.name, native, tx, -1))
    return _record(session, settings, by_address, transfers, now)


def _record_internal(
    session: Session,
    settings: Settings,
    chain_settings: ChainSettings,
    chain: Chain,
    invoices: list[_Watched],
    start: int,
    end: int,
    now: datetime,
) -> int:
    """Find native ETH that reached deposit addresses inside contract calls (no top-level tx).

    Each invoice with a native option keeps the last balance it saw; an increase beyond the native
    payments recorded since is an internal transfer, located with call traces
    (debug_traceBlockByNumber) or, where the node has none, recorded from the balance alone.
    """
    native = _native_symbol(chain_settings)
    if native is None:
        return 0
    accepting = set(
        session.scalars(
            select(PaymentOption.invoice_id).where(
                PaymentOption.chain == chain_settings.name,
                PaymentOption.asset == native,
                PaymentOption.invoice_id.in_(_watched_ids(chain_settings, now)),
            )
        )
    )
    watched = [w for w in invoices if w.id in accepting]
    if not watched:
        return 0
    # native payments recorded so far (this range's included), by invoice: (block, amount)
    native_paid: dict[str, list[tuple[int, int]]] = {}
    for invoice_id, block_number, amount in session.execute(
        select(Payment.invoice_id, Payment.block_number, Payment.amount_base_units).where(
            Payment.chain == chain_settings.name,
            Payment.asset == native,
            Payment.state != PaymentState.ORPHANED.value,
            Payment.block_number <= end,
            Payment.invoice_id.in_(_watched_ids(chain_settings, now)),
        )
    ):
        native_paid.setdefault(invoice_id, []).append((block_number, amount))
    # the balance each invoice last saw, and at which block
    baseline = {w.id: (w.native_balance, w.native_balance_block) for w in watched}
    fresh = [w for w in watched if w.native_balance_block is None]
    if fresh and start > 0:
        # first look: what the address held before this range is a baseline, not a payment
        before = chain.balances([w.deposit_address for w in fresh], start - 1)
        for w in fresh:
            baseline[w.id] = (before.get(w.address, 0), start - 1)
    balances = chain.balances([w.deposit_address for w in watched], end)
    excess: dict[str, int] = {}
    short: dict[str, _Watched] = {}
    moved: dict[str, tuple[int, int | None]] = {}
    for w in watched:
        balance = balances.get(w.address, 0)
        known, block = baseline[w.id]
        since = block if block is not None else -1
        arrived = sum(
            amount for paid_in, amount in native_paid.get(w.id, ()) if since < paid_in <= end
        )
        unexplained = balance - known - arrived
        if unexplained > 0:
            short[w.address], excess[w.address] = w, unexplained
        if balance != known or arrived or block is None:
            # otherwise nothing moved since the baseline: keep it, and spare the row an UPDATE
            # (and a new version) on every tick; the next look spans both ranges alike
            baseline[w.id] = (balance, end)
        if baseline[w.id] != (w.native_balance, w.native_balance_block):
            moved[w.id] = baseline[w.id]
    for invoice in _load(session, moved):
        invoice.native_balance, invoice.native_balance_block = moved[invoice.id]
    if not short:
        return 0
    transfers: list[ObservedTransfer] = []
    for number in range(start, end + 1):
        calls = chain.internal_transfers(number, set(short))
        if calls is None:  # the node offers no call traces: record what the balance shows
            transfers = _untraced(chain_settings.name, chain, short, excess, end, native)
            break
        transfers += [
            _native_transfer(chain_settings.name, native, tx, INTERNAL_LOG_INDEX_BASE + tx.ordinal)
            for tx in calls
        ]
    return _record(session, settings, short, transfers, now)


def _untraced(
    chain_name: str,
    chain: Chain,
    short: dict[str, _Watched],
    excess: dict[str, int],
    end: int,
    native: str,
) -> list[ObservedTransfer]:
    """Record unexplained balance increases as payments in block `end` (nodes without traces)."""
    ref = chain.blocks([end])[end]
    transfers = []
    for address, watched in short.items():
        pseudo_hash = f"balance:{ref.hash}:{address}"
        tx = NativeTx(pseudo_hash, "", watched.deposit_address, excess[address], ref)
        transfers.append(_native_transfer(chain_name, native, tx, UNTRACED_LOG_INDEX))
    return transfers


def _recount(
    session: Session,
    settings: Settings,
    chain_settings: ChainSettings,
    chain: Chain,
    head: int,
    finalized: int | None,
    now: datetime,
) -> set[Invoice]:
    """Update confirmations; orphan payments off the canonical chain; re-check receipts."""
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
    if not payments:
        return set()
    canonical = chain.blocks(sorted({p.block_number for p in payments}))
    becoming = [
        p
        for p in payments
        if not p.confirmed
        and _meets_rule(chain_settings, p.block_number, head, finalized)
        and p.log_index != UNTRACED_LOG_INDEX
    ]
    receipts = chain.receipts([p.tx_hash for p in becoming])
    touched: dict[str, Invoice] = {}
    for payment in payments:
        ref = canonical.get(payment.block_number)
        receipt = receipts.get(payment.tx_hash)
        orphaned = ref is None or ref.hash != payment.block_hash
        if payment in becoming and (
            receipt is None or receipt.status != 1 or receipt.block_hash != payment.block_hash
        ):
            orphaned = True  # settlement re-check: the receipt must still be there, successful
        if orphaned:
            _orphan(session, settings, chain_settings, payment, now)
        else:
            payment.confirmations = max(head - payment.block_number + 1, 0)
            payment.confirmed = _meets_rule(chain_settings, payment.block_number, head, finalized)
        touched[payment.invoice_id] = payment.invoice
    return set(touched.values())


def _meets_rule(
    chain_settings: ChainSettings, block: int, head: int, finalized: int | None
) -> bool:
    if chain_settings.finality:
        return finalized is not None and block <= finalized
    return head - block + 1 >= chain_settings.confirmations


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
        for invoice in due:
            chains = {option.chain for option in invoice.options}
            if not all(c in cursors and cursors[c] >= invoice.expires_at for c in chains):
                continue  # a watcher is behind: a payment made in time may not be seen yet
            if EventType.EXPIRED.value in refresh_invoice(session, settings, invoice, now):
                expired.append(invoice.id)
    return expired
