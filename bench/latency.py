"""Latency: from a payment's block being mined to the storefront's order update received.

`.venv/bin/python -m bench.latency` starts anvil with 1 s blocks, the WooCommerce emulator and
`relay serve` (confirmations = 2, poll_seconds = 1) as its own process; places 50 orders through
the store's webhooks, then pays them one after another (a USDC transfer every `--interval` s, so
they land in different blocks), and measures for each payment:

* mined: when the payment's block first showed at the node (eth_blockNumber polled every 10 ms);
* confirmed: when the block that gives it the required confirmations first showed;
* settled: the invoice's `settled_at` (the start of the watcher tick that settled it);
* updated: when the store received the PUT that moved the order to `processing`.

Target: updated - confirmed within one poll_seconds. `settled_to_order_update_s` is the delivery's
share (the scheduler runs the delivery job right after each watcher tick).
"""

from __future__ import annotations

import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select
from web3 import Web3

from bench.common import (
    ADMIN_TOKEN,
    WEBHOOK_SECRET,
    RelayProcess,
    config_dict,
    database_url,
    main_with,
    parser_for,
    percentile,
)
from bench.store import BenchStore
from devkit.devchain import Anvil, deploy_token, load_artifact, mint
from devkit.harness import free_port, wait_for, write_config
from relay.db import Database
from relay.models import Invoice


class BlockClock:
    """Note the wall time (unix s) at which each block number first shows at the node."""

    def __init__(self, url: str, every: float = 0.01) -> None:
        self.url, self.every = url, every
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="block-clock")

    def __enter__(self) -> BlockClock:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
        last = -1
        with requests.Session() as http:
            while not self._stop.is_set():
                number = int(http.post(self.url, json=body, timeout=5).json()["result"], 16)
                now = time.time()
                for missed in range(last + 1, number + 1):
                    self.seen.setdefault(missed, now)
                last = max(last, number)
                time.sleep(self.every)


def _admin_invoice(url: str, order_id: int) -> dict[str, Any] | None:
    answer = requests.get(
        f"{url}/api/v1/admin/invoices",
        params={"store": "shop", "order_id": str(order_id)},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=5,
    )
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()["invoices"]
    return found[0] if found else None


