"""Spool lines of the inbox: one accepted order per line, read back into an inbox row or, when
it cannot be, into a dead letter.

A line is `[store, order id, topic, received (ISO 8601), n]` as JSON, a tab, and the order
document as n bytes of JSON (relay/inbox.py `Inbox.accept` writes it; the mover hands the
document to the database as it is, unparsed, for speed). Reading one ends in one of three ways:

- an inbox row (column → value), every value one the inbox's columns take (valid Unicode, no
  NUL, within its column's length);
- `TornLine`: the line is the start of one the relay wrote, ended early by a write that failed
  (relay/spool.py starts a new line after it), so no 200 was ever answered for it: left out;
- `PoisonLine`: anything else that cannot become a row (garbage, a lone surrogate in an id, an
  id past its column's length, a line from another program). It becomes a dead inbox row that
  keeps the line as text (`dead_row`), so nothing accepted is lost without a trace and the rest
  of the spool flows on.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table

from relay.faults import printable
from relay.models import InboxOrder, InboxStatus

_COLUMNS = cast(Table, InboxOrder.__table__).columns
# the lengths of the text columns a line's head fills (PostgreSQL refuses longer values)
LIMITS = {
    name: int(getattr(_COLUMNS[name].type, "length", 0) or 0)
    for name in ("store", "order_id", "topic")
}


class TornLine(Exception):
    """A spool line cut short by a failed write (never answered); the message says how."""


class PoisonLine(Exception):
    """A spool line that can never become an inbox row; the message says why."""


def encode_line(
    store: str, order_id: str, topic: str, received: datetime, document: bytes
) -> bytes:
    """Return the spool line of one accepted order (`document`: its JSON, ASCII)."""
    head = [store, order_id, topic, received.isoformat(), len(document)]
    return json.dumps(head, separators=(",", ":")).encode() + b"\t" + document


def row_of_line(line: bytes) -> dict[str, Any]:
    """Return the inbox row a spool line holds, queued and due at its receipt; `order` is the
    document's JSON text. raises TornLine or PoisonLine (module docstring)."""
    head_bytes, tab, document = line.partition(b"\t")
    try:
        head = json.loads(head_bytes)
    except UnicodeDecodeError as exc:
        raise PoisonLine(f"the line is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        if not tab and (exc.pos >= len(head_bytes) or exc.msg.startswith("Unterminated")):
            raise TornLine("it ends inside its head") from None
        raise PoisonLine(f"unreadable head ({exc.msg} at byte {exc.pos})") from None
    if not (isinstance(head, list) and len(head) == 5):
        raise PoisonLine("its head is not [store, order id, topic, received, length]")
    store, order_id, topic, received, size = head
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise PoisonLine(f"its head gives no document length ({printable(repr(size))[:40]})")
    if len(document) < size:
        raise TornLine(f"order document of {len(document)} bytes, not {size}")
    if len(document) > size:
        raise PoisonLine(f"order document of {len(document)} bytes, not {size}")
    try:
        text = document.decode()
    except UnicodeDecodeError as exc:
        raise PoisonLine(
            f"order document is not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    values = {
        name: _text(value, name)
        for name, value in zip(
            ("store", "order_id", "topic"), (store, order_id, topic), strict=True
        )
    }
    try:
        at = datetime.fromisoformat(_text(received, "received"))
    except ValueError:
        raise PoisonLine(f"received time {printable(str(received))[:40]!r} unreadable") from None
    if at.tzinfo is None:
        raise PoisonLine("received time without a time zone")
    return new_row(values["store"], values["order_id"], values["topic"], at, text)


def dead_row(line: bytes, reason: str, now: datetime) -> dict[str, Any]:
    """Return a dead inbox row keeping a spool line that could not be moved, for `reason`.

    `order` is `{"raw": <the line as text>}`: UTF-8 read with undecodable bytes as `\\xNN`
    escapes (a line the relay wrote is ASCII and comes back byte for byte). Store, order id and
    topic are the head's, where it can be read, made printable and cut to their columns.
    """
    head: Any = None
    with contextlib.suppress(ValueError):
        head = json.loads(line.partition(b"\t")[0])
    parts = [*head[:3], "", "", ""][:3] if isinstance(head, list) else ["", "", ""]
    store, order_id, topic = (
        printable(part)[: LIMITS[name]] if isinstance(part, str) else ""
        for name, part in zip(("store", "order_id", "topic"), parts, strict=True)
    )
    row = new_row(store, order_id, topic, now, {"raw": line.decode("utf-8", "backslashreplace")})
    return row | {"status": InboxStatus.DEAD.value, "last_error": reason, "dead_at": now}


def raw_line(document: Any) -> bytes | None:
    """Return the spool line a dead row keeps (see `dead_row`), or None for an order row."""
    if isinstance(document, dict) and set(document) == {"raw"} and isinstance(document["raw"], str):
        return document["raw"].encode("utf-8", "backslashreplace")
    return None


def new_row(
    store: str, order_id: str, topic: str, received_at: datetime, document: dict[str, Any] | str
) -> dict[str, Any]:
    """Return a new inbox row (column → value), due at once; `document` is the order document,
    or its JSON text."""
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
        "dead_at": None,
    }


def _text(value: Any, name: str) -> str:
    """Return a head value that the inbox's text columns take; raises PoisonLine."""
    if not isinstance(value, str):
        raise PoisonLine(f"{name} is not text")
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise PoisonLine(f"{name} is not valid Unicode ({exc.reason} at {exc.start})") from None
    if "\x00" in value:
        raise PoisonLine(f"{name} holds a NUL character")
    limit = LIMITS.get(name, 0)
    if limit and len(value) > limit:
        raise PoisonLine(f"{name} of {len(value)} characters, over its limit of {limit}")
    return value
