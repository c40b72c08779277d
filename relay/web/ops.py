"""Operations endpoints: liveness, readiness (database and every chain), Prometheus metrics.

Metrics are read from the database at scrape time, so `relay serve` reports the work of every
`relay worker` sharing its database: invoices by status, deliveries by status, the oldest due
delivery's age, and each chain watcher's cursor and how far behind the head it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from relay.chain import ChainUnavailable
from relay.db import Database
from relay.inbox import counts as inbox_counts
from relay.models import ChainCursor, Delivery, DeliveryStatus, Invoice, utcnow
from relay.web.context import db_of, inbox_of, runtime_of

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """Answer liveness: the process serves requests."""
    return jsonify({"ok": True})


@bp.get("/readyz")
def readyz() -> Any:
    """Answer readiness: 200 when the database and every chain's RPC answer, else 503."""
    report: dict[str, Any] = {"database": "ok", "chains": {}}
    ok = True
    try:
        with db_of(current_app).transaction() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        report["database"], ok = type(exc).__name__, False
    for name, chain in runtime_of(current_app).probes.items():
        try:
            report["chains"][name] = {"head": chain.head()}
        except ChainUnavailable as exc:
            report["chains"][name], ok = {"error": str(exc)[:200]}, False
    report["ok"] = ok
    return jsonify(report), 200 if ok else 503


class _StateCollector(Collector):
    """Collect gauges from the database at scrape time."""

    def __init__(self, db: Database, heads: dict[str, int], spooled: int) -> None:
        self.db = db
        self.heads = heads
        self.spooled = spooled  # read before the table: an order moved meanwhile is counted there

    def collect(self) -> Iterator[GaugeMetricFamily]:
        invoices = GaugeMetricFamily(
            "relay_invoices", "Invoices by store and status.", labels=["store", "status"]
        )
        deliveries = GaugeMetricFamily(
            "relay_deliveries", "Outbox deliveries by status.", labels=["status"]
        )
        oldest = GaugeMetricFamily(
            "relay_delivery_oldest_due_seconds", "Age of the oldest due pending delivery."
        )
        cursor_block = GaugeMetricFamily(
            "relay_watcher_cursor_block", "Last block the watcher scanned.", labels=["chain"]
        )
        lag = GaugeMetricFamily(
            "relay_watcher_lag_blocks", "Blocks between the head and the cursor.", labels=["chain"]
        )
        inbox = GaugeMetricFamily(
            "relay_inbox_orders",
            "Accepted webhook orders without an invoice yet (queued; spooled: in this process's"
            " spool, not yet in the database) or given up (dead: dead letters, see"
            " /api/v1/admin/inbox?status=dead).",
            labels=["status"],
        )
        now = utcnow()
        inbox.add_metric(["spooled"], self.spooled)
        with self.db.transaction() as session:
            for status, count in inbox_counts(session).items():
                inbox.add_metric([status], count)
            for store, status, count in session.execute(
                select(Invoice.store, Invoice.status, func.count()).group_by(
                    Invoice.store, Invoice.status
                )
            ):
                invoices.add_metric([store, status], count)
            for status, count in session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            ):
                deliveries.add_metric([status], count)
            due = session.scalar(
                select(func.min(Delivery.next_attempt_at)).where(
                    Delivery.status == DeliveryStatus.PENDING.value
                )
            )
            oldest.add_metric([], max((now - due).total_seconds(), 0) if due else 0)
            for cursor in session.scalars(select(ChainCursor)):
                cursor_block.add_metric([cursor.chain], cursor.block_number)
                if cursor.chain in self.heads:
                    lag.add_metric([cursor.chain], self.heads[cursor.chain] - cursor.block_number)
        yield from (invoices, deliveries, oldest, cursor_block, lag, inbox)


@bp.get("/metrics")
def metrics() -> Response:
    """Expose Prometheus metrics (text format 0.0.4)."""
    heads = {}
    for name, chain in runtime_of(current_app).probes.items():
        try:
            heads[name] = chain.head()
        except ChainUnavailable:
            continue
    registry = CollectorRegistry()
    spooled = inbox_of(current_app).spooled()
    registry.register(_StateCollector(db_of(current_app), heads, spooled))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
