"""A WooCommerce store with the relay-payments plugin, end to end over real HTTP.

The relay runs as a process with plugin stores (api_token, no REST keys); the WooCommerce
emulator runs the plugin's callback stand-in (devkit/woocommerce/plugin.py), which re-reads every
event's invoice from the store-scoped route with its token, as the PHP plugin does; the customer
pays on anvil. The plugin's own status mapping is tested in PHP (tests/test_woocommerce_plugin.py).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from devkit.devchain import Anvil, transfer_token
from devkit.woocommerce import WooStore
from devkit.woocommerce.plugin import RelayPlugin
from relay.signing import verify_standard_webhook
from tests.conftest import config_dict, database_url_for
from tests.support import RelayProcess, relay_address, relay_process, wait_for

TOKEN = "plugin-store-token-0123456789"
QUICK_TOKEN = "quick-store-token-0123456789"
SECRET = "whsec_" + base64.b64encode(b"plugin callback key 0123456789ab").decode()


def plugin_store(base_url: str, token: str, **extra: Any) -> dict[str, Any]:
    store: dict[str, Any] = config_dict()["stores"]["shop"]
    for key in ("api_key", "api_secret", "webhook_secret", "payment_methods"):
        del store[key]
    return store | {"base_url": base_url, "api_token": token} | extra


@pytest.fixture(scope="module")
def shops() -> Iterator[tuple[WooStore, WooStore]]:
    with WooStore() as shop, WooStore() as quick:
        yield shop, quick


@pytest.fixture(scope="module")
def misconfigured() -> Iterator[WooStore]:
    with WooStore() as shop:
        yield shop


@pytest.fixture(scope="module")
def relay(
    chain: Anvil,
    usdc: str,
    shops: tuple[WooStore, WooStore],
    misconfigured: WooStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RelayProcess]:
    shop, quick = shops
    tmp = tmp_path_factory.mktemp("relay")
    data = config_dict(
        rpc_url=chain.url, token=usdc, database_url=database_url_for(tmp), **relay_address()
    )
    data["stores"] = {
        "plug": plugin_store(shop.base_url, TOKEN, webhook_secret=SECRET),
        # invoices expiring after 6 seconds, still watched for an hour (no webhook_secret)
        "quick": plugin_store(quick.base_url, QUICK_TOKEN, invoice_expiry_minutes=0.1),
        "typo": plugin_store(misconfigured.base_url, "typo-store-token-0123456789"),
    }
    process = relay_process(data, tmp).start()
    shop.install_relay_plugin(process.url, "plug", TOKEN)
    quick.install_relay_plugin(process.url, "quick", QUICK_TOKEN)
    misconfigured.install_relay_plugin(process.url, "typo", "a token pasted wrong")
    yield process
    process.stop()


def checkout(relay: RelayProcess, shop: WooStore, order: dict[str, Any], **extra: Any) -> Any:
    """Open the invoice as the plugin's process_payment() does; return the answer."""
    plugin = shop.relay_plugin
    assert plugin is not None
    return requests.post(
        f"{relay.url}/api/v1/stores/{plugin.store}/invoices",
        json=checkout_body(shop, order) | extra,
        headers={"Authorization": f"Bearer {plugin.api_token}"},
        timeout=10,
    )


def checkout_body(shop: WooStore, order: dict[str, Any]) -> dict[str, Any]:
    """Return the body the plugin's process_payment() sends for an order."""
    received = f"{shop.base_url}/checkout/order-received/{order['id']}/"
    return {
        "order_id": str(order["id"]),
        "order_number": order["number"],
        "order_key": order["order_key"],
        "amount": order["total"],
        "currency": order["currency"],
        "customer_email": order["billing"]["email"],
        "return_url": f"{received}?key={order['order_key']}",
    }


def callbacks(plugin: RelayPlugin | None, invoice_id: str) -> list[dict[str, Any]]:
    assert plugin is not None
    return [c for c in plugin.callbacks if c["invoice_id"] == invoice_id]


