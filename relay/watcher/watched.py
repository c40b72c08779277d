"""Tell which invoices a chain's watcher still watches, read them as plain rows, record to them.

An invoice with an option on the chain is watched while it is open (`new`, `processing`), during
its monitoring window, and for LATE_WATCH after an expiry (late payments are still recorded and
reported).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from relay.chain.protocol import NativeTx
from relay.invoices import record_transfer
from relay.lifecycle import InvoiceStatus
from relay.models import Invoice, PaymentOption
from relay.records import ObservedTransfer
from relay.settings import ChainSettings, Settings

OPEN = (InvoiceStatus.NEW.value, InvoiceStatus.PROCESSING.value)
UNSETTLED = (*OPEN, InvoiceStatus.EXPIRED.value)
# after the monitoring window, late payments are still recorded (and reported) this long
LATE_WATCH = timedelta(days=30)
CLOCK_SKEW = timedelta(minutes=2)  # block timestamps may run this far behind the relay's clock
LOAD_CHUNK = 500  # invoice ids per IN (...) when loading invoices by id

log = logging.getLogger(__name__)


def time_of(timestamp: int) -> datetime:
    """Return a block timestamp (unix seconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)


def watched_ids(chain_settings: ChainSettings, now: datetime) -> Select[str]:
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


def oldest_watched(
    session: Session, chain_settings: ChainSettings, now: datetime
) -> datetime | None:
    """Return when the oldest watched invoice on this chain was created (None: none is)."""
    return session.scalar(
        select(func.min(Invoice.created_at)).where(Invoice.id.in_(watched_ids(chain_settings, now)))
    )


@dataclass(frozen=True)
class Watched:
    """A watched invoice as a tick reads it: a plain row, not an ORM object.

    A tick reads every watched invoice's address and native baseline but changes only the few a
    transfer or a balance change reaches; those are loaded as ORM objects (`load`) when needed,
    which keeps a tick over 100,000 open invoices from building objects it never uses
    (bench/README.md, scan).
    """

    id: str
    address: str  # lowercase
    deposit_address: str  # as stored (checksummed)
    created_at: datetime
    native_balance: int
    native_balance_block: int | None


def watched(session: Session, chain_settings: ChainSettings, now: datetime) -> list[Watched]:
    """Return the invoices with an option on this chain that may still receive payments."""
    query = select(
        Invoice.id,
        Invoice.deposit_address,
        Invoice.created_at,
        Invoice.native_balance,
        Invoice.native_balance_block,
    ).where(Invoice.id.in_(watched_ids(chain_settings, now)))
    return [
        Watched(id_, address.lower(), address, created, balance or 0, block)
        for id_, address, created, balance, block in session.execute(query)
    ]


def load(session: Session, invoice_ids: Collection[str]) -> list[Invoice]:
    """Return the invoices with these ids as ORM objects (from the session's identity map first)."""
    wanted = list(dict.fromkeys(invoice_ids))
    found = []
    for i in range(0, len(wanted), LOAD_CHUNK):
        chunk = wanted[i : i + LOAD_CHUNK]
        found += list(session.scalars(select(Invoice).where(Invoice.id.in_(chunk))))
    return found


def native_symbol(chain_settings: ChainSettings) -> str | None:
    """Return the symbol of the chain's native asset (None when it accepts none)."""
    return next((a.symbol for a in chain_settings.assets.values() if a.native), None)


def native_transfer(chain: str, asset: str, tx: NativeTx, log_index: int) -> ObservedTransfer:
    """Return a native transfer as an ObservedTransfer at `log_index` (native ones have none)."""
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
        block_time=time_of(tx.block.timestamp),
    )


def record_found(
    session: Session,
    settings: Settings,
    by_address: dict[str, Watched],
    transfers: list[ObservedTransfer],
    now: datetime,
) -> int:
    """Record `transfers` to the watched invoices of `by_address` (lowercase address keys) in
    block order; one mined before its invoice existed counts for nothing. Return how many are
    new payments."""
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
