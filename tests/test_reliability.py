"""Nothing lost between chain, relay and storefront: outages, SIGKILL at any moment, racing workers.

The relay runs as real processes (`relay serve`, `relay worker`) against anvil and the WooCommerce
emulator over HTTP; the tests kill, restart and race them, then check the storefront itself: every
order ends right, and each status change took effect there exactly once.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from devkit.devchain import Anvil, deploy_token, mint, transfer_token
from devkit.woocommerce import WooStore
from tests.conftest import WEBHOOK_SECRET, config_dict, database_url_for
from tests.support import (
    RelayProcess,
    relay_address,
    relay_process,
    wait_for,
    woocommerce_delivery,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# A name of its own per checkout (RELAY_TEST_RACE_DATABASE): parallel runs on one server never meet.
RACE_DATABASE = os.environ.get("RELAY_TEST_RACE_DATABASE", "relay_test_race")


@pytest.fixture
def chain() -> Iterator[tuple[Anvil, str]]:
    """A fresh chain per test, so no test sees another's payments to the same addresses."""
    with Anvil(block_time=1) as node:
        token = deploy_token(node.w3, name="USD Coin", symbol="USDC", decimals=6)
        mint(node.w3, token, node.accounts[1], 10**12)
        yield node, token


@pytest.fixture
def store() -> Iterator[WooStore]:
    with WooStore(webhook_delay=0.1) as shop:
        yield shop


def relay_for(
    chain: tuple[Anvil, str],
    store: WooStore,
    tmp: Path,
    database_url: str | None = None,
    **store_extra: Any,
) -> RelayProcess:
    address = relay_address()
    data = config_dict(
        rpc_url=chain[0].url,
        token=chain[1],
        store_url=store.base_url,
        database_url=database_url or database_url_for(tmp),
        **address,
        **store_extra,
    )
    # a send cut by SIGKILL keeps its lease (4 timeouts + 5 s) from the restarted relay
    data["relay"]["delivery_timeout_seconds"] = 3
    return relay_process(data, tmp, "relay-" + address["listen"].rpartition(":")[2])


def place_orders(relay: RelayProcess, store: WooStore, count: int) -> list[dict[str, Any]]:
    """Create orders through the store's webhooks; return their invoices once opened."""
    for topic in ("order.created", "order.updated"):
        store.add_webhook(topic, f"{relay.url}/hooks/shop", WEBHOOK_SECRET)
    orders = [store.create_order(total=f"{5 + i}.00") for i in range(count)]
    return [wait_for("an invoice", partial(relay.invoice_for, o["id"])) for o in orders]


def pay_all(chain: tuple[Anvil, str], invoices: list[dict[str, Any]]) -> dict[str, str]:
    node, token = chain
    txs: dict[str, str] = {}
    for invoice in invoices:
        option = next(o for o in invoice["options"] if o["asset"] == "USDC")
        txs[invoice["order_id"]] = transfer_token(
            node.w3, token, node.accounts[1], option["address"], int(option["amount_base_units"])
        )
    return txs


def processing(store: WooStore, order_id: str) -> dict[str, Any] | None:
    """Return the store's order once it is `processing`, else None."""
    order = store.get_order(int(order_id))
    return order if order["status"] == "processing" else None


def assert_each_order_moved_once(store: WooStore, txs: dict[str, str]) -> None:
    for order_id, tx in txs.items():
        order = wait_for(
            f"order {order_id} processing", partial(processing, store, order_id), timeout=90
        )
        assert order["transaction_id"] == tx
        path = f"/wp-json/wc/v3/orders/{order_id}"
        moves = [
            r
            for r in store.requests
            if r["method"] == "PUT"
            and r["path"] == path
            and r["status"] == 200
            and (r["json"] or {}).get("status") == "processing"
        ]
        assert len(moves) == 1, moves  # the status change took effect once
        notes = [n["note"] for n in store.notes(int(order_id))]
        assert len(notes) == len(set(notes)), notes  # no note twice


def test_storefront_down_for_a_while_then_back(
    chain: tuple[Anvil, str], store: WooStore, tmp_path: Path
) -> None:
    relay = relay_for(chain, store, tmp_path)
    relay.start()
    try:
        (invoice,) = place_orders(relay, store, 1)
        store.fail_next(4, 503)  # the shop answers 503 to the next 4 API calls (about 5 s)
        txs = pay_all(chain, [invoice])
        assert_each_order_moved_once(store, txs)

        def all_delivered() -> dict[str, Any] | None:
            # the order can show `processing` while the settled note is still being retried
            found = relay.admin("/api/v1/admin/deliveries", invoice_id=invoice["id"])
            done = all(d["status"] == "succeeded" for d in found["deliveries"])
            return found if done else None

        attempts = wait_for("every delivery acknowledged", all_delivered, timeout=60)
        failures = [d for d in attempts["deliveries"] if d["attempts"] > 1]
        assert failures, attempts  # some pushes needed retries …
        shown = relay.admin(f"/api/v1/admin/deliveries/{failures[0]['id']}")
        codes = [a["status_code"] for a in shown["attempt_log"]]
        assert 503 in codes and codes[-1] in (200, 201)  # … recorded with their status codes
    finally:
        relay.stop()