def run(
    *,
    payments: int = 50,
    interval: float = 0.5,
    block_time: float = 1.0,
    confirmations: int = 2,
    poll_seconds: float = 1.0,
    db: str = "sqlite",
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Pay `payments` invoices on a chain with `block_time` blocks; return the latencies."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="relay-bench-latency-"))
    db_url = database_url(db, tmp)
    with Anvil(block_time=block_time) as node, BenchStore(webhook_delay=0.05) as store:
        w3 = node.w3
        payer = node.accounts[1]
        token = deploy_token(w3, name="USD Coin", symbol="USDC", decimals=6)
        mint(w3, token, payer, 10**15)
        port = free_port()
        data = config_dict(
            spool_dir=str(tmp / "spool"),
            database_url=db_url,
            port=port,
            rpc_url=node.url,
            token=token,
            store_url=store.base_url,
            confirmations=confirmations,
            poll_seconds=poll_seconds,
            retry_seconds=(0, 1, 1, 2, 5, 10),
        )
        relay = RelayProcess(write_config(data, tmp / "relay.toml"), tmp / "relay.log")
        relay.start("serve")
        try:
            for topic in ("order.created", "order.updated"):
                store.add_webhook(topic, f"{relay.url}/hooks/shop", WEBHOOK_SECRET)
            orders = [store.create_order(total=f"{10 + i}.00") for i in range(payments)]
            invoices = [
                wait_for("an invoice", partial(_admin_invoice, relay.url, o["id"]), 60, 0.1)
                for o in orders
            ]
            # let the invoice.created pushes (customer note, meta) finish before paying
            wait_for(
                "the payment links on the orders",
                lambda: all(
                    any(
                        m["key"] == "_relay_invoice_id"
                        for m in store.get_order(o["id"])["meta_data"]
                    )
                    for o in orders
                ),
                120,
                0.2,
            )
            contract = w3.eth.contract(
                address=Web3.to_checksum_address(token), abi=load_artifact("TestToken")["abi"]
            )
            with BlockClock(node.url) as clock:
                sent = []
                for order, invoice in zip(orders, invoices, strict=True):
                    option = next(o for o in invoice["options"] if o["asset"] == "USDC")
                    call = contract.functions.transfer(
                        Web3.to_checksum_address(option["address"]),
                        int(option["amount_base_units"]),
                    )
                    sent.append((order["id"], invoice["id"], call.transact({"from": payer})))
                    time.sleep(interval)
                wait_for(
                    "every order processing",
                    lambda: all(
                        store.get_order(order_id)["status"] == "processing"
                        for order_id, _, _ in sent
                    ),
                    120,
                    0.2,
                )
                receipts = {tx: w3.eth.wait_for_transaction_receipt(tx) for _, _, tx in sent}
                wait_for(
                    "the confirming blocks",
                    lambda: (
                        max(r["blockNumber"] for r in receipts.values()) + confirmations
                        in clock.seen
                    ),
                    30,
                    0.05,
                )
            settled_at = _settled_times(db_url, [invoice_id for _, invoice_id, _ in sent])
        finally:
            relay.stop()
    rows = []
    for order_id, invoice_id, tx in sent:
        block = receipts[tx]["blockNumber"]
        path = f"/wp-json/wc/v3/orders/{order_id}"
        update = min(
            s.at
            for s in store.stamps
            if s.method == "PUT"
            and s.path == path
            and s.status == 200
            and isinstance(s.json, dict)
            and s.json.get("status") == "processing"
        )
        mined = clock.seen[block]
        confirmed = clock.seen[block + confirmations - 1]
        rows.append(
            {
                "block": block,
                "to_confirmed_s": confirmed - mined,
                "to_settled_s": settled_at[invoice_id] - mined,
                "to_update_s": update - mined,
                "after_confirmed_s": update - confirmed,
                "after_settled_s": update - settled_at[invoice_id],
            }
        )
    return _summary(rows, payments, block_time, confirmations, poll_seconds, db)


def _settled_times(db_url: str, invoice_ids: list[str]) -> dict[str, float]:
    database = Database(db_url)
    try:
        with database.transaction() as session:
            found = session.execute(
                select(Invoice.id, Invoice.settled_at).where(Invoice.id.in_(invoice_ids))
            ).all()
    finally:
        database.dispose()
    return {invoice_id: at.timestamp() for invoice_id, at in found if at is not None}


def _summary(
    rows: list[dict[str, Any]],
    payments: int,
    block_time: float,
    confirmations: int,
    poll_seconds: float,
    db: str,
) -> dict[str, Any]:
    def stats(key: str) -> dict[str, float]:
        values = [r[key] for r in rows]
        return {
            "median": round(percentile(values, 50), 3),
            "p90": round(percentile(values, 90), 3),
            "worst": round(max(values), 3),
        }

    after = stats("after_confirmed_s")
    return {
        "benchmark": "latency",
        "database": db,
        "payments": payments,
        "block_time_s": block_time,
        "confirmations": confirmations,
        "poll_seconds": poll_seconds,
        "mined_to_confirmed_s": stats("to_confirmed_s"),
        "mined_to_settled_s": stats("to_settled_s"),
        "mined_to_order_update_s": stats("to_update_s"),
        "confirmed_to_order_update_s": after,
        "settled_to_order_update_s": stats("after_settled_s"),
        "within_one_poll": after["worst"] <= poll_seconds,
    }


def main() -> None:
    """Parse arguments, run, print the result as JSON."""
    parser = parser_for(__doc__)
    parser.add_argument("--payments", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between payments")
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--confirmations", type=int, default=2)
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    main_with("latency", parser, run)


if __name__ == "__main__":
    main()
