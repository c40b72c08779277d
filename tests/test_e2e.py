"""End to end over real HTTP: WooCommerce emulator ⇄ relay process ⇄ anvil with a real ERC-20.

The relay runs as `python -m relay serve --config F` in its own process; the store emulator sends
signed webhooks some time after each change (body built at send time); the customer pays from
another anvil account; the tests wait for the storefront order itself to change.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from devkit.devchain import Anvil, send_eth, transfer_token
from devkit.woocommerce import WooStore
from tests.conftest import WEBHOOK_SECRET, config_dict, database_url_for
from tests.support import (
    RelayProcess,
    relay_address,
    relay_process,
    wait_for,
    woocommerce_delivery,
)


@pytest.fixture(scope="module")
def store() -> Iterator[WooStore]:
    with WooStore(webhook_delay=0.3) as shop:
        yield shop


@pytest.fixture(scope="module")
def relay(
    chain: Anvil, usdc: str, store: WooStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RelayProcess]:
    tmp = tmp_path_factory.mktemp("relay")
    data = config_dict(
        rpc_url=chain.url,
        token=usdc,
        store_url=store.base_url,
        database_url=database_url_for(tmp),
        **relay_address(),
    )
    # a second store whose invoices expire after 6 seconds
    data["stores"]["quick"] = dict(
        data["stores"]["shop"],
        invoice_expiry_minutes=0.1,
        monitoring_minutes=0,
        webhook_secret="quick-secret",
        payment_methods=["quickpay"],
    )
    data["stores"]["quick"]["xpub"] = data["stores"]["shop"]["xpub"]
    process = relay_process(data, tmp).start()
    for topic in ("order.created", "order.updated"):
        hook = store.add_webhook(topic, f"{process.url}/hooks/shop", WEBHOOK_SECRET)
        assert store.webhook(hook["id"])["pending_delivery"] is False  # the ping got exactly 200
    yield process
    process.stop()


def test_usdc_order_paid_on_chain_becomes_processing(
    relay: RelayProcess, store: WooStore, chain: Anvil, usdc: str
) -> None:
    order = store.create_order(total="44.98", currency="USD", payment_method="cheque")
    invoice = wait_for("the invoice", lambda: relay.invoice_for(order["id"]))
    option = next(o for o in invoice["options"] if o["asset"] == "USDC")
    assert option["amount_base_units"] == "44980000"
    # the customer gets the payment link; the order carries the invoice id and link as meta
    wait_for(
        "the customer note",
        lambda: any(
            n["customer_note"] and invoice["payment_url"] in n["note"]
            for n in store.notes(order["id"])
        ),
    )
    meta = {m["key"]: m["value"] for m in store.get_order(order["id"])["meta_data"]}
    assert meta["_relay_invoice_id"] == invoice["id"]
    assert meta["_relay_payment_url"] == invoice["payment_url"]

    tx = transfer_token(chain.w3, usdc, chain.accounts[1], option["address"], 44_980_000)
    final = wait_for(
        "the order to be processing",
        lambda: (o := store.get_order(order["id"]))["status"] == "processing" and o,
    )
    assert final["transaction_id"] == tx
    settled = relay.invoice(invoice["id"])
    assert settled["status"] == "settled" and settled["exception"] is None
    assert [p["tx_hash"] for p in settled["payments"]] == [tx]
    assert settled["payments"][0]["confirmations"] >= 2
    # the relay's own updates came back as order.updated and changed nothing
    time.sleep(1.5)
    assert (
        len(
            relay.admin("/api/v1/admin/invoices", store="shop", order_id=str(order["id"]))[
                "invoices"
            ]
        )
        == 1
    )
    notes = [n["note"] for n in store.notes(order["id"])]
    assert len(notes) == len(set(notes))
    assert any("settled" in n and tx in n for n in notes)


def test_native_eth_payment(relay: RelayProcess, store: WooStore, chain: Anvil) -> None:
    order = store.create_order(total="10.00", currency="USD", payment_method="cheque")
    invoice = wait_for("the invoice", lambda: relay.invoice_for(order["id"]))
    option = next(o for o in invoice["options"] if o["asset"] == "ETH")
    assert option["amount_base_units"] == str(5 * 10**15)  # 10 USD at 2000 USD/ETH
    assert option["uri"] == f"ethereum:{option['address']}@31337?value=5e15"
    tx = send_eth(chain.w3, chain.accounts[2], option["address"], 5 * 10**15)
    final = wait_for(
        "the order to be processing",
        lambda: (o := store.get_order(order["id"]))["status"] == "processing" and o,
    )
    assert final["transaction_id"] == tx


def test_other_payment_method_is_left_alone(relay: RelayProcess, store: WooStore) -> None:
    order = store.create_order(total="5.00", payment_method="bacs")
    wait_for(
        "the webhook delivery",
        lambda: any(
            d["order_id"] == order["id"] and d["status_code"] == 200 for d in store.deliveries
        ),
    )
    wait_for("the inbox to drain", lambda: relay.inbox_queued() == 0)  # had it been queued
    assert relay.invoice_for(order["id"]) is None
    assert store.get_order(order["id"])["status"] == "pending"


def test_expiry_cancels_the_order(relay: RelayProcess, store: WooStore) -> None:
    store.add_webhook("order.created", f"{relay.url}/hooks/quick", "quick-secret")
    order = store.create_order(total="3.00", payment_method="quickpay")
    invoice = wait_for("the invoice", lambda: relay.invoice_for(order["id"], store="quick"))
    final = wait_for(
        "the order to be cancelled",
        lambda: (o := store.get_order(order["id"]))["status"] == "cancelled" and o,
        timeout=60,
    )
    assert relay.invoice(invoice["id"])["status"] == "expired"
    assert any("expired" in n["note"] for n in store.notes(final["id"]))


def test_duplicate_and_concurrent_webhooks_make_one_invoice(
    relay: RelayProcess, store: WooStore
) -> None:
    store.set_webhooks_paused(True)  # this order's webhooks are sent by the test, many times
    try:
        order = store.create_order(total="7.00", payment_method="cheque")
    finally:
        store.set_webhooks_paused(False)
    shown = store.get_order(order["id"])
    answers: list[int] = []

    def send(topic: str) -> None:
        body, headers = woocommerce_delivery(shown, topic)
        answer = requests.post(f"{relay.url}/hooks/shop", data=body, timeout=10, headers=headers)
        answers.append(answer.status_code)

    threads = [
        threading.Thread(target=send, args=(t,)) for t in ["order.updated", "order.created"] * 6
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 12
    # each 200 says "queued": the inbox opens the invoice after the answer, so wait for it to drain
    wait_for("the inbox to drain", lambda: relay.inbox_queued() == 0)
    found = relay.admin("/api/v1/admin/invoices", store="shop", order_id=str(order["id"]))
    assert len(found["invoices"]) == 1


def test_bad_signature_stores_nothing(relay: RelayProcess) -> None:
    order = {"id": 999999, "status": "pending", "payment_method": "cheque", "total": "1.00"}
    body = json.dumps(dict(order, currency="USD")).encode()
    answer = requests.post(
        f"{relay.url}/hooks/shop",
        data=body,
        timeout=5,
        headers={"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": "AAAA"},
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_signature"
    assert relay.invoice_for(999999) is None