def test_sigkill_at_any_moment_loses_nothing(
    chain: tuple[Anvil, str], store: WooStore, tmp_path: Path
) -> None:
    relay = relay_for(chain, store, tmp_path)
    relay.start()
    invoices = place_orders(relay, store, 4)
    txs = pay_all(chain, invoices)
    rng = random.Random(7)
    for _ in range(5):  # kill -9 while scanning and delivering, restart, again
        time.sleep(rng.uniform(0.2, 1.5))
        relay.kill()
        relay.start()
    try:
        assert_each_order_moved_once(store, txs)
        for invoice in invoices:
            final = relay.invoice(invoice["id"])
            assert final["status"] == "settled" and len(final["payments"]) == 1
    finally:
        relay.stop()


@pytest.fixture
def race_database() -> str:
    """Return a fresh PostgreSQL database on 127.0.0.1:5432 for the racing workers."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {RACE_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {RACE_DATABASE}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{RACE_DATABASE}"


def test_two_workers_race_on_postgresql(
    chain: tuple[Anvil, str], store: WooStore, tmp_path: Path, race_database: str
) -> None:
    web = relay_for(chain, store, tmp_path, race_database)
    web.start("serve", "--no-scheduler")
    workers = [RelayProcess(web.config, tmp_path / f"worker{i}.log") for i in (1, 2)]
    for worker in workers:
        worker.start("worker", wait=False)
    try:
        invoices = place_orders(web, store, 6)
        txs = pay_all(chain, invoices)
        assert_each_order_moved_once(store, txs)
        for invoice in invoices:
            final = web.invoice(invoice["id"])
            assert final["status"] == "settled" and len(final["payments"]) == 1
        for worker in workers:
            log = worker.log_path.read_text()
            assert "Traceback" not in log, log[-3000:]
    finally:
        for worker in workers:
            worker.stop()
        web.stop()


def test_a_webhook_that_never_arrives_is_recovered_by_reconciliation(
    chain: tuple[Anvil, str], store: WooStore, tmp_path: Path
) -> None:
    relay = relay_for(chain, store, tmp_path, reconcile_seconds=1)
    relay.start()
    try:
        # no webhook points at the relay: the store never tells it about this order
        order = store.create_order(total="8.00", status="on-hold")
        invoice = wait_for(
            "reconciliation to open the invoice", lambda: relay.invoice_for(order["id"])
        )
        wait_for(
            "the payment link",
            lambda: any(
                n["customer_note"] and invoice["payment_url"] in n["note"]
                for n in store.notes(order["id"])
            ),
        )
        txs = pay_all(chain, [invoice])
        assert_each_order_moved_once(store, txs)
    finally:
        relay.stop()


def test_a_relay_killed_right_after_answering_a_burst_loses_no_answered_order(
    chain: tuple[Anvil, str], store: WooStore, tmp_path: Path
) -> None:
    # reconciliation off: it would open the invoices of lost webhooks and hide a loss
    relay = relay_for(chain, store, tmp_path, reconcile_seconds=0)
    relay.start("serve", "--no-scheduler")  # web only: the inbox is left as the kill found it
    orders = [store.create_order(total=f"{5 + i}.00") for i in range(80)]  # no webhooks yet

    def send(batch: list[dict[str, Any]]) -> None:
        with requests.Session() as http:
            for order in batch:
                body, headers = woocommerce_delivery(store.get_order(order["id"]), "order.created")
                answer = http.post(
                    f"{relay.url}/hooks/shop", data=body, timeout=10, headers=headers
                )
                assert answer.status_code == 200 and answer.json()["queued"] is True

    senders = [threading.Thread(target=send, args=(orders[i::8],)) for i in range(8)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    relay.kill()  # within the spool's move interval of the last answer
    (segment,) = (tmp_path / "spool").glob("*.spool")  # left by the killed relay, with its lines
    assert len(segment.read_bytes().splitlines()) == 1 + 80  # its header, then a line an order
    relay.start()  # with the inbox job now
    try:
        wait_for("the inbox to drain", lambda: relay.inbox_queued() == 0)
        for order in orders:
            found = relay.admin("/api/v1/admin/invoices", store="shop", order_id=str(order["id"]))
            assert len(found["invoices"]) == 1, order["id"]
        assert not segment.exists()  # adopted by the restarted relay, then deleted
    finally:
        relay.stop()
    assert list((tmp_path / "spool").glob("*.spool")) == []  # a clean stop leaves nothing
