"""Find the merchant's refund transfers on a chain and confirm them: the watcher tick's refund
recorder (relay/watcher/tick.py).

Refunds waiting for payment (relay/refunds.py) name a customer address, an asset and an amount in
base units. In the blocks a watcher tick scans, a transfer of that asset to that address (an
ERC-20 `Transfer` log of the asset's contract, or a successful top-level transaction carrying
native value) for at least the amount, mined after the customer gave the address, pays the
refund: the one asking exactly that amount first, else the oldest one it covers. Smaller
transfers never match, so dust sent to the customer's address (address poisoning) or their other
incoming payments count for nothing. A seen transfer must then meet the chain's confirmation
rule, with its receipt re-checked (relay/confirmations.py), before the refund is `refunded`; if
its block leaves the chain first, the refund waits for payment again. Costs no RPC call while no
refund waits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from relay.chain.protocol import Chain
from relay.confirmations import Seen
from relay.errors import ChainUnavailable
from relay.models import Refund
from relay.refund_lifecycle import RefundStatus
from relay.refunds import complete_refund, drop_refund_transfer, record_refund_transfer
from relay.watcher.tick import Tick
from relay.watcher.watched import CLOCK_SKEW

log = logging.getLogger(__name__)

NATIVE_LOG_INDEX = -1


@dataclass(frozen=True)
class _Transfer:
    """A transfer to a refund address: token contract (None when native), amount in base units."""

    token: str | None
    to: str
    sender: str
    amount: int
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str
    block_time: datetime


def record_refunds(session: Session, tick: Tick) -> int:
    """Record refund transfers in the tick's blocks; confirm seen ones; return new matches."""
    chain_settings, chain, start, end = tick.chain_settings, tick.chain, tick.start, tick.end
    waiting = list(
        session.scalars(
            select(Refund)
            .where(
                Refund.chain == chain_settings.name,
                Refund.status == RefundStatus.AWAITING_PAYMENT.value,
            )
            .order_by(Refund.created_at, Refund.id)
        )
    )
    found = 0
    if waiting and end >= start:
        for seen in _transfers(chain, waiting, start, end):
            if _known(session, chain_settings.name, seen):
                continue
            refund = _match(waiting, seen)
            if refund is None:
                continue
            record_refund_transfer(
                refund,
                tx_hash=seen.tx_hash,
                log_index=seen.log_index,
                from_address=seen.sender,
                amount=seen.amount,
                block_number=seen.block_number,
                block_hash=seen.block_hash,
                block_time=seen.block_time,
            )
            waiting.remove(refund)
            found += 1
            log.info(
                "%s: refund %s paid by tx %s (%s base units to %s); confirming",
                chain_settings.name,
                refund.id,
                seen.tx_hash,
                seen.amount,
                refund.to_address,
            )
    _confirm(session, tick)
    return found


def _transfers(chain: Chain, waiting: list[Refund], start: int, end: int) -> list[_Transfer]:
    """Return transfers to the waiting refunds' addresses in [start, end], oldest first."""
    tokens = sorted({r.contract.lower() for r in waiting if r.contract})
    token_to = sorted({(r.to_address or "").lower() for r in waiting if r.contract})
    native_to = {(r.to_address or "").lower() for r in waiting if not r.contract}
    seen: list[_Transfer] = []
    logs = chain.token_transfers(tokens, token_to, start, end) if tokens else []
    blocks = chain.blocks(sorted({item.block_number for item in logs})) if logs else {}
    for item in logs:
        block = blocks.get(item.block_number)
        if block is None or block.hash != item.block_hash:
            # the chain moved between the two reads: redo the tick rather than miss a refund
            raise ChainUnavailable(f"block {item.block_number} changed during the scan")
        seen.append(
            _Transfer(
                item.token.lower(),
                item.to.lower(),
                item.sender,
                item.amount,
                item.tx_hash,
                item.log_index,
                item.block_number,
                item.block_hash,
                datetime.fromtimestamp(block.timestamp, UTC),
            )
        )
    if native_to:
        txs = chain.native_transfers(native_to, start, end)
        receipts = chain.receipts([tx.tx_hash for tx in txs])
        for tx in txs:
            receipt = receipts.get(tx.tx_hash)
            if receipt is None or receipt.block_hash != tx.block.hash:
                raise ChainUnavailable(f"transaction {tx.tx_hash} moved during the scan")
            if receipt.status != 1:
                continue  # a failed transaction moved nothing
            seen.append(
                _Transfer(
                    None,
                    tx.to.lower(),
                    tx.sender,
                    tx.value,
                    tx.tx_hash,
                    NATIVE_LOG_INDEX,
                    tx.block.number,
                    tx.block.hash,
                    datetime.fromtimestamp(tx.block.timestamp, UTC),
                )
            )
    return sorted(seen, key=lambda s: (s.block_number, s.log_index))


def _known(session: Session, chain: str, seen: _Transfer) -> bool:
    """Tell whether a transfer already pays a refund (a rescan after a reorg sees it again)."""
    return (
        session.scalar(
            select(Refund.id).where(
                Refund.chain == chain,
                Refund.tx_hash == seen.tx_hash,
                Refund.log_index == seen.log_index,
            )
        )
        is not None
    )


def _match(waiting: list[Refund], seen: _Transfer) -> Refund | None:
    """Return the waiting refund a transfer pays: exact amount first, then the oldest covered."""
    candidates = [
        r
        for r in waiting
        if (r.to_address or "").lower() == seen.to
        and (r.contract.lower() if r.contract else None) == seen.token
        and r.address_at is not None
        and seen.block_time >= r.address_at - CLOCK_SKEW
        and r.amount_base_units <= seen.amount
    ]
    exact = [r for r in candidates if r.amount_base_units == seen.amount]
    best = exact or candidates
    return best[0] if best else None


def _confirm(session: Session, tick: Tick) -> None:
    """Count confirmations of seen refund transfers; complete or drop them."""
    chain_settings = tick.chain_settings
    confirming = list(
        session.scalars(
            select(Refund).where(
                Refund.chain == chain_settings.name,
                Refund.status == RefundStatus.CONFIRMING.value,
            )
        )
    )
    seen = [Seen(r.block_number, r.block_hash, r.tx_hash) for r in confirming]
    for refund, standing in zip(confirming, tick.standings(seen), strict=True):
        if standing.orphaned:
            log.warning(
                "%s: refund %s transfer %s left the canonical chain; waiting for payment again",
                chain_settings.name,
                refund.id,
                refund.tx_hash,
            )
            drop_refund_transfer(refund)
            continue
        refund.confirmations = standing.confirmations
        if standing.final:
            complete_refund(session, tick.settings, refund, tick.now)
            log.info(
                "%s: refund %s confirmed (tx %s)",
                chain_settings.name,
                refund.id,
                refund.tx_hash,
            )