def reread(relay: RelayProcess, store: str, invoice_id: str, token: str) -> requests.Response:
    return requests.get(
        f"{relay.url}/api/v1/stores/{store}/invoices/{invoice_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def test_an_order_paid_on_chain_reaches_the_plugin_event_by_event(
    relay: RelayProcess, shops: tuple[WooStore, WooStore], chain: Anvil, usdc: str
) -> None:
    shop, _ = shops
    order = shop.create_order(total="12.50", payment_method="relay")
    answer = checkout(relay, shop, order)
    assert answer.status_code == 201, answer.text
    invoice = answer.json()
    assert invoice["payment_url"].startswith("http") and "order_key" not in invoice
    # the payment page's link back goes to the order-received page the plugin gave
    status = requests.get(f"{invoice['payment_url']}/status.json", timeout=5).json()
    assert status["order_url"] == checkout_body(shop, order)["return_url"]
    # the public route never shows the order key; the store's route does
    public = requests.get(f"{relay.url}/api/v1/invoices/{invoice['id']}", timeout=5).json()
    assert "order_key" not in public and order["order_key"] not in str(public)
    mine = reread(relay, "plug", invoice["id"], TOKEN)
    assert mine.status_code == 200 and mine.json()["order_key"] == order["order_key"]

    option = next(o for o in invoice["options"] if o["asset"] == "USDC")
    tx = transfer_token(chain.w3, usdc, chain.accounts[1], option["address"], 12_500_000)
    wait_for(
        "the invoice.settled callback",
        lambda: any(
            c["type"] == "invoice.settled" for c in callbacks(shop.relay_plugin, invoice["id"])
        ),
    )
    seen = callbacks(shop.relay_plugin, invoice["id"])
    kinds = [c["type"] for c in seen]
    assert kinds[0] == "invoice.created"
    assert kinds.index("invoice.processing") < kinds.index("invoice.settled")
    for call in seen:  # every callback was signed, re-read with the token and acknowledged
        assert call["method"] == "POST" and call["status"] == 200 and call["reread_status"] == 200
        headers = {k.lower(): v for k, v in call["headers"].items()}
        verify_standard_webhook(
            [SECRET],
            headers["webhook-id"],
            headers["webhook-timestamp"],
            headers["webhook-signature"],
            call["body"],
            time.time(),
        )
    settled = next(c for c in seen if c["type"] == "invoice.settled")
    assert settled["invoice"]["status"] == "settled"
    assert settled["invoice"]["payments"][-1]["tx_hash"] == tx
    # the relay sent nothing else to the store: no REST calls, no order moved by the relay
    assert all(r["path"] == "/" for r in shop.requests)
    assert shop.get_order(order["id"])["status"] == "pending"  # the PHP plugin's to move
    again = checkout(relay, shop, order)
    assert again.status_code == 200 and again.json()["id"] == invoice["id"]


def test_the_store_route_answers_only_its_own_store_with_its_own_token(
    relay: RelayProcess, shops: tuple[WooStore, WooStore]
) -> None:
    shop, quick = shops
    mine = checkout(relay, shop, shop.create_order(total="3.00", payment_method="relay")).json()
    theirs = checkout(relay, quick, quick.create_order(total="3.00", payment_method="relay")).json()

    def error(answer: requests.Response) -> tuple[int, str]:
        return answer.status_code, answer.json()["error"]["code"]

    assert error(reread(relay, "plug", mine["id"], QUICK_TOKEN)) == (401, "unauthorized")
    assert error(reread(relay, "plug", mine["id"], "")) == (401, "unauthorized")
    assert error(reread(relay, "plug", theirs["id"], TOKEN)) == (404, "not_found")
    assert error(reread(relay, "plug", "inv_nope", TOKEN)) == (404, "not_found")
    assert error(reread(relay, "nope", mine["id"], TOKEN)) == (404, "unknown_store")
    bare = requests.get(f"{relay.url}/api/v1/stores/plug/invoices/{mine['id']}", timeout=5)
    assert bare.status_code == 401


