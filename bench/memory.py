"""Memory: resident memory of `relay serve` and `relay worker` with 100,000 invoices, 10,000 open.

`.venv/bin/python -m bench.memory` fills a database (SQLAlchemy core, bench/fixtures.py) with
90,000 settled invoices (each with its payment and two delivered storefront messages) and 10,000
open ones accepting USDC and ETH on an anvil chain, then runs, one after the other, `relay serve`
(web + scheduler), `relay serve --no-scheduler` and `relay worker` as their own processes for
`--seconds` each while a block is mined every second, and samples their RSS (VmRSS) twice a
second; the peak is the kernel's VmHWM. `relay serve` also answers some invoice reads meanwhile.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.common import (
    RelayProcess,
    config_dict,
    database_url,
    main_with,
    parser_for,
)
from bench.fixtures import insert_invoices
from devkit.devchain import Anvil, deploy_token
from devkit.harness import free_port, write_config
from relay.config import parse_settings
from relay.db import Database
from relay.models import ChainCursor, utcnow

MIB = 1024
PROCESSES = {  # name in the results: the relay command's arguments
    "serve": ("serve",),
    "serve_no_scheduler": ("serve", "--no-scheduler"),
    "worker": ("worker",),
}


def _sample(
    process: RelayProcess, node: Anvil, seconds: float, reads: list[str] | None
) -> dict[str, Any]:
    """Sample a running process's RSS while blocks are mined; return start/median/peak in MiB."""
    start = process.rss_kib()
    samples = []
    deadline = time.monotonic() + seconds
    next_block = time.monotonic()
    with requests.Session() as http:
        while time.monotonic() < deadline:
            if time.monotonic() >= next_block:
                node.mine(1)
                next_block += 1.0
            for invoice_id in reads or []:
                http.get(f"{process.url}/api/v1/invoices/{invoice_id}", timeout=10)
            samples.append(process.rss_kib())
            time.sleep(0.5)
    return {
        "rss_at_start_mib": round(start / MIB, 1),
        "rss_median_mib": round(statistics.median(samples) / MIB, 1),
        "rss_peak_mib": round(process.peak_rss_kib() / MIB, 1),
    }


def run(
    *,
    invoices: int = 100_000,
    open_invoices: int = 10_000,
    seconds: float = 20.0,
    db: str = "sqlite",
    processes: tuple[str, ...] = tuple(PROCESSES),
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Fill the database, then sample each process's memory; return the results."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="relay-bench-memory-"))
    db_url = database_url(db, tmp)
    with Anvil() as node:
        token = deploy_token(node.w3, name="USD Coin", symbol="USDC", decimals=6)
        port = free_port()
        data = config_dict(
            spool_dir=str(tmp / "spool"),
            database_url=db_url,
            port=port,
            rpc_url=node.url,
            token=token,
            poll_seconds=2.0,
        )
        config = write_config(data, tmp / "relay.toml")
        settings = parse_settings(data, env={})
        database = Database(db_url)
        database.create_schema()
        now = utcnow()
        head = node.w3.eth.block_number
        started = time.monotonic()
        inserted = insert_invoices(
            database,
            settings,
            open_count=open_invoices,
            closed_count=invoices - open_invoices,
            accept=[("dev", "USDC"), ("dev", "ETH")],
            now=now,
            native_block=head,
        )
        block = node.w3.eth.get_block(head)
        with database.transaction() as session:
            session.add(
                ChainCursor(
                    chain="dev",
                    block_number=head,
                    block_hash=block["hash"].to_0x_hex(),
                    block_time=now,
                    updated_at=now,
                )
            )
        fill_s = time.monotonic() - started
        database.dispose()
        results: dict[str, Any] = {}
        reads = inserted.open_ids[:: max(1, open_invoices // 10)][:10]
        for name in processes:
            args = PROCESSES[name]
            process = RelayProcess(config, tmp / f"{name}.log")
            process.start(*args, wait=args[0] == "serve")
            if args[0] == "worker":
                time.sleep(2.0)  # no /healthz: give it its start-up
            try:
                results[name] = _sample(
                    process, node, seconds, reads if args[0] == "serve" else None
                )
            finally:
                process.stop()
    return {
        "benchmark": "memory",
        "database": db,
        "invoices": invoices,
        "open_invoices": open_invoices,
        "fill_s": round(fill_s, 1),
        "seconds_each": seconds,
        **results,
    }


def main() -> None:
    """Parse arguments, run, print the result as JSON."""
    parser = parser_for(__doc__)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument(
        "--open",
        dest="open_invoices",
        metavar="N",
        type=int,
        default=10_000,
        help="open invoices among them",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="sampling time per process")
    main_with("memory", parser, run)


if __name__ == "__main__":
    main()
