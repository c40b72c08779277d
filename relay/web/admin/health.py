"""The dashboard's health page, and the Collect link's placeholder.

| route | what |
|---|---|
| `GET /admin/health` | per chain head, cursor and lag; inbox and outbox; `check-config`; version |
| `GET /admin/collect` | not available yet: collecting comes with collectors (issue 17) |

Heads are asked of each chain through the runtime's `probes` (the readiness probe's short
timeout), so a node that hangs shows as unreachable within seconds; cursors, inbox and outbox are
read from the database, as /metrics reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relay.chain import ChainUnavailable
from relay.config import summarize
from relay.inbox import counts as inbox_counts
from relay.models import ChainCursor, Delivery, DeliveryStatus, InboxOrder, InboxStatus, utcnow
from relay.web.admin.blueprint import bp, page
from relay.web.context import db_of, inbox_of, runtime_of, settings_of


@dataclass(frozen=True)
class ChainHealth:
    """One chain's watcher: the node's head (None and `error` when it did not answer), the
    watcher's cursor (None before its first scan) and the blocks between them."""

    name: str
    head: int | None
    error: str
    cursor: int | None
    cursor_at: datetime | None

    @property
    def lag(self) -> int | None:
        """Return head minus cursor in blocks, or None when either is unknown."""
        if self.head is None or self.cursor is None:
            return None
        return self.head - self.cursor


def relay_version() -> str:
    """Return the installed relay's version ("unknown" when not installed as a package)."""
    try:
        return version("relay")
    except PackageNotFoundError:
        return "unknown"


def _chains(cursors: dict[str, tuple[int, datetime]]) -> list[ChainHealth]:
    """Ask each chain's head (outside any database transaction: an RPC call may take seconds)."""
    found = []
    for name, probe in runtime_of(current_app).probes.items():
        head, error = None, ""
        try:
            head = probe.head()
        except ChainUnavailable as exc:
            error = str(exc)[:200]
        block, at = cursors.get(name, (None, None))
        found.append(ChainHealth(name, head, error, block, at))
    return found


def _outbox(session: Session, now: datetime) -> dict[str, Any]:
    by_status = dict(
        session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
    )
    pending = DeliveryStatus.PENDING.value
    oldest_due = session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(Delivery.status == pending)
    )
    failing = session.scalar(
        select(func.count(Delivery.id)).where(Delivery.status == pending, Delivery.last_error != "")
    )
    return {
        "counts": {s.value: int(by_status.get(s.value, 0)) for s in DeliveryStatus},
        "failing": int(failing or 0),
        "oldest_due": oldest_due,
        "oldest_due_seconds": max(int((now - oldest_due).total_seconds()), 0) if oldest_due else 0,
    }


def _inbox(session: Session, now: datetime) -> dict[str, Any]:
    oldest_due = session.scalar(
        select(func.min(InboxOrder.next_attempt_at)).where(
            InboxOrder.status == InboxStatus.QUEUED.value
        )
    )
    return {
        "counts": inbox_counts(session),
        "spooled": inbox_of(current_app).spooled(),
        "oldest_due": oldest_due,
        "oldest_due_seconds": max(int((now - oldest_due).total_seconds()), 0) if oldest_due else 0,
    }


@bp.get("/health")
def health() -> Any:
    """Show the watchers, the inbox and outbox, what `relay check-config` says, the version."""
    settings = settings_of(current_app)
    now = utcnow()
    with db_of(current_app).transaction() as session:
        cursors = {
            c.chain: (c.block_number, c.updated_at) for c in session.scalars(select(ChainCursor))
        }
        outbox = _outbox(session, now)
        inbox = _inbox(session, now)
    return page(
        "health.html",
        chains=_chains(cursors),
        outbox=outbox,
        inbox=inbox,
        check_config=summarize(settings),
        warnings=settings.warnings,
        version=relay_version(),
    )


@bp.get("/collect")
def collect() -> Any:
    """Say that collecting from the dashboard is not available yet."""
    return page("collect.html")
