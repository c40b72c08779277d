"""Shared parts of the benchmarks: configs, databases, relay processes, machine description."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins

from devkit import harness

REPO = Path(__file__).resolve().parents[1]
# The BIP-39 test mnemonic, as in the tests: only its account xpub reaches the relay.
MERCHANT_MNEMONIC = "abandon " * 11 + "about"
SECRET_KEY = "bench-secret-key-0123456789"
ADMIN_TOKEN = "bench-admin-token-0123456789"
WEBHOOK_SECRET = "wc-webhook-secret"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "relay_bench"
DEAD_URL = "http://127.0.0.1:9"  # nothing listens on the discard port: an unused endpoint


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """Yield a new temporary folder for a run's files (databases, bodies, logs); remove it after,
    unless $BENCH_KEEP is set (then its path is printed on stderr)."""
    path = Path(tempfile.mkdtemp(prefix=f"relay-bench-{name}-"))
    try:
        yield path
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def parser_for(doc: str | None) -> argparse.ArgumentParser:
    """Return a benchmark's argument parser, described by its module docstring's first line,
    with the `--db` option every benchmark takes."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    return parser


def main_with(name: str, parser: argparse.ArgumentParser, run: Callable[..., Any]) -> None:
    """Parse the command line (each option's `dest` is a keyword of `run`), run the benchmark
    in a scratch folder, and print its result as JSON."""
    arguments = vars(parser.parse_args())
    with scratch(name) as workdir:
        result = run(**arguments, workdir=workdir)
    report(result)


def merchant_xpub() -> str:
    """Return the account-level xpub (m/44'/60'/0') of the test mnemonic."""
    seed = Bip39SeedGenerator(MERCHANT_MNEMONIC).Generate()
    account = Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(0)
    xpub: str = account.PublicKey().ToExtended()
    return xpub


def config_dict(
    *,
    database_url: str,
    port: int,
    rpc_url: str = DEAD_URL,
    token: str = "0x" + "11" * 20,
    store_url: str = DEAD_URL,
    accept: tuple[str, ...] = ("dev:USDC", "dev:ETH"),
    confirmations: int = 2,
    poll_seconds: float = 1.0,
    retry_seconds: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000),
    delivery_concurrency: int = 4,
    expiry_minutes: float = 30,
    spool_dir: str = "",
) -> dict[str, Any]:
    """Return a relay config document: one anvil chain `dev` (USDC + ETH), one WooCommerce store.

    Rates are `peg:USD` and `fixed:USD:2000.00`, so opening an invoice asks no RPC node. The
    spool is `spool_dir`, or beside a SQLite file (relay/spool.py).
    """
    extra = {"spool_dir": spool_dir} if spool_dir else {}
    return {
        "relay": {
            "public_url": f"http://127.0.0.1:{port}",
            "listen": f"127.0.0.1:{port}",
            "database_url": database_url,
            "secret_key": SECRET_KEY,
            "admin_token": ADMIN_TOKEN,
            "delivery_retry_seconds": list(retry_seconds),
            "delivery_concurrency": delivery_concurrency,
            **extra,
        },
        "chains": {
            "dev": {
                "rpc_urls": [rpc_url],
                "chain_id": 31337,
                "confirmations": confirmations,
                "poll_seconds": poll_seconds,
                "max_block_range": 500,
                "assets": {
                    "USDC": {"contract": token, "decimals": 6, "rate": "peg:USD"},
                    "ETH": {"native": True, "decimals": 18, "rate": "fixed:USD:2000.00"},
                },
            }
        },
        "stores": {
            "shop": {
                "platform": "woocommerce",
                "base_url": store_url,
                "webhook_secret": WEBHOOK_SECRET,
                "api_key": "ck_test",
                "api_secret": "cs_test",
                "payment_methods": ["cheque"],
                "check_deposit_addresses": False,  # no node at DEAD_URL to ask
                "xpub": merchant_xpub(),
                "accept": list(accept),
                "invoice_expiry_minutes": expiry_minutes,
                "monitoring_minutes": 60,
            }
        },
    }


def database_url(kind: str, tmp: Path, pg_url: str | None = None) -> str:
    """Return a fresh, empty database: a SQLite file in `tmp`, or the PostgreSQL `relay_bench`."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'relay.db'}"
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}; use sqlite or postgresql")
    if pg_url:
        return pg_url
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DATABASE}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DATABASE}"


class RelayProcess(harness.RelayProcess):
    """A relay (or bench WSGI) server process, run from the repository, with its /proc readings."""

    def __init__(self, config: Path, log: Path, module: str = "relay") -> None:
        super().__init__(config, log, module, cwd=REPO)

    def rss_kib(self) -> int:
        """Return the process's resident set size in KiB (VmRSS of /proc/<pid>/status)."""
        return _status_kib(self.pid, "VmRSS")

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the process has used, in seconds."""
        return process_cpu_seconds(self.pid)

    def context_switches(self) -> int:
        """Return the context switches (voluntary and not) of all the process's threads so far."""
        return process_context_switches(self.pid)

    def peak_rss_kib(self) -> int:
        """Return the process's peak resident set size in KiB (VmHWM)."""
        return _status_kib(self.pid, "VmHWM")


def process_cpu_seconds(pid: int) -> float:
    """Return a process's CPU time (user + system) in seconds, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_context_switches(pid: int) -> int:
    """Return the context switches of a process's live threads, from /proc/<pid>/task/*/status."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            lines = status.read_text().splitlines()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        total += sum(int(line.split()[1]) for line in lines if "ctxt_switches:" in line)
    return total


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} for process {pid}")


def machine() -> dict[str, Any]:
    """Describe the machine a result was measured on."""
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    mem_kib = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        mem_kib = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "date": date.today().isoformat(),
    }


def command_line() -> str:
    """Return the command that is running, as a user would type it from the repository root."""
    module = Path(sys.argv[0]).stem if sys.argv else ""
    args = " ".join(sys.argv[1:])
    return f".venv/bin/python -m bench.{module} {args}".strip()


def report(result: dict[str, Any]) -> None:
    """Print a result as indented JSON, with the machine and the command that produced it."""
    result = {"command": command_line(), "machine": machine(), **result}
    print(json.dumps(result, indent=2, default=str))


def percentile(values: list[float], pct: float) -> float:
    """Return the `pct` percentile (nearest rank) of `values`; 0.0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
