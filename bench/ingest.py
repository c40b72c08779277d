"""Ingest: signed WooCommerce `order.created` webhooks per second into the relay's web server.

`.venv/bin/python -m bench.ingest --db sqlite` (or `--db postgresql`). The relay runs in its own
process as `relay serve --no-scheduler` does (waitress, 8 threads), built by bench/wsgi.py, which
adds `/bench/ceiling`: a bare route that only answers 200. wrk (Debian package `wrk`), in another
process on loopback, drives both in turns with bench/ingest.lua, which cycles through pre-signed
distinct bodies so every request to the relay is a new order; after the rounds, the relay is
paced at `--paced` (default half) of its best rate to see its latency below saturation. Every
request carries the headers of a real WooCommerce 7.4.1 delivery, `Connection: close` included
(a new TCP connection per webhook, as WordPress sends them); `--connection keep-alive` reuses
connections instead. The route
answers once the order is in the inbox (relay/inbox.py); after the run the inbox is drained as
the inbox job does it (timed: invoices opened per second) and the invoices are counted: every
webhook answered 200 with `"queued": true` must be one invoice, and nothing left in the inbox.

Without wrk (`--load python`), a threaded Python client does the same, less precisely.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

from bench.common import (
    WEBHOOK_SECRET,
    RelayProcess,
    config_dict,
    database_url,
    main_with,
    parser_for,
    percentile,
)
from bench.wsgi import CEILING_PATH
from devkit.harness import free_port, write_config
from devkit.woocommerce import WooStore, webhook_signature, wp_json_encode

LUA = Path(__file__).with_name("ingest.lua")
HOOK_PATH = "/hooks/shop"
# What WooCommerce 7.4.1 sends with an order.created delivery, but the signature (one per body),
# Host and Content-Length: ../shared/samples/woocommerce_7.4.1_real_deliveries.json. WordPress
# asks for "Connection: close", so every delivery is a new TCP connection; `--connection
# keep-alive` measures a sender that reuses its connections instead.
WOOCOMMERCE_HEADERS = {
    "User-Agent": "WooCommerce/7.4.1 Hookshot (WordPress/6.1.9)",
    "Accept": "*/*",
    "Accept-Encoding": "deflate, gzip, br, zstd",
    "Referer": "http://127.0.0.1/hooks/shop",
    "Content-Type": "application/json",
    "X-WC-Webhook-Source": "http://shop.example/",
    "X-WC-Webhook-Topic": "order.created",
    "X-WC-Webhook-Resource": "order",
    "X-WC-Webhook-Event": "created",
    "X-WC-Webhook-ID": "2",
    "X-WC-Webhook-Delivery-ID": "4186bb9fd4aa136b5110402361459e5e",
}


def request_headers(connection: str) -> dict[str, str]:
    """Return the headers every request carries, the signature aside: WooCommerce's, with
    `Connection: <connection>` ("close" as WooCommerce sends, or "keep-alive")."""
    return {**WOOCOMMERCE_HEADERS, "Connection": connection}


def order_template() -> dict[str, Any]:
    """Return a WooCommerce 7.4.1 order as the emulator's webhooks carry it, billing filled in."""
    store = WooStore()
    return store.create_order(
        total="44.98",
        billing={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "address_1": "12 St James's Square",
            "city": "London",
            "postcode": "SW1Y 4JH",
            "country": "GB",
            "phone": "+44 20 7946 0000",
        },
        shipping={"first_name": "Ada", "last_name": "Lovelace", "city": "London", "country": "GB"},
    )


def write_bodies(path: Path, template: dict[str, Any], first_id: int, count: int) -> None:
    """Write `count` signed order bodies (ids from `first_id`) as "<signature>\\t<body>" lines."""
    with path.open("wb") as out:
        for order_id in range(first_id, first_id + count):
            order = copy.deepcopy(template)
            total = f"{10 + order_id % 90}.{order_id % 100:02d}"
            key = f"wc_order_bench{order_id:08d}"
            order.update(id=order_id, number=str(order_id), order_key=key, total=total)
            order["line_items"][0].update(subtotal=total, total=total, price=float(total))
            order["payment_url"] = f"/checkout/order-pay/{order_id}/?pay_for_order=true&key={key}"
            order["_links"]["self"] = [{"href": f"/wp-json/wc/v3/orders/{order_id}"}]
            body = wp_json_encode(order)
            out.write(webhook_signature(WEBHOOK_SECRET, body).encode() + b"\t" + body + b"\n")


def run_wrk(
    url: str,
    path: str,
    bodies: Path,
    duration: float,
    connections: int,
    threads: int,
    headers: dict[str, str],
    pause_ms: float = 0.0,
) -> dict[str, Any]:
    """Run wrk with bench/ingest.lua against url+path; return its BENCH_JSON summary."""
    env = dict(
        os.environ,
        BENCH_BODIES=str(bodies),
        BENCH_PATH=path,
        BENCH_THREADS=str(threads),
        BENCH_PAUSE_MS=f"{pause_ms:.3f}",
        BENCH_HEADERS="\n".join(f"{name}: {value}" for name, value in headers.items()),
    )
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return result


