"""Dead letters of the inbox: accepted orders that got no invoice and are not tried again by
themselves (relay/inbox.py decides when; relay/faults.py why), shown and put back by an operator.

A dead letter is an inbox row with status "dead", its reason in `last_error` and the time in
`dead_at`. `retry` puts one back in the queue, due at once, with its tries counted from zero (one
kept from a spool line that could not be read is read again first, relay/inbox_lines.py). The
admin API (`GET /api/v1/admin/inbox`, `POST /api/v1/admin/inbox/<id>/retry`) and `relay inbox
list|retry` use this module.
"""

from __future__ import annotations

import json
import typing
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, String, Table, Text, cast, select, update

from relay.db import Database
from relay.errors import InboxConflict, InvoiceError, NotFound, PayloadError
from relay.faults import printable
from relay.inbox_lines import PoisonLine, TornLine, raw_line, row_of_line
from relay.models import InboxOrder, InboxStatus, Invoice
from relay.serialize import iso

MAX_ROW_ID = 2**63 - 1  # the largest id a 64-bit integer column holds


def dead_letter(db: Database, row_id: int, attempts: int, reason: str, now: datetime) -> None:
    """Mark an inbox row a dead letter with its reason (gone rows stay gone)."""
    with db.transaction() as session:
        session.execute(
            update(InboxOrder)
            .where(InboxOrder.id == row_id)
            .values(
                status=InboxStatus.DEAD.value, attempts=attempts, last_error=reason, dead_at=now
            )
        )


def merchant_note(row_id: int, reason: str, permanent: bool) -> str:
    """Return the order note that tells the merchant an order got no crypto invoice, and why."""
    cause = "it cannot be invoiced" if permanent else "opening it kept failing"
    return (
        "No crypto invoice was opened for this order, so the customer has no payment link: "
        f"{cause} ({reason}). After fixing the cause, run `relay inbox retry {row_id}` (or POST "
        f"/api/v1/admin/inbox/{row_id}/retry) to open it."
    )


def read_document(text: str) -> dict[str, Any]:
    """Return an inbox row's order document from its JSON text; raises PayloadError when it is
    not a JSON object whose texts are valid Unicode without NUL (relay/faults.py: permanent)."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PayloadError(f"order document unreadable ({exc})") from None
    if not isinstance(document, dict):
        raise PayloadError("order document is not a JSON object")
    for key, value in document.items():
        if isinstance(value, str) and not _storable(value):
            raise PayloadError(f"order field {key!r} is not valid Unicode text without NUL")
    check_fits(document)
    return document


# the lengths of the invoice columns an order's fields fill (PostgreSQL refuses longer values)
_INVOICE_COLUMNS = typing.cast(Table, Invoice.__table__).columns
INVOICE_LIMITS = {
    column.name: int(column.type.length)
    for column in _INVOICE_COLUMNS
    if isinstance(column.type, String) and column.type.length
}


def check_fits(document: dict[str, Any]) -> None:
    """Raise PayloadError when a text of an order document is longer than the invoice column
    it fills (the same answer on SQLite, which does not check, as on PostgreSQL)."""
    for key, value in document.items():
        limit = INVOICE_LIMITS.get(key)
        if limit and isinstance(value, str) and len(value) > limit:
            raise PayloadError(
                f"order field {key!r} of {len(value)} characters, over its limit of {limit}"
            )


def duration(delta: timedelta) -> str:
    """Return a time span in whole minutes, as `1 h 5 min` or `12 min`."""
    minutes = max(int(delta.total_seconds()) // 60, 0)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def row_id_of(text: str) -> int:
    """Return an inbox row id from a path segment; raises NotFound (404) for anything but
    ASCII digits within a 64-bit id."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_ROW_ID:
        raise NotFound(f"no inbox row {text[:40]!r}")
    return int(text)


_COLUMNS = (
    InboxOrder.id,
    InboxOrder.store,
    InboxOrder.order_id,
    InboxOrder.topic,
    InboxOrder.status,
    InboxOrder.attempts,
    InboxOrder.last_error,
    InboxOrder.received_at,
    InboxOrder.next_attempt_at,
    InboxOrder.dead_at,
    cast(InboxOrder.order, Text).label("document"),  # as text: a row Python cannot read shows
)


def list_rows(db: Database, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Return inbox rows as JSON (`inbox_json`), newest first, optionally of one status;
    raises PayloadError (400) for a status that is not an inbox status."""
    query = select(*_COLUMNS).order_by(InboxOrder.id.desc()).limit(limit)
    if status is not None:
        if status not in {s.value for s in InboxStatus}:
            known = ", ".join(s.value for s in InboxStatus)
            raise PayloadError(f"unknown inbox status {printable(status)[:40]!r} (one of {known})")
        query = query.where(InboxOrder.status == status)
    with db.transaction() as session:
        return [inbox_json(row._mapping) for row in session.execute(query)]


def retry(db: Database, row_id: int, now: datetime) -> dict[str, Any]:
    """Put a dead letter back in the queue, due now with no tries counted; return its JSON.

    raises NotFound (404) for no such row, InboxConflict (409) for a row that is not dead,
    InvoiceError (422) for a kept spool line that still cannot be read (its reason updated).
    """
    reason = None
    with db.transaction() as session:
        query = select(*_COLUMNS).where(InboxOrder.id == row_id)
        found = session.execute(query if db.is_sqlite else query.with_for_update()).first()
        if found is None:
            raise NotFound(f"no inbox row {row_id}")
        if found.status != InboxStatus.DEAD.value:
            raise InboxConflict(f"inbox row {row_id} is {found.status}, not dead")
        values: dict[str, Any] = {}
        line = _kept_line(found.document)
        if line is not None:
            try:
                fresh = row_of_line(line)
                document = read_document(fresh["order"])
            except (PoisonLine, TornLine, PayloadError) as exc:
                reason = values["last_error"] = f"still unreadable: {printable(str(exc))}"
            else:
                values = {k: fresh[k] for k in ("store", "order_id", "topic", "received_at")}
                values["order"] = document
        if reason is None:
            values |= {
                "status": InboxStatus.QUEUED.value,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "dead_at": None,
            }
        session.execute(update(InboxOrder).where(InboxOrder.id == row_id).values(**values))
        answer = inbox_json(
            session.execute(select(*_COLUMNS).where(InboxOrder.id == row_id)).one()._mapping
        )
    if reason is not None:
        raise InvoiceError(f"inbox row {row_id}: {reason}")
    return answer


def inbox_json(row: RowMapping) -> dict[str, Any]:
    """Return an inbox row (the columns of `_COLUMNS`) as the admin API and `relay inbox list`
    show it: id, store, order_id, topic, status, attempts, last_error, received_at,
    next_attempt_at, dead_at, and for a kept spool line `raw` (the line as text)."""
    data: dict[str, Any] = {
        "id": row["id"],
        "store": row["store"],
        "order_id": row["order_id"],
        "topic": row["topic"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "received_at": iso(row["received_at"]),
        "next_attempt_at": iso(row["next_attempt_at"]),
        "dead_at": iso(row["dead_at"]) if row["dead_at"] is not None else None,
    }
    line = _kept_line(row["document"])
    if line is not None:
        data["raw"] = line.decode("utf-8", "backslashreplace")
    return data


def _kept_line(text: str | None) -> bytes | None:
    """Return the spool line a dead row keeps, from its `order` JSON text, or None."""
    if not text or not text.lstrip().startswith('{"raw"'):
        return None
    try:
        return raw_line(json.loads(text))
    except ValueError:
        return None


def _storable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text
