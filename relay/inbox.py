"""The inbox: orders the webhook route accepted, opened as invoices by a job.

The webhook route verifies the signature and reads the order (relay/inbound.py), queues it with
`Inbox.accept` and answers 200; `open_all` (the scheduler's inbox job, woken once the row is in
the table) opens each row's invoice with `open_invoice` and deletes the row. In `relay serve`
the accept is one line appended to the spool (relay/spool.py), which a thread moves into the
table; elsewhere it is a committed row. So a webhook costs the request one write (bench/README.md,
ingest: a burst is answered at several times the rate invoices open), nothing answered is lost
to a crash of the relay (the line is written, or the row committed, before the 200), and a crash
between opening and deleting, or a line moved twice, opens nothing twice (`open_invoice` is
idempotent per order).

A rate outage, or a chain that cannot be asked whether the next deposit address is unused
(relay/address_checks.py), delays the invoice instead of refusing the webhook: the row is tried
again after `RETRY_SECONDS` (the last wait repeats). The route refuses (422) an order that can
never be invoiced (`invoices.check_order`); a row that still cannot be (its store left the
configuration) keeps status "failed" with the reason in `last_error`, counted by /metrics.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from relay.address_checks import UsageReader
from relay.db import Database, GroupedInserts
from relay.errors import ChainError, InvoiceError, RateUnavailable
from relay.invoices import open_invoice
from relay.models import InboxOrder, InboxStatus, utcnow
from relay.pricing import Rates
from relay.records import OrderData
from relay.settings import Settings
from relay.spool import Spool

log = logging.getLogger(__name__)

BATCH = 50
LEASE_SECONDS = 120  # a worker killed mid-batch leaves its rows to the next claim after this
RETRY_SECONDS = (5, 30, 120, 300)
SPOOL_SECONDS = 0.05  # how often the spool's thread moves accepted orders into the table


class Inbox:
    """Where the webhook route queues orders for their invoices (one per app and database).

    Without a spool directory, `accept` commits the row before it returns (concurrent calls
    share one commit). With one (`relay serve`), `accept` appends the row to the spool
    (relay/spool.py) and returns; the spool's thread moves the rows into the table within
    `SPOOL_SECONDS`, many per statement. `on_accepted` is called once rows are in the table: the
    inbox job's wake when it runs in the same process (`relay.scheduler.Worker.wake_inbox`);
    without one, the job polls. raises SpoolError when the spool directory is unusable.
    """

    def __init__(
        self,
        db: Database,
        on_accepted: Callable[[], None] | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self._inserts = GroupedInserts(db, cast(Table, InboxOrder.__table__))
        self._on_accepted = on_accepted
        self.spool: Spool | None = None
        if spool_dir is not None:
            self.spool = Spool(spool_dir, self._move, SPOOL_SECONDS)
            self.spool.start()

    def accept(self, order: OrderData, topic: str, now: datetime) -> None:
        """Queue one verified order; return once it survives the relay's crash: its row
        committed, or with a spool, its line written (relay/spool.py)."""
        if self.spool is not None:
            document = json.dumps(order_document(order), separators=(",", ":")).encode()
            head = [order.store, order.order_id, topic[:64], now.isoformat(), len(document)]
            self.spool.append(json.dumps(head, separators=(",", ":")).encode() + b"\t" + document)
            return
        self._inserts.insert(
            _row(order.store, order.order_id, topic[:64], now, order_document(order))
        )
        if self._on_accepted is not None:
            self._on_accepted()

    def spooled(self) -> int:
        """Return how many accepted orders wait in this process's spool (not in the table yet)."""
        return self.spool.pending() if self.spool is not None else 0

    def close(self) -> None:
        """Move what the spool holds and stop its thread."""
        if self.spool is not None:
            self.spool.close()

    def _move(self, lines: list[bytes]) -> None:
        """Insert spooled lines as inbox rows (the spool's `move`); a line that cannot be read
        (never one the relay wrote whole) is logged and left out.

        A line is `[store, order id, topic, received (ISO 8601), n]`, a tab, and the order
        document as n bytes of JSON, which goes to the database as it is (no parsing here).
        """
        rows = []
        for line in lines:
            try:
                head, _, document = line.partition(b"\t")
                store, order_id, topic, received, size = json.loads(head)
                if len(document) != size:  # a write cut short, then ended by the next line
                    raise ValueError(f"order document of {len(document)} bytes, not {size}")
                at = datetime.fromisoformat(received)
                row = _row(store, order_id, topic, at, document.decode())
                rows.append(self._inserts.values(row, encoded=("order",)))
            except (ValueError, TypeError, KeyError) as exc:
                log.error("inbox: spool line left out, unreadable (%s): %r", exc, line[:300])
        if rows:
            self._inserts.insert_values(rows)
            if self._on_accepted is not None:
                self._on_accepted()


def _row(
    store: str, order_id: str, topic: str, received_at: datetime, document: dict[str, Any] | str
) -> dict[str, Any]:
    """Return a new inbox row (column → value), due at once; `document` is the order document,
    or its JSON text (see `Inbox._move`)."""
    return {
        "store": store,
        "order_id": order_id,
        "topic": topic,
        "order": document,
        "status": InboxStatus.QUEUED.value,
        "attempts": 0,
        "next_attempt_at": received_at,
        "last_error": "",
        "received_at": received_at,
    }


