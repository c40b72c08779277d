"""Find native ETH that reached deposit addresses inside contract calls (no top-level transfer).

Exchanges and multisigs often pay with an internal call, which neither logs nor a top-level
transaction shows. Each watched invoice with a native option keeps the last balance it saw; an
increase beyond the native payments recorded since is an internal transfer, located with call
traces (debug_traceBlockByNumber) or, where the node has none, recorded from the balance alone.
Part of the payment recorder (relay/watcher/payments.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from relay.chain.protocol import Chain, NativeTx
from relay.models import Payment, PaymentOption, PaymentState
from relay.records import ObservedTransfer
from relay.watcher.tick import Tick, block_at
from relay.watcher.watched import (
    Watched,
    load,
    native_symbol,
    native_transfer,
    record_found,
    watched_ids,
)

UNTRACED_LOG_INDEX = -2  # a native transfer found by balance, where the node offers no traces
INTERNAL_LOG_INDEX_BASE = 1_000_000  # internal transfers: the call's place in its tx trace + this


def record_internal(session: Session, tick: Tick, invoices: list[Watched]) -> int:
    """Record native ETH that reached `invoices` inside contract calls in the tick's range;
    keep each invoice's balance baseline; return the number of new payments."""
    chain_settings, chain, now = tick.chain_settings, tick.chain, tick.now
    start, end = tick.start, tick.end
    native = native_symbol(chain_settings)
    if native is None:
        return 0
    accepting = set(
        session.scalars(
            select(PaymentOption.invoice_id).where(
                PaymentOption.chain == chain_settings.name,
                PaymentOption.asset == native,
                PaymentOption.invoice_id.in_(watched_ids(chain_settings, now)),
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
            Payment.invoice_id.in_(watched_ids(chain_settings, now)),
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
    short: dict[str, Watched] = {}
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
    for invoice in load(session, moved):
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
            native_transfer(chain_settings.name, native, tx, INTERNAL_LOG_INDEX_BASE + tx.ordinal)
            for tx in calls
        ]
    return record_found(session, tick.settings, short, transfers, now)


def _untraced(
    chain_name: str,
    chain: Chain,
    short: dict[str, Watched],
    excess: dict[str, int],
    end: int,
    native: str,
) -> list[ObservedTransfer]:
    """Record unexplained balance increases as payments in block `end` (nodes without traces)."""
    ref = block_at(chain, end)
    transfers = []
    for address, watched in short.items():
        pseudo_hash = f"balance:{ref.hash}:{address}"
        tx = NativeTx(pseudo_hash, "", watched.deposit_address, excess[address], ref)
        transfers.append(native_transfer(chain_name, native, tx, UNTRACED_LOG_INDEX))
    return transfers