def run_python(
    url: str,
    path: str,
    bodies: Path,
    duration: float,
    connections: int,
    _threads: int,
    common: dict[str, str],
    pause_ms: float = 0.0,
) -> dict[str, Any]:
    """Do what run_wrk does with `connections` Python threads (for machines without wrk)."""
    lines = bodies.read_bytes().splitlines()
    latencies: list[float] = []
    counts = {"sent": 0, "ok": 0, "queued": 0, "non_200": 0, "wrapped": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def client(lane: int) -> None:
        mine = lines[lane::connections]
        index = 0
        with requests.Session() as http:
            while time.monotonic() < deadline and mine:
                if index == len(mine):
                    index = 0
                    with lock:
                        counts["wrapped"] += 1
                signature, _, body = mine[index].partition(b"\t")
                index += 1
                headers = {**common, "X-WC-Webhook-Signature": signature.decode()}
                started = time.monotonic()
                try:
                    answer = http.post(url + path, data=body, headers=headers, timeout=10)
                except requests.RequestException:
                    with lock:
                        counts["sent"] += 1
                        counts["errors"] += 1
                    continue
                elapsed = time.monotonic() - started
                with lock:
                    counts["sent"] += 1
                    latencies.append(elapsed * 1e6)
                    if answer.status_code == 200:
                        counts["ok"] += 1
                        counts["queued"] += b'"queued":true' in answer.content
                    else:
                        counts["non_200"] += 1
                time.sleep(pause_ms / 1000)

    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "sent": counts["sent"],
        "ok": counts["ok"],
        "queued": counts["queued"],
        "non_200": counts["non_200"],
        "wrapped": counts["wrapped"],
        "connect_errors": counts["errors"],
        "read_errors": 0,
        "write_errors": 0,
        "timeouts": 0,
        "p50_us": percentile(latencies, 50),
        "p90_us": percentile(latencies, 90),
        "p99_us": percentile(latencies, 99),
        "p999_us": percentile(latencies, 99.9),
        "max_us": max(latencies, default=0),
        "mean_us": sum(latencies) / len(latencies) if latencies else 0,
    }


def _summary(raw: dict[str, Any]) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return {
        "requests": raw["requests"],
        "per_second": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "non_200": raw["non_200"],
        "socket_errors": errors,
        "queued": raw["queued"],
        "sent": raw["sent"],
        "wrapped": raw["wrapped"],
    }


def count_invoices(url: str) -> int:
    """Return the number of invoices in the relay's database."""
    from relay.db import Database
    from relay.models import Invoice

    db = Database(url)
    try:
        with db.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(Invoice)) or 0)
    finally:
        db.dispose()


def drain_inbox(config: Path) -> dict[str, Any]:
    """Open the invoices of every queued order as the inbox job does (one process, here),
    after moving what the stopped server left in its spool as the next relay would; return how
    many, how long it took, and what is left in the inbox."""
    from relay.config import load_settings
    from relay.db import Database
    from relay.inbox import Inbox, counts, open_all
    from relay.runtime import Runtime

    settings = load_settings(str(config))
    db = Database(settings.relay.database_url)
    runtime = Runtime(settings, db)
    try:
        with db.transaction() as session:
            in_table = counts(session)["queued"]
        # as the next relay would: move what the server left in its spool (a clean stop: none)
        Inbox(db, spool_dir=settings.relay.spool_directory()).close()
        with db.transaction() as session:
            queued = counts(session)["queued"]
        started = time.perf_counter()
        open_all(db, settings, runtime.rates)
        seconds = time.perf_counter() - started
        with db.transaction() as session:
            left = counts(session)
    finally:
        runtime.close()
        db.dispose()
    return {
        "moved_from_spool_after_stop": queued - in_table,
        "queued": queued,
        "seconds": round(seconds, 2),
        "invoices_per_second": round(queued / seconds, 1) if seconds else 0.0,
        "left": left,
    }


