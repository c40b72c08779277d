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

No message can stop the inbox (relay/faults.py tells the causes apart). A rate outage, or a
chain that cannot be asked whether the next deposit address is unused (relay/address_checks.py),
delays the invoice instead of refusing the webhook: the row is tried again after each wait of
`relay.inbox_retry_seconds`, then it becomes a dead letter and the merchant gets one note. A row
that can never be invoiced (its store left the configuration, an order the relay cannot read or
the database refuses) is a dead letter at once; so is a spool line that cannot become a row
(relay/inbox_lines.py). Dead letters keep status "dead" with the reason in `last_error`, are
counted by /metrics, listed and put back by the admin API and `relay inbox` (`retry`), and
never hold up the rows after them. The route refuses (422) an order that can never be invoiced
(`invoices.check_order`) before it is stored.
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

from sqlalchemy import Table, Text, delete, func, select, update
from sqlalchemy import cast as cast_
from sqlalchemy.orm import Session

from relay.address_checks import UsageReader
from relay.db import Database, GroupedInserts
from relay.dead_letters import dead_letter, duration, merchant_note, read_document
from relay.errors import InvoiceError
from relay.faults import describe, is_known, is_permanent, printable
from relay.inbox_lines import PoisonLine, TornLine, dead_row, encode_line, new_row, row_of_line
from relay.invoices import open_invoice
from relay.models import InboxOrder, InboxStatus, utcnow
from relay.pricing import Rates
from relay.records import OrderData
from relay.settings import RelaySettings, Settings
from relay.spool import Spool

log = logging.getLogger(__name__)

BATCH = 50
LEASE_SECONDS = 120  # a worker killed mid-batch leaves its rows to the next claim after this
RETRY_SECONDS = RelaySettings.inbox_retry_seconds  # the default of `relay.inbox_retry_seconds`
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
            self.spool.append(encode_line(order.store, order.order_id, topic[:64], now, document))
            return
        self._inserts.insert(
            _row(order.store, order.order_id, topic[:64], now, order_document(order))
        )
        if self._on_accepted is not None:
            self._on_accepted()

    def wake(self) -> None:
        """Tell the inbox job (when it runs in this process) that rows are due now."""
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
        """Insert spooled lines as inbox rows (the spool's `move`), in order; raises (the lines
        are offered again) only for a cause that may heal, such as the database being away.

        A line is read by relay/inbox_lines.py and its document goes to the database as it is
        (no parsing here). A line cut short by a failed write is left out (never answered); one
        that cannot become a row, or that the database refuses, becomes a dead row keeping the
        line (`inbox_lines.dead_row`), with one log line, and the others go on.
        """
        now = utcnow()
        good: list[tuple[bytes, tuple[Any, ...]]] = []
        dead: list[dict[str, Any]] = []
        for line in lines:
            try:
                row = row_of_line(line)
                good.append((line, self._inserts.values(row, encoded=("order",))))
            except TornLine as exc:
                log.warning("inbox: spool line left out, %s: %s", exc, printable(repr(line[:200])))
            except (PoisonLine, KeyError, ValueError, TypeError) as exc:
                dead.append(dead_row(line, printable(str(exc)), now))
        for start in range(0, len(good), GroupedInserts.MAX_ROWS):
            chunk = good[start : start + GroupedInserts.MAX_ROWS]
            try:
                self._inserts.insert_values([values for _, values in chunk])
            except Exception as exc:
                if not is_permanent(exc):
                    raise
                dead.extend(self._insert_one_by_one(chunk, now))
        for row in dead:
            self._insert_dead(row)
        if (good or dead) and self._on_accepted is not None:
            self._on_accepted()

    def _insert_one_by_one(
        self, chunk: list[tuple[bytes, tuple[Any, ...]]], now: datetime
    ) -> list[dict[str, Any]]:
        """Insert a batch the database refused line by line; return dead rows for the lines it
        refuses for good (raises for a cause that may heal)."""
        dead = []
        for line, values in chunk:
            try:
                self._inserts.insert_values([values])
            except Exception as exc:
                if not is_permanent(exc):
                    raise
                dead.append(dead_row(line, describe(exc), now))
        return dead

    def _insert_dead(self, row: dict[str, Any]) -> None:
        """Store a dead row for a spool line, with one log line; if even that is refused for
        good, log the line (escaped) so it is not lost without a trace."""
        where = f"store {row['store'] or '?'} order {row['order_id'] or '?'}"
        try:
            self._inserts.insert_values([self._inserts.values(row)])
        except Exception as exc:
            if not is_permanent(exc):
                raise
            log.error(
                "inbox: %s: spool line dropped, unreadable (%s) and not storable (%s): %s",
                where,
                row["last_error"],
                describe(exc),
                printable(row["order"]["raw"][:2000]),
            )
            return
        log.warning("inbox: %s: spool line dead-lettered: %s", where, row["last_error"])


def _row(
    store: str, order_id: str, topic: str, received_at: datetime, document: dict[str, Any] | str
) -> dict[str, Any]:
    """Return a new inbox row (column → value), due at once (relay/inbox_lines.py `new_row`)."""
    return new_row(store, order_id, topic, received_at, document)


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
    """An inbox row a worker claimed: its id, store, order id, the order document as JSON text
    (read as text, so a document the database kept but Python cannot read fails this row only),
    tries so far and when it was received."""

    id: int
    store: str
    order_id: str
    document: str
    attempts: int
    received_at: datetime


