"""Smoke test of the benchmarks (bench/): each runs at a tiny size, so the scripts cannot rot.

Only what a benchmark checks about the relay is asserted (no webhook lost, calls flat in the
number of invoices, every delivery once); timings are the scripts' business, never a test's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import backlog, collect, ingest, latency, memory, scan


@pytest.mark.parametrize(("load", "connection"), [("auto", "close"), ("python", "keep-alive")])
def test_ingest_accepts_every_webhook_as_an_invoice(
    tmp_path: Path, load: str, connection: str
) -> None:
    result = ingest.run(
        duration=1,
        rounds=1,
        warmup=0,
        max_rate=5000,
        connections=2,
        load=load,
        connection=connection,
        workdir=tmp_path,
    )
    assert result["connection"] == connection
    assert result["errors"] == 0
    assert result["accepted"] > 0
    assert result["every_accepted_is_an_invoice"], result
    assert result["paced"]["requests"] > 0
    assert result["ceiling_per_second"] > 0
    relay = result["rounds"][0]["relay"]
    assert relay["server_cpu_ms_per_request"] > 0  # each request wakes a waitress thread at least
    assert relay["server_context_switches_per_request"] >= 1


def test_scan_calls_stay_flat_and_beat_the_naive_design(tmp_path: Path) -> None:
    result = scan.run(
        sizes=(3, 40, 80),
        stores=("usdc", "usdc+eth"),
        naive_max=40,
        background=3,
        contract_eth=1,
        workdir=tmp_path,
    )
    rows = {(r["store"], r["open_invoices"]): r for r in result["rows"]}
    for store in ("USDC", "USDC+ETH"):
        small, large = rows[(store, 3)], rows[(store, 40)]
        assert small["relay"]["payments"] == small["relay"]["recorded"] == 3
        assert large["relay"]["payments"] == large["relay"]["recorded"] == 10
        assert small["relay"]["http"] == large["relay"]["http"]  # flat below the chunk size
        assert large["relay"]["logs"] >= 10  # the payments' logs at least
        assert large["relay"]["cu"] >= 60  # one eth_getLogs at least, priced
        per_invoice = 1 if store == "USDC" else 2
        assert large["naive"]["items"] == 1 + per_invoice * 40
        extrapolated = rows[(store, 80)]["naive"]  # not run above naive_max: linear from 40
        assert extrapolated["extrapolated_from"] == 40
        assert extrapolated["items"] == 2 * large["naive"]["items"]
    assert rows[("USDC", 40)]["relay"]["http"] < rows[("USDC", 40)]["naive"]["http"]

    def eth_items(size: int) -> int:  # what accepting ETH adds to a scan: flat (one multicall)
        return int(
            rows[("USDC+ETH", size)]["relay"]["items"] - rows[("USDC", size)]["relay"]["items"]
        )

    assert eth_items(3) == eth_items(40)


def test_latency_measures_each_payment(tmp_path: Path) -> None:
    result = latency.run(
        payments=2, interval=0.3, block_time=0.5, poll_seconds=0.5, workdir=tmp_path
    )
    assert result["payments"] == 2
    update = result["mined_to_order_update_s"]
    assert 0 < update["median"] <= update["worst"]


def test_backlog_drains_every_delivery_exactly_once(tmp_path: Path) -> None:
    result = backlog.run(deliveries=12, concurrency=4, workdir=tmp_path)
    assert result["refused_while_down"] >= 12  # every delivery was tried while the store was down
    assert result["succeeded"] == 12 and result["failed"] == 0
    assert result["orders_updated_exactly_once"] == 12
    assert result["orders_updated_twice"] == result["lost"] == 0


def test_memory_samples_the_process(tmp_path: Path) -> None:
    result = memory.run(
        invoices=60, open_invoices=20, seconds=1, processes=("worker",), workdir=tmp_path
    )
    assert result["worker"]["rss_peak_mib"] > 0


def test_collect_measures_each_batch_and_moves_everything() -> None:
    result = collect.run(sizes=(1, 3), kinds=("USDC", "USDC+ETH"))
    rows = {(r["assets"], r["addresses"]): r for r in result["rows"]}
    assert set(rows) == {("USDC", 1), ("USDC", 3), ("USDC+ETH", 1), ("USDC+ETH", 3)}
    for (assets, size), row in rows.items():
        assert row["collector"]["moved_exactly"]  # the script checks the balances itself
        assert row["collector"]["transactions"] == 1
        assert row["eoa"]["transactions"] == 2 * size
        # A batch shares the transaction's 21,000 and the first touches: cheaper per collector.
        if size == 3:
            assert row["collector"]["gas_per_address"] < rows[(assets, 1)]["collector"]["gas"]
    assert result["target_met"] is None  # no batch of 100 in this run
