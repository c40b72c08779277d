"""The inbox: orders the webhook route accepted, opened as invoices by a job.

The webhook route verifies the signature and reads the order (relay/inbound.py), writes one inbox
row with `Inbox.accept` and answers 200; `open_queued` (the scheduler's inbox job, woken by the
route in the same process) opens each row's invoice with `open_invoice` and deletes the row. So a
webhook costs the request one insert (bench/README.md, ingest: a burst is answered at several
times the rate invoices open), nothing accepted is lost (the row is committed before the 200),
and a crash between opening and deleting opens nothing twice (`open_invoice` is idempotent per
order).

A rate outage delays the invoice instead of refusing the webhook: the row is tried again after
`RETRY_SECONDS` (the last wait repeats). The route refuses (422) an order that can never be
invoiced (`invoices.check_order`); a row that still cannot be (its store left the configuration)
keeps status "failed" with the reason in `last_error`, counted by /metrics.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from relay.config import Settings
from relay.db import Database, GroupedInserts
from relay.errors import InvoiceError, RateUnavailable
from relay.invoices import OrderData, open_invoice
from relay.models import InboxOrder
from relay.pricing import Rates

log = logging.getLogger(__name__)

BATCH = 50
LEASE_SECONDS = 120  # a worker killed mid-batch leaves its rows to the next claim after this
RETRY_SECONDS = (5, 30, 120, 300)


class Inbox:
    """Where the webhook route queues orders for their invoices (one per app and database)."""

    def __init__(self, db: Database) -> None:
        self._inserts = GroupedInserts(db, cast(Table, InboxOrder.__table__))

    def accept(self, order: OrderData, topic: str, now: datetime) -> None:
        """Queue one verified order; return once its row is committed (concurrent calls share
        one commit: relay.db.GroupedInserts)."""
        self._inserts.insert(
            {
                "store": order.store,
                "order_id": order.order_id,
                "topic": topic[:64],
                "order": order_document(order),
                "status": "queued",
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "received_at": now,
            }
        )


def order_document(order: OrderData) -> dict[str, Any]:
    """Return an order as the inbox stores it: OrderData's fields, `total` a decimal string."""
    document: dict[str, Any] = {field.name: getattr(order, field.name) for field in fields(order)}
    document["total"] = str(order.total)
    return document


def order_of(document: dict[str, Any]) -> OrderData:
    """Return the OrderData an inbox row stores (the inverse of `order_document`)."""
    return OrderData(**{**document, "total": Decimal(document["total"])})


def claim_due(db: Database, now: datetime, limit: int = BATCH) -> list[int]:
    """Claim up to `limit` queued rows whose time has come, oldest first; return their ids.

    A claim moves the row's `next_attempt_at` one lease ahead, so no other worker takes it
    meanwhile (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer at a time anyway).
    """
    with db.transaction() as session:
        query = (
            select(InboxOrder)
            .where(InboxOrder.status == "queued", InboxOrder.next_attempt_at <= now)
            .order_by(InboxOrder.id)
            .limit(limit)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        for row in rows:
            row.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
        return [row.id for row in rows]


def open_queued(
    db: Database,
    settings: Settings,
    now: datetime,
    rates: Rates | None = None,
    limit: int = BATCH,
) -> int:
    """Open the invoices of up to `limit` due inbox rows; return how many rows were handled.

    Each row is its own unit: an invoice opened (or found: a duplicate webhook) deletes the row;
    a rate outage or an unexpected error schedules it again; an order that can never be
    invoiced is marked "failed". Never raises for one row's problem.
    """
    ids = claim_due(db, now, limit)
    for row_id in ids:
        _open_one(db, settings, row_id, now, rates)
    return len(ids)


def _open_one(
    db: Database, settings: Settings, row_id: int, now: datetime, rates: Rates | None
) -> None:
    with db.transaction() as session:
        row = session.get(InboxOrder, row_id)
        if row is None:
            return
        store, document, attempts = row.store, dict(row.order), row.attempts
    try:
        if store not in settings.stores:
            raise InvoiceError(f"no store named {store!r} in the configuration")
        invoice, created = open_invoice(db, settings, order_of(document), now, rates)
    except RateUnavailable as exc:
        _retry(db, row_id, attempts, now, exc.message, logging.WARNING)
        return
    except InvoiceError as exc:
        with db.transaction() as session:
            failed = session.get(InboxOrder, row_id)
            if failed is not None:
                failed.status = "failed"
                failed.attempts = attempts + 1
                failed.last_error = exc.message
        log.error("store %s order %s: no invoice: %s", store, document["order_id"], exc.message)
        return
    except Exception as exc:  # a database or node hiccup: this row waits, the others go on
        log.exception("store %s order %s: opening failed", store, document["order_id"])
        _retry(db, row_id, attempts, now, f"{type(exc).__name__}: {exc}", logging.DEBUG)
        return
    with db.transaction() as session:
        session.execute(delete(InboxOrder).where(InboxOrder.id == row_id))
    if created:
        log.info("store %s: order %s → invoice %s", store, invoice.order_id, invoice.id)


def _retry(db: Database, row_id: int, attempts: int, now: datetime, error: str, level: int) -> None:
    wait = RETRY_SECONDS[min(attempts, len(RETRY_SECONDS) - 1)]
    with db.transaction() as session:
        row = session.get(InboxOrder, row_id)
        if row is None:
            return
        row.attempts = attempts + 1
        row.next_attempt_at = now + timedelta(seconds=wait)
        row.last_error = error
        log.log(
            level,
            "store %s order %s: no invoice yet (%s); again in %d s",
            row.store,
            row.order_id,
            error,
            wait,
        )


def counts(session: Session) -> dict[str, int]:
    """Return the number of inbox rows per status ("queued", "failed")."""
    rows = session.execute(select(InboxOrder.status, func.count()).group_by(InboxOrder.status))
    found = {str(status): int(count) for status, count in rows}
    return {"queued": found.get("queued", 0), "failed": found.get("failed", 0)}