def claim_due(db: Database, now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Claim up to `limit` queued rows whose time has come, oldest first.

    A claim moves the row's `next_attempt_at` one lease ahead, so no other worker takes it
    meanwhile (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer at a time anyway).
    """
    with db.transaction() as session:
        query = (
            select(
                InboxOrder.id,
                InboxOrder.store,
                InboxOrder.order_id,
                cast_(InboxOrder.order, Text),
                InboxOrder.attempts,
                InboxOrder.received_at,
            )
            .where(InboxOrder.status == InboxStatus.QUEUED.value, InboxOrder.next_attempt_at <= now)
            .order_by(InboxOrder.id)
            .limit(limit)
        )
        claimed = [Claimed(*row) for row in session.execute(db.for_claim(query))]
        if claimed:
            session.execute(
                update(InboxOrder)
                .where(InboxOrder.id.in_([row.id for row in claimed]))
                .values(next_attempt_at=now + timedelta(seconds=LEASE_SECONDS))
            )
        return claimed


Notify = Callable[[str, str, str], None]  # (store, order id, note text): tell the merchant


def open_queued(
    db: Database,
    settings: Settings,
    now: datetime,
    rates: Rates,
    limit: int = BATCH,
    notify: Notify | None = None,
    usage: UsageReader | None = None,
) -> int:
    """Open the invoices of up to `limit` due inbox rows; return how many rows were handled.

    `usage` checks xpub addresses before they are handed out (relay/address_checks.py).

    Each row is its own unit: an invoice opened (or found: a duplicate webhook) deletes the row
    (the batch's rows in one transaction at the end; a crash before it only makes the next claim
    find the invoices open). A failure that may heal (relay/faults.py: a rate outage, the
    database or a node away) schedules the row again after the next wait of
    `relay.inbox_retry_seconds`; one that cannot, or the last allowed try, makes the row a dead
    letter, and `notify` (when given) tells the merchant with one order note. One log line when
    a row starts failing, one when it recovers or is dead-lettered. Never raises for one row's
    problem.
    """
    claimed = claim_due(db, now, limit)
    done = [row.id for row in claimed if _open_one(db, settings, row, now, rates, notify, usage)]
    if done:
        with db.transaction() as session:
            session.execute(delete(InboxOrder).where(InboxOrder.id.in_(done)))
    return len(claimed)


def open_all(
    db: Database,
    settings: Settings,
    rates: Rates,
    usage: UsageReader | None = None,
    notify: Notify | None = None,
) -> int:
    """Run `open_queued` at the clock's time until no row is due; return the rows handled."""
    handled = 0
    while (batch := open_queued(db, settings, utcnow(), rates, notify=notify, usage=usage)) > 0:
        handled += batch
    return handled


def _open_one(
    db: Database,
    settings: Settings,
    row: Claimed,
    now: datetime,
    rates: Rates,
    notify: Notify | None,
    usage: UsageReader | None,
) -> bool:
    """Open one claimed row's invoice; return True when the row is done with."""
    try:
        if row.store not in settings.stores:
            raise InvoiceError(f"no store named {row.store!r} in the configuration")
        invoice, created = open_invoice(
            db, settings, order_of(read_document(row.document)), now, rates, usage
        )
    except Exception as exc:
        _failed(db, settings, row, now, exc, notify)
        return False
    if row.attempts:
        log.warning(
            "store %s order %s: invoice %s opened after %d failed tries",
            row.store,
            printable(row.order_id),
            invoice.id,
            row.attempts,
        )
    elif created:
        log.info("store %s: order %s → invoice %s", row.store, invoice.order_id, invoice.id)
    return True


def _failed(
    db: Database,
    settings: Settings,
    row: Claimed,
    now: datetime,
    exc: Exception,
    notify: Notify | None,
) -> None:
    """Schedule a failed row's next try, or make it a dead letter (module docstring)."""
    reason = describe(exc)
    waits = settings.relay.inbox_retry_seconds
    where = f"store {printable(row.store)} order {printable(row.order_id)}"
    if is_permanent(exc) or row.attempts >= len(waits):
        if not is_permanent(exc):
            span = duration(now - row.received_at)
            reason = f"gave up after {row.attempts + 1} tries over {span}: {reason}"
        dead_letter(db, row.id, row.attempts + 1, reason, now)
        log.warning("%s: dead letter (inbox row %d): %s", where, row.id, reason)
        if notify is not None and row.store in settings.stores:
            try:
                notify(row.store, row.order_id, merchant_note(row.id, reason, is_permanent(exc)))
            except Exception as failed:  # the row is dead already; the note is a courtesy
                log.warning("%s: the merchant could not be told (%s)", where, describe(failed))
        return
    wait = waits[row.attempts]
    _record_try(db, row, last_error=reason, next_attempt_at=now + timedelta(seconds=wait))
    if row.attempts == 0:  # one line when it starts failing; a bug's traceback once
        log.warning(
            "%s: no invoice yet (%s); trying again, next in %d s",
            where,
            reason,
            wait,
            exc_info=not is_known(exc),
        )
    else:
        log.debug("%s: no invoice yet (%s); again in %d s", where, reason, wait)


def _record_try(db: Database, claimed: Claimed, **values: Any) -> None:
    """Count one more try on a claimed row and set `values` on it (gone rows stay gone)."""
    with db.transaction() as session:
        session.execute(
            update(InboxOrder)
            .where(InboxOrder.id == claimed.id)
            .values(attempts=claimed.attempts + 1, **values)
        )


def counts(session: Session) -> dict[str, int]:
    """Return the number of inbox rows per status ("queued", "dead")."""
    rows = session.execute(select(InboxOrder.status, func.count()).group_by(InboxOrder.status))
    found = {str(status): int(count) for status, count in rows}
    return {status.value: found.get(status.value, 0) for status in InboxStatus}
