"""The confirmation rule: own block counted, finality, orphans, receipt re-checks."""

from __future__ import annotations

import dataclasses

from relay.chain.protocol import BlockRef, Receipt
from relay.confirmations import Seen, Standing, judge, meets_rule, needs_receipt
from relay.settings import ChainSettings
from tests.conftest import make_settings

HASH = "0x" + "ab" * 32
OTHER = "0x" + "cd" * 32


def chain(confirmations: int = 3, finality: str | None = None) -> ChainSettings:
    dev = make_settings().chains["dev"]
    return dataclasses.replace(dev, confirmations=confirmations, finality=finality)


def test_confirmations_count_the_transfers_own_block() -> None:
    rule = chain(confirmations=3)
    assert not meets_rule(rule, block=10, head=11, finalized=None)  # 2 blocks
    assert meets_rule(rule, block=10, head=12, finalized=None)  # 3 blocks, its own counted


def test_finality_waits_for_the_finalized_block() -> None:
    rule = chain(finality="finalized")
    assert not meets_rule(rule, block=10, head=100, finalized=None)  # the node has none
    assert not meets_rule(rule, block=10, head=100, finalized=9)
    assert meets_rule(rule, block=10, head=100, finalized=10)


def test_a_transfer_off_the_canonical_chain_is_orphaned() -> None:
    rule, seen = chain(), Seen(10, HASH, "0x01")
    assert judge(rule, seen, None, None, 20, None) == Standing(orphaned=True)
    assert judge(rule, seen, BlockRef(10, OTHER, 0), None, 20, None) == Standing(orphaned=True)
    assert judge(rule, Seen(None, None, None), None, None, 20, None) == Standing(orphaned=True)


def test_the_receipt_is_rechecked_when_the_rule_is_first_met() -> None:
    rule, block = chain(confirmations=3), BlockRef(10, HASH, 0)
    seen = Seen(10, HASH, "0x01")
    assert not needs_receipt(rule, seen, 11, None)  # not yet final: no receipt asked for
    assert judge(rule, seen, block, None, 11, None) == Standing(False, 2, False)
    assert needs_receipt(rule, seen, 12, None)
    assert judge(rule, seen, block, None, 12, None) == Standing(orphaned=True)  # gone
    failed = Receipt(status=0, block_number=10, block_hash=HASH)
    assert judge(rule, seen, block, failed, 12, None) == Standing(orphaned=True)
    moved = Receipt(status=1, block_number=11, block_hash=OTHER)
    assert judge(rule, seen, block, moved, 12, None) == Standing(orphaned=True)
    ok = Receipt(status=1, block_number=10, block_hash=HASH)
    assert judge(rule, seen, block, ok, 12, None) == Standing(False, 3, True)
    # one already confirmed keeps counting without its receipt
    confirmed = dataclasses.replace(seen, recheck=False)
    assert not needs_receipt(rule, confirmed, 15, None)
    assert judge(rule, confirmed, block, None, 15, None) == Standing(False, 6, True)
