"""Describe what the relay needs from a chain: the `Chain` protocol and its plain records.

No web3 here: the watcher and its recorders depend on this module only, so tests may pass any
implementation (relay/chain/rpc.py is the JSON-RPC one).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class BlockRef:
    """A block's number, hash (0x hex) and timestamp (unix seconds)."""

    number: int
    hash: str
    timestamp: int


@dataclass(frozen=True)
class NativeTx:
    """A top-level transaction carrying value: hash, sender, recipient, value in wei, block."""

    tx_hash: str
    sender: str
    to: str
    value: int
    block: BlockRef
    ordinal: int = 0  # for a transfer inside a contract call: the call's place in the tx trace


@dataclass(frozen=True)
class Receipt:
    """A mined transaction's outcome: status 1 success / 0 failed, and where it was mined."""

    status: int
    block_number: int
    block_hash: str


@dataclass(frozen=True)
class TokenTransfer:
    """An ERC-20 Transfer log: token contract, from, to, amount in base units, position."""

    token: str
    sender: str
    to: str
    amount: int
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str


class Chain(Protocol):
    """What the watcher needs from a chain; methods raise ChainUnavailable when no RPC answers."""

    def head(self) -> int:
        """Return the latest block number."""
        ...

    def pinned(self) -> AbstractContextManager[int]:
        """Read from one node only inside the block (the most advanced one); yield its head.

        A call that node cannot answer raises ChainUnavailable: no read inside mixes nodes.
        """
        ...

    def finalized(self) -> int | None:
        """Return the latest finalized block number, or None if the node has none."""
        ...

    def blocks(self, numbers: Sequence[int]) -> dict[int, BlockRef]:
        """Return canonical block refs for the numbers that exist."""
        ...

    def native_transfers(self, recipients: set[str], start: int, end: int) -> list[NativeTx]:
        """Return value-carrying top-level txs to `recipients` (lowercase) in [start, end]."""
        ...

    def token_transfers(
        self, tokens: Sequence[str], recipients: Sequence[str], start: int, end: int
    ) -> list[TokenTransfer]:
        """Return Transfer logs of `tokens` to `recipients` in blocks [start, end]."""
        ...

    def receipts(self, tx_hashes: Sequence[str]) -> dict[str, Receipt]:
        """Return each mined transaction's receipt; ones not (or no longer) mined are absent."""
        ...

    def balances(self, addresses: Sequence[str], block: int) -> dict[str, int]:
        """Return each address's native balance in wei at `block` (lowercase address keys)."""
        ...

    def internal_transfers(self, block: int, recipients: set[str]) -> list[NativeTx] | None:
        """Return value transfers to `recipients` made inside contracts in `block` (call traces),
        or None when the node offers no tracing."""
        ...
