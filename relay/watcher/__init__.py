"""Watch each chain: a cursor tick that hands each scanned block range to recorders.

`scan_once` runs one tick (relay/watcher/tick.py: cursor, reorg re-reads, range, head and
finalized block) with the default `RECORDERS`, in order: payments to deposit addresses
(relay/watcher/payments.py, with internal native transfers in relay/watcher/balances.py) and the
merchant's refund transfers (relay/watcher/refunds.py). Both judge confirmations with the one
rule of relay/confirmations.py. A new recorder is a function `(session, tick) -> int` that records
what it finds in `tick.start..tick.end` and re-judges what it saw (`tick.standings`), added to
`RECORDERS` under its name. `sweep_expired` expires invoices once every chain has been scanned
past them.
"""

from __future__ import annotations

from datetime import datetime

from relay.chain.protocol import Chain
from relay.db import Database
from relay.settings import ChainSettings, Settings
from relay.watcher.payments import record_payments
from relay.watcher.refunds import record_refunds
from relay.watcher.tick import Recorder, Tick, run_tick, sweep_expired

RECORDERS: dict[str, Recorder] = {"payments": record_payments, "refunds": record_refunds}


def scan_once(
    db: Database, settings: Settings, chain_settings: ChainSettings, chain: Chain, now: datetime
) -> int:
    """Run one watcher tick for a chain with the default recorders; return the number of new
    payments recorded."""
    return run_tick(db, settings, chain_settings, chain, RECORDERS, now)["payments"]


__all__ = ["RECORDERS", "Recorder", "Tick", "run_tick", "scan_once", "sweep_expired"]
