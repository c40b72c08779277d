"""Decide whether a transfer the relay saw still counts and is final: the confirmation rule. Pure.

A chain's rule (`[chains.<name>]`): `confirmations = N` counts blocks on top of the transfer's
block, its own included (1 = just mined); `finality = "finalized"` (or "safe") waits until the
node's finalized block reaches it. A seen transfer whose block is no longer canonical is
orphaned; one that meets the rule for the first time must still have its receipt, successful, in
the same block (a settlement re-check). The payment and the refund recorders both judge with
`judge`; the watcher tick reads the blocks and receipts it needs (relay/watcher/tick.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.chain.protocol import BlockRef, Receipt
from relay.settings import ChainSettings


@dataclass(frozen=True)
class Seen:
    """A transfer as recorded: its block (number and hash; None when unknown) and tx hash.

    `recheck` asks for the receipt re-check once it meets the rule (False for one already
    confirmed, or one that has no real transaction, as a balance-only native payment).
    """

    block_number: int | None
    block_hash: str | None
    tx_hash: str | None
    recheck: bool = True


@dataclass(frozen=True)
class Standing:
    """What a seen transfer is now: `orphaned` (off the canonical chain, or its receipt failed the
    re-check), else `confirmations` (blocks, its own counted) and `final` (meets the rule)."""

    orphaned: bool
    confirmations: int = 0
    final: bool = False


def meets_rule(chain: ChainSettings, block: int, head: int, finalized: int | None) -> bool:
    """Tell whether a transfer in `block` meets the chain's rule at `head` / `finalized`."""
    if chain.finality:
        return finalized is not None and block <= finalized
    return head - block + 1 >= chain.confirmations


def needs_receipt(chain: ChainSettings, seen: Seen, head: int, finalized: int | None) -> bool:
    """Tell whether judging `seen` needs its receipt: it is re-checked and meets the rule."""
    return (
        seen.recheck
        and seen.block_number is not None
        and meets_rule(chain, seen.block_number, head, finalized)
    )


def judge(
    chain: ChainSettings,
    seen: Seen,
    canonical: BlockRef | None,
    receipt: Receipt | None,
    head: int,
    finalized: int | None,
) -> Standing:
    """Return a seen transfer's standing from the canonical block at its height and (when
    `needs_receipt`) its receipt; both as the chain answers now (None: none)."""
    if seen.block_number is None or canonical is None or canonical.hash != seen.block_hash:
        return Standing(orphaned=True)
    if needs_receipt(chain, seen, head, finalized) and (
        receipt is None or receipt.status != 1 or receipt.block_hash != seen.block_hash
    ):
        return Standing(orphaned=True)  # the receipt must still be there, successful
    return Standing(
        orphaned=False,
        confirmations=max(head - seen.block_number + 1, 0),
        final=meets_rule(chain, seen.block_number, head, finalized),
    )
