"""Backlog: 10,000 deliveries queued while the storefront is down, drained when it comes back.

`.venv/bin/python -m bench.backlog` places 10,000 orders in the WooCommerce emulator and opens
their invoices with `relay.invoices.open_invoice` (the code the webhook route runs), which queues
one storefront delivery each (`invoice.created`: read the order, write the payment link as meta,
add the customer note). The store is down (answers 503); `relay worker` runs as its own process
and tries every delivery once (each fails and waits for its next retry). Then the store comes
back and the retry time arrives for every delivery at once (next_attempt_at = now, what
`relay deliveries redeliver` does one by one); the benchmark times the drain with the per-store
`delivery_concurrency` and checks the store: every order got its payment link and customer note
exactly once, and every delivery succeeded.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from bench.common import (
    RelayProcess,
    config_dict,
    database_url,
    main_with,
    parser_for,
    process_cpu_seconds,
)
from bench.store import BenchStore
from devkit.harness import free_port, wait_for, write_config
from relay.config import parse_settings
from relay.db import Database
from relay.invoices import open_invoice
from relay.models import Delivery, utcnow
from relay.pricing import Rates
from relay.records import OrderData

RETRY_SECONDS = (0, 3600, 3600)  # after a failure, the next try is an hour away: see the docstring


def _counts(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        counts = {status: int(n) for status, n in rows}
        counts["attempted"] = int(
            session.scalar(select(func.count()).where(Delivery.attempts > 0)) or 0
        )
    return counts


def run(
    *,
    deliveries: int = 10_000,
    concurrency: int = 4,
    store_latency_ms: float = 0.0,
    db: str = "sqlite",
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Queue `deliveries` storefront deliveries while the store is down, then drain them."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="relay-bench-backlog-"))
    db_url = database_url(db, tmp)
    with BenchStore(webhook_delay=0.05, answer_delay=store_latency_ms / 1000) as store:
        port = free_port()
        data = config_dict(
            spool_dir=str(tmp / "spool"),
            database_url=db_url,
            port=port,
            store_url=store.base_url,
            retry_seconds=RETRY_SECONDS,
            delivery_concurrency=concurrency,
            expiry_minutes=24 * 60,  # nothing expires during the run
            poll_seconds=3600,  # no chain here: the watcher stays idle
        )
        config = write_config(data, tmp / "relay.toml")
        settings = parse_settings(data, env={})
        database = Database(db_url)
        database.create_schema()
        store.down = True
        started = time.monotonic()
        orders = [store.create_order(total=f"{10 + i % 90}.00") for i in range(deliveries)]
        now = utcnow()
        rates = Rates(settings)  # fixed and pegged rates: no source to ask
        for order in orders:
            open_invoice(
                database,
                settings,
                OrderData(
                    store="shop",
                    order_id=str(order["id"]),
                    currency="USD",
                    total=Decimal(order["total"]),
                    order_number=str(order["number"]),
                    order_key=order["order_key"],
                    customer_email="ada@example.com",
                ),
                now,
                rates,
            )
        queue_s = time.monotonic() - started
        worker = RelayProcess(config, tmp / "worker.log")
        worker.start("worker", wait=False)
        try:
            started = time.monotonic()
            wait_for(
                "a first (failed) try of every delivery",
                lambda: _counts(database)["attempted"] >= deliveries,
                600,
                0.5,
            )
            outage_s = time.monotonic() - started
            refused = store.refused
            store.down = False
            with database.transaction() as session:  # the retry time arrives for all at once
                session.execute(
                    update(Delivery)
                    .where(Delivery.status == "pending")
                    .values(next_attempt_at=utcnow())
                )
            started = time.monotonic()
            worker_cpu, own_cpu = worker.cpu_seconds(), process_cpu_seconds(os.getpid())
            wait_for(
                "the outbox to drain",
                lambda: _counts(database).get("pending", 0) == 0,
                900,
                0.25,
            )
            drain_s = time.monotonic() - started
            worker_cpu = worker.cpu_seconds() - worker_cpu
            own_cpu = process_cpu_seconds(os.getpid()) - own_cpu
            rss_kib = worker.peak_rss_kib()
        finally:
            worker.stop()
        counts = _counts(database)
        database.dispose()
        writes: Counter[str] = Counter()
        for stamp in store.stamps:
            if stamp.method in ("PUT", "POST") and 200 <= stamp.status < 300:
                writes[f"{stamp.method} {stamp.path}"] += 1
        ok_orders = 0
        twice = 0
        for order in orders:
            base = f"/wp-json/wc/v3/orders/{order['id']}"
            notes = [n for n in store.notes(order["id"]) if n["customer_note"]]
            meta = {m["key"] for m in store.get_order(order["id"])["meta_data"]}
            put, note = writes[f"PUT {base}"], writes[f"POST {base}/notes"]
            if put == 1 and note == 1 and len(notes) == 1 and "_relay_invoice_id" in meta:
                ok_orders += 1
            if put > 1 or note > 1 or len(notes) > 1:
                twice += 1
    return {
        "benchmark": "backlog",
        "database": db,
        "deliveries": deliveries,
        "delivery_concurrency": concurrency,
        "store_latency_ms": store_latency_ms,
        "queue_s": round(queue_s, 1),
        "outage_first_tries_s": round(outage_s, 1),
        "refused_while_down": refused,
        "drain_s": round(drain_s, 1),
        "drained_per_second": round(deliveries / drain_s, 1),
        # CPU used while draining: the relay worker, and this process (the store emulator)
        "drain_worker_cpu_s": round(worker_cpu, 1),
        "drain_store_cpu_s": round(own_cpu, 1),
        "requests_per_delivery": round(
            sum(1 for s in store.stamps if s.status < 300) / max(deliveries, 1), 2
        ),
        "succeeded": counts.get("succeeded", 0),
        "failed": counts.get("failed", 0),
        "orders_updated_exactly_once": ok_orders,
        "orders_updated_twice": twice,
        "lost": deliveries - ok_orders - twice,
        "worker_peak_rss_mib": round(rss_kib / 1024, 1),
    }


def main() -> None:
    """Parse arguments, run, print the result as JSON."""
    parser = parser_for(__doc__)
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4, help="delivery_concurrency")
    parser.add_argument(
        "--store-latency-ms", type=float, default=0.0, help="added to every store answer"
    )
    main_with("backlog", parser, run)


if __name__ == "__main__":
    main()