def run(
    *,
    db: str = "sqlite",
    duration: float = 10.0,
    rounds: int = 2,
    connections: int = 8,
    server_threads: int = 8,
    load_threads: int = 1,
    load: str = "auto",
    connection: str = "close",
    max_rate: int = 3000,
    warmup: float = 2.0,
    paced_fraction: float = 0.5,
    pg_url: str | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Measure ceiling and relay webhooks/s in alternating rounds, then the relay paced at
    `paced_fraction` of its own best rate; return the results."""
    if load == "auto":
        load = "wrk" if shutil.which("wrk") else "python"
    drive = run_wrk if load == "wrk" else run_python
    tmp = Path(workdir or tempfile.mkdtemp(prefix="relay-bench-ingest-"))
    url_db = database_url(db, tmp, pg_url)
    port = free_port()
    config = write_config(
        config_dict(database_url=url_db, port=port, spool_dir=str(tmp / "spool")),
        tmp / "relay.toml",
    )
    template = order_template()
    next_id = 1_000_000

    def bodies(name: str, count: int) -> Path:
        nonlocal next_id
        path = tmp / f"{name}.bodies"
        write_bodies(path, template, next_id, max(count, 100))
        next_id += max(count, 100)
        return path

    ceiling_bodies = bodies("ceiling", 1000)  # the ceiling reads no body: any will do
    server = RelayProcess(config, tmp / "relay.log", module="bench.wsgi")
    server.start("--threads", str(server_threads))
    args = (connections, load_threads, request_headers(connection))
    relay_runs: list[dict[str, Any]] = []
    rounds_out: list[dict[str, Any]] = []
    paced: dict[str, Any] | None = None

    def phase(
        path: str, bodies_path: Path, seconds: float, pause_ms: float = 0.0
    ) -> dict[str, Any]:
        """Drive one phase; add the server's CPU time (user + system) and its threads' context
        switches per answered request."""
        before, switches = server.cpu_seconds(), server.context_switches()
        out = _summary(drive(server.url, path, bodies_path, seconds, *args, pause_ms=pause_ms))
        used = server.cpu_seconds() - before
        switched = server.context_switches() - switches
        out["server_cpu_ms_per_request"] = (
            round(1000 * used / out["requests"], 3) if out["requests"] else 0.0
        )
        out["server_context_switches_per_request"] = (
            round(switched / out["requests"], 1) if out["requests"] else 0.0
        )
        return out

    try:
        if warmup > 0:
            drive(server.url, CEILING_PATH, ceiling_bodies, warmup, *args)
            warm = bodies("warmup", int(max_rate * warmup))
            relay_runs.append(phase(HOOK_PATH, warm, warmup))
        for i in range(rounds):
            ceiling = phase(CEILING_PATH, ceiling_bodies, duration)
            round_bodies = bodies(f"round{i}", int(max_rate * duration))
            relay = phase(HOOK_PATH, round_bodies, duration)
            relay_runs.append(relay)
            rounds_out.append({"round": i + 1, "ceiling": ceiling, "relay": relay})
        best = max(r["relay"]["per_second"] for r in rounds_out)
        if paced_fraction > 0 and best > 0:
            target = paced_fraction * best
            pause_ms = connections * 1000 / target
            paced_bodies = bodies("paced", int(target * duration * 1.2))
            paced = phase(HOOK_PATH, paced_bodies, duration, pause_ms)
            paced["target_per_second"] = round(target, 1)
            relay_runs.append(paced)
        rss_kib = server.rss_kib()
    finally:
        server.stop()
    drained = drain_inbox(config)
    invoices = count_invoices(url_db)
    ceiling_rate = sum(r["ceiling"]["per_second"] for r in rounds_out) / len(rounds_out)
    relay_rate = sum(r["relay"]["per_second"] for r in rounds_out) / len(rounds_out)
    queued = sum(r["queued"] for r in relay_runs)
    accepted = sum(r["requests"] - r["non_200"] for r in relay_runs)
    sent = sum(r["sent"] for r in relay_runs)
    errors = sum(
        r[side]["non_200"] + r[side]["socket_errors"]
        for r in rounds_out
        for side in ("ceiling", "relay")
    ) + (paced["non_200"] + paced["socket_errors"] if paced else 0)
    return {
        "benchmark": "ingest",
        "database": db,
        "load_generator": load,
        "connections": connections,
        "connection": connection,
        "server_threads": server_threads,
        "duration_s": duration,
        "rounds": rounds_out,
        "paced": paced,
        "ceiling_per_second": round(ceiling_rate, 1),
        "relay_per_second": round(relay_rate, 1),
        "ratio": round(relay_rate / ceiling_rate, 3) if ceiling_rate else 0.0,
        "relay_p50_ms": max(r["relay"]["p50_ms"] for r in rounds_out),
        "relay_p99_ms": max(r["relay"]["p99_ms"] for r in rounds_out),
        "errors": errors,
        "accepted": accepted,
        "queued_answers": queued,
        "inbox_drain": drained,
        "invoices_in_db": invoices,
        "every_accepted_is_an_invoice": queued == accepted
        and queued <= invoices <= sent
        and drained["left"] == {"queued": 0, "dead": 0}
        and all(r["wrapped"] == 0 for r in relay_runs),
        "server_rss_mib": round(rss_kib / 1024, 1),
    }


def main() -> None:
    """Parse arguments, run, print the result as JSON."""
    parser = parser_for(__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=2, help="ceiling/relay pairs, alternating")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--threads",
        dest="server_threads",
        metavar="N",
        type=int,
        default=8,
        help="waitress threads",
    )
    parser.add_argument("--load-threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--connection",
        choices=["close", "keep-alive"],
        default="close",
        help="a new connection per webhook, as WooCommerce sends them (default), or reused",
    )
    parser.add_argument("--max-rate", type=int, default=3000, help="bodies per second to make")
    parser.add_argument(
        "--paced",
        dest="paced_fraction",
        metavar="FRACTION",
        type=float,
        default=0.5,
        help="paced run at this fraction of the best rate",
    )
    parser.add_argument("--pg-url", default=None, help="use this PostgreSQL database as is")
    main_with("ingest", parser, run)


if __name__ == "__main__":
    main()
