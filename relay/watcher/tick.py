"""Run one watcher tick for a chain over its stored cursor and hand the block range to recorders.

One tick, in one transaction: read the head (and the finalized block when the chain's rule asks
for finality); lock the chain's cursor (a second worker waits, then sees the new one); on the
first run, place the cursor at the head, or before the oldest invoice already waiting; if the
cursor's block is no longer canonical (a reorg), rewind `reorg_depth` blocks; the range is
(cursor, min(head, cursor + max_block_range)]. Each recorder then records what it looks for in
that range and re-judges what it saw before (payments, refunds; relay/watcher/__init__.py lists
them); the cursor moves to the range's end last, so a failed tick records nothing. Borrowed shape:
ethereum-etl's streamer and web3.py's EventScanner (a cursor, a target, re-reads behind it).

Node faults (several `rpc_urls`, nodes restarted, lagging or answering errors). The rule:
- a tick reads from one node only (`Chain.pinned`): the one with the highest head among those
  that answer, so a lagging failover node is used only when no node ahead of it answers, and
  no tick mixes two nodes' views (a block from one, its logs from another);
- a head below the cursor is "not yet" (a node restarted from older state, a laggard): the tick
  waits and changes nothing; the cursor never moves backwards but after a reorg;
- a block missing at or below the head it gave, a log whose block changed, a receipt missing for
  a transaction just read, or an error answer for any call of a batch is a fault: the tick raises
  ChainUnavailable, records nothing, and the next tick redoes it (so no payment is skipped);
- a reorg is only a different hash at the cursor's height on the node the tick reads, whose head
  is at or above the cursor: a missing block is never taken for a reorg, and a transfer is
  orphaned only by such a node's different block at its height (relay/confirmations.py).

`sweep_expired` expires invoices only once every chain they can be paid on has scanned past their
expiry time, so a payment made in time is never beaten by a late "expired".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from relay.chain.protocol import BlockRef, Chain
from relay.confirmations import Seen, Standing, judge, needs_receipt
from relay.db import Database
from relay.errors import ChainUnavailable
from relay.events import EventType
from relay.invoices import refresh_invoice
from relay.lifecycle import InvoiceStatus
from relay.models import ChainCursor, Invoice
from relay.settings import ChainSettings, Settings
from relay.watcher.watched import CLOCK_SKEW, oldest_watched, time_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tick:
    """One tick of one chain: blocks [start, end] to scan (none when end < start), the head and
    finalized block it judges confirmations at, and the clock."""

    settings: Settings
    chain_settings: ChainSettings
    chain: Chain
    start: int
    end: int
    head: int
    finalized: int | None
    now: datetime

    @property
    def scans(self) -> bool:
        """Tell whether the tick has new blocks to scan."""
        return self.end >= self.start

    def standings(self, seen: Sequence[Seen]) -> list[Standing]:
        """Judge seen transfers against the chain now (relay/confirmations.py), in order: one
        read of their blocks, one of the receipts due a re-check; no read when none is seen."""
        if not seen:
            return []
        numbers = sorted({s.block_number for s in seen if s.block_number is not None})
        canonical = self.chain.blocks(numbers)
        if len(canonical) != len(numbers):
            # the node lacks a block it had when the transfer was seen, though its head is past
            # the cursor: a node fault (restarted, resyncing), not a reorg
            raise ChainUnavailable(f"the node lacks blocks {sorted(set(numbers) - set(canonical))}")
        rule, head, finalized = self.chain_settings, self.head, self.finalized
        due = [s.tx_hash for s in seen if s.tx_hash and needs_receipt(rule, s, head, finalized)]
        receipts = self.chain.receipts(due)
        return [
            judge(
                rule,
                s,
                canonical.get(s.block_number) if s.block_number is not None else None,
                receipts.get(s.tx_hash) if s.tx_hash else None,
                head,
                finalized,
            )
            for s in seen
        ]


# What a recorder does with a tick: record what it finds in the range, re-judge what it saw
# before, in the tick's transaction; return how many new things it recorded.
Recorder = Callable[[Session, Tick], int]


def run_tick(
    db: Database,
    settings: Settings,
    chain_settings: ChainSettings,
    chain: Chain,
    recorders: Mapping[str, Recorder],
    now: datetime,
) -> dict[str, int]:
    """Run one tick for a chain with `recorders` in order; return what each recorded, by name
    (all 0 on a first run, which only places the cursor, and while the node is behind it).

    Every read of the tick goes to one node (`Chain.pinned`: the most advanced that answers).
    raises ChainUnavailable when no node answers, or the pinned one fails or contradicts
    itself mid-tick; nothing is recorded then.
    """
    with chain.pinned() as head:
        finalized = chain.finalized() if chain_settings.finality else None
        with db.transaction() as session:
            # one scan per chain at a time: a second worker waits here, then sees the new cursor
            cursor = session.get(ChainCursor, chain_settings.name, with_for_update=True)
            if cursor is None:
                # first run: start at the head, or before the oldest invoice already waiting
                oldest = oldest_watched(session, chain_settings, now)
                number = head if oldest is None else _block_before(chain, oldest - CLOCK_SKEW, head)
                session.add(_cursor(chain_settings.name, block_at(chain, number), now))
                return dict.fromkeys(recorders, 0)
            if head < cursor.block_number:
                # a lower head is "not yet" (a node restarted from older state, or a lagging
                # failover node), never a reorg: blocks it lacks are not known to be gone
                log.warning(
                    "%s: the node's head %s is behind the scanned block %s; waiting for it",
                    chain_settings.name,
                    head,
                    cursor.block_number,
                )
                return dict.fromkeys(recorders, 0)
            start = cursor.block_number + 1
            if block_at(chain, cursor.block_number).hash != cursor.block_hash:
                start = max(cursor.block_number - chain_settings.reorg_depth + 1, 0)
                log.warning(
                    "%s: block %s was replaced (reorg); rescanning from %s",
                    chain_settings.name,
                    cursor.block_number,
                    start,
                )
            end = min(head, start + chain_settings.max_block_range - 1)
            tick = Tick(settings, chain_settings, chain, start, end, head, finalized, now)
            found = {name: record(session, tick) for name, record in recorders.items()}
            if tick.scans:
                ref = block_at(chain, end)
                cursor.block_number, cursor.block_hash = ref.number, ref.hash
                cursor.block_time, cursor.updated_at = time_of(ref.timestamp), now
            return found


def block_at(chain: Chain, number: int) -> BlockRef:
    """Return the block at `number`; raises ChainUnavailable when the node has none there (at or
    below a head it gave: a fault of the node, which must not read as a reorg)."""
    ref = chain.blocks([number]).get(number)
    if ref is None:
        raise ChainUnavailable(f"the node has no block {number}")
    return ref


def _block_before(chain: Chain, moment: datetime, head: int) -> int:
    """Return the last block mined before `moment` (binary search over block timestamps)."""
    low, high = 0, head
    while low < high:
        middle = (low + high + 1) // 2
        if time_of(block_at(chain, middle).timestamp) < moment:
            low = middle
        else:
            high = middle - 1
    return low


def _cursor(chain: str, ref: BlockRef, now: datetime) -> ChainCursor:
    return ChainCursor(
        chain=chain,
        block_number=ref.number,
        block_hash=ref.hash,
        block_time=time_of(ref.timestamp),
        updated_at=now,
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