def order_document(order: OrderData) -> dict[str, Any]:
    """Return an order as the inbox stores it: OrderData's fields, `total` a decimal string."""
    document: dict[str, Any] = {field.name: getattr(order, field.name) for field in fields(order)}
    document["total"] = str(order.total)
    return document


def order_of(document: dict[str, Any]) -> OrderData:
    """Return the OrderData an inbox row stores (the inverse of `order_document`)."""
    return OrderData(**{**document, "total": Decimal(document["total"])})


@dataclass(frozen=True)
class Claimed:
    """An inbox row a worker claimed: its id, store, order document and tries so far."""

    id: int
    store: str
    order: dict[str, Any]
    attempts: int


def claim_due(db: Database, now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Claim up to `limit` queued rows whose time has come, oldest first.

    A claim moves the row's `next_attempt_at` one lease ahead, so no other worker takes it
    meanwhile (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer at a time anyway).
    """
    with db.transaction() as session:
        query = (
            select(InboxOrder)
            .where(InboxOrder.status == InboxStatus.QUEUED.value, InboxOrder.next_attempt_at <= now)
            .order_by(InboxOrder.id)
            .limit(limit)
        )
        rows = list(session.scalars(db.for_claim(query)))
        for row in rows:
            row.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
        return [Claimed(row.id, row.store, dict(row.order), row.attempts) for row in rows]


def open_queued(
    db: Database,
    settings: Settings,
    now: datetime,
    rates: Rates,
    limit: int = BATCH,
    usage: UsageReader | None = None,
) -> int:
    """Open the invoices of up to `limit` due inbox rows; return how many rows were handled.

    `usage` checks xpub addresses before they are handed out (relay/address_checks.py).

    Each row is its own unit: an invoice opened (or found: a duplicate webhook) deletes the row
    (the batch's rows in one transaction at the end; a crash before it only makes the next claim
    find the invoices open); a rate outage or an unexpected error schedules the row again; an
    order that can never be invoiced is marked "failed". Never raises for one row's problem.
    """
    claimed = claim_due(db, now, limit)
    done = [row.id for row in claimed if _open_one(db, settings, row, now, rates, usage)]
    if done:
        with db.transaction() as session:
            session.execute(delete(InboxOrder).where(InboxOrder.id.in_(done)))
    return len(claimed)


def open_all(
    db: Database, settings: Settings, rates: Rates, usage: UsageReader | None = None
) -> int:
    """Run `open_queued` at the clock's time until no row is due; return the rows handled."""
    handled = 0
    while (batch := open_queued(db, settings, utcnow(), rates, usage=usage)) > 0:
        handled += batch
    return handled


def _open_one(
    db: Database,
    settings: Settings,
    row: Claimed,
    now: datetime,
    rates: Rates,
    usage: UsageReader | None,
) -> bool:
    """Open one claimed row's invoice; return True when the row is done with."""
    order_id = row.order.get("order_id")
    try:
        if row.store not in settings.stores:
            raise InvoiceError(f"no store named {row.store!r} in the configuration")
        invoice, created = open_invoice(db, settings, order_of(row.order), now, rates, usage)
    except (RateUnavailable, ChainError) as exc:
        _retry(db, row, now, exc.message, logging.WARNING)
        return False
    except InvoiceError as exc:
        _record_try(db, row, last_error=exc.message, status=InboxStatus.FAILED.value)
        log.error("store %s order %s: no invoice: %s", row.store, order_id, exc.message)
        return False
    except Exception as exc:  # a database or node hiccup: this row waits, the others go on
        log.exception("store %s order %s: opening failed", row.store, order_id)
        _retry(db, row, now, f"{type(exc).__name__}: {exc}", logging.DEBUG)
        return False
    if created:
        log.info("store %s: order %s → invoice %s", row.store, invoice.order_id, invoice.id)
    return True


def _retry(db: Database, claimed: Claimed, now: datetime, error: str, level: int) -> None:
    wait = RETRY_SECONDS[min(claimed.attempts, len(RETRY_SECONDS) - 1)]
    _record_try(db, claimed, last_error=error, next_attempt_at=now + timedelta(seconds=wait))
    log.log(
        level,
        "store %s order %s: no invoice yet (%s); again in %d s",
        claimed.store,
        claimed.order.get("order_id"),
        error,
        wait,
    )


def _record_try(db: Database, claimed: Claimed, **values: Any) -> None:
    """Count one more try on a claimed row and set `values` on it (gone rows stay gone)."""
    with db.transaction() as session:
        session.execute(
            update(InboxOrder)
            .where(InboxOrder.id == claimed.id)
            .values(attempts=claimed.attempts + 1, **values)
        )


def counts(session: Session) -> dict[str, int]:
    """Return the number of inbox rows per status ("queued", "failed")."""
    rows = session.execute(select(InboxOrder.status, func.count()).group_by(InboxOrder.status))
    found = {str(status): int(count) for status, count in rows}
    return {status.value: found.get(status.value, 0) for status in InboxStatus}