def test_a_new_invoice_after_expiry_and_a_late_payment_of_the_old_one(
    relay: RelayProcess, shops: tuple[WooStore, WooStore], chain: Anvil, usdc: str
) -> None:
    _, quick = shops
    order = quick.create_order(total="4.00", payment_method="relay")
    first = checkout(relay, quick, order).json()
    wait_for(
        "the invoice.expired callback",
        lambda: any(
            c["type"] == "invoice.expired" for c in callbacks(quick.relay_plugin, first["id"])
        ),
        timeout=60,
    )
    # paying again (WooCommerce's pay-for-order page) opens a new invoice
    second = checkout(relay, quick, order)
    assert second.status_code == 201
    new = second.json()
    assert new["id"] != first["id"] and new["status"] == "new"
    assert new["options"][0]["address"] != first["options"][0]["address"]
    assert new["options"][0]["rate_at"] > first["options"][0]["rate_at"]
    again = checkout(relay, quick, order)
    assert again.status_code == 200 and again.json()["id"] == new["id"]
    found = relay.admin("/api/v1/admin/invoices", store="quick", order_id=str(order["id"]))
    assert [i["id"] for i in found["invoices"]] == [new["id"], first["id"]]  # newest first

    # the old invoice is still watched: paid late, it pays the order and closes the new one
    old_option = next(o for o in first["options"] if o["asset"] == "USDC")
    transfer_token(chain.w3, usdc, chain.accounts[1], old_option["address"], 4_000_000)
    wait_for("the old invoice to settle", lambda: relay.invoice(first["id"])["status"] == "settled")
    assert relay.invoice(first["id"])["exception"] == "paid_late"
    closed = wait_for(
        "the new invoice to close",
        lambda: (i := relay.invoice(new["id"]))["closed_by"] == first["id"] and i,
    )
    assert closed["status"] == "expired"
    wait_for(
        "the closed invoice's invoice.expired callback",
        lambda: any(
            c["type"] == "invoice.expired" for c in callbacks(quick.relay_plugin, new["id"])
        ),
    )
    # a payment to the closed one anyway is recorded and reported, never counted
    new_option = next(o for o in new["options"] if o["asset"] == "USDC")
    tx = transfer_token(chain.w3, usdc, chain.accounts[1], new_option["address"], 4_000_000)
    reported = wait_for(
        "the closed invoice's payment",
        lambda: next((p for p in relay.invoice(new["id"])["payments"] if p["tx_hash"] == tx), None),
    )
    assert reported["state"] == "after_monitoring"
    assert relay.invoice(new["id"])["status"] == "expired"
    wait_for(
        "the invoice.payment_received callback",
        lambda: any(
            c["type"] == "invoice.payment_received"
            for c in callbacks(quick.relay_plugin, new["id"])
        ),
    )
    # the order is paid: opening it again gives the paid invoice back
    paid = checkout(relay, quick, order)
    assert paid.status_code == 200 and paid.json()["id"] == first["id"]


def test_concurrent_opens_give_one_open_invoice(
    relay: RelayProcess, shops: tuple[WooStore, WooStore]
) -> None:
    shop, _ = shops
    order = shop.create_order(total="6.00", payment_method="relay")
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: checkout(relay, shop, order), range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["id"] for a in answers}) == 1


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example/checkout/order-received/1/",
        "javascript:alert(1)",
        "/checkout/order-received/1/",
        "http://user@127.0.0.1/x",
        "http://evil.example\\@127.0.0.1/x",
    ],
)
def test_a_return_url_off_the_store_is_refused_and_nothing_is_opened(
    relay: RelayProcess, shops: tuple[WooStore, WooStore], return_url: str
) -> None:
    shop, _ = shops
    order = shop.create_order(total="2.00", payment_method="relay")
    answer = checkout(relay, shop, order, return_url=return_url)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invoice_error"
    assert relay.invoice_for(order["id"], store="plug") is None


def test_a_callback_the_plugin_cannot_re_read_is_retried_until_it_can(
    relay: RelayProcess, misconfigured: WooStore
) -> None:
    plugin = misconfigured.relay_plugin
    assert plugin is not None
    order = misconfigured.create_order(total="1.00", payment_method="relay")
    answer = requests.post(
        f"{relay.url}/api/v1/stores/typo/invoices",
        json=checkout_body(misconfigured, order),
        headers={"Authorization": "Bearer typo-store-token-0123456789"},
        timeout=10,
    )
    assert answer.status_code == 201
    invoice_id = answer.json()["id"]
    wait_for("two refused callbacks", lambda: len(callbacks(plugin, invoice_id)) >= 2)
    refused = callbacks(plugin, invoice_id)
    assert all(c["status"] == 503 and c["reread_status"] == 401 for c in refused)
    assert "webhook-signature" not in {k.lower() for k in refused[0]["headers"]}  # no secret
    plugin.api_token = "typo-store-token-0123456789"  # the merchant fixes the setting
    wait_for(
        "the callback to get through",
        lambda: any(c["status"] == 200 for c in callbacks(plugin, invoice_id)),
    )
    ids = {c["headers"].get("Webhook-Id") for c in callbacks(plugin, invoice_id)}
    assert len(ids) == 1  # one event, retried under its one webhook-id
