"""Refunds without custody, on anvil with a WooCommerce emulator over real HTTP.

The merchant refunds in WooCommerce; the store's `order.updated` webhook carries `refunds[]`;
the relay asks the customer for an address (a signed link in a customer note), gives the merchant
an EIP-681 link for their own wallet (a private note), sees the transfer on the chain and records
it with its tx hash. A funded anvil account stands in for the merchant's wallet.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from devkit.devchain import send_eth, transfer_token
from relay.cli import main
from relay.models import Delivery
from tests.live_shop import USDC, LiveShop, dev_chain, live_shop, parse_uri
from tests.test_scenarios import Chain

ETH = 10**18


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    with dev_chain() as node:
        yield node


@pytest.fixture
def make(chain: Chain, tmp_path: Path) -> Iterator[Callable[..., LiveShop]]:
    shops = itertools.count()
    with ExitStack() as stack:

        def build(**store_extra: object) -> LiveShop:
            tmp = tmp_path / f"shop{next(shops)}"
            return stack.enter_context(live_shop(chain, tmp, **store_extra))

        yield build


def settled(shop: LiveShop, total: str = "10.00", eth: bool = False) -> None:
    """Open an invoice for a new order and pay it in full (USDC, or ETH at 2000 USD)."""
    w = shop.world
    invoice = w.open(total)
    if eth:
        option = next(o for o in invoice.options if o.asset == "ETH")
        w.pay_eth(option.amount_base_units)
    else:
        w.pay(next(o for o in invoice.options if o.asset == "USDC").amount_base_units)
    shop.tick(blocks=3)
    assert w.invoice.status == "settled"
    assert w.order_now()["status"] == "processing"


def refund_in_store(shop: LiveShop, amount: str, reason: str = "") -> None:
    """Refund in WooCommerce, let its webhook reach the relay, deliver the relay's answer."""
    shop.store.refund_order(shop.world.order["id"], amount, reason=reason)
    shop.hook_order_updated()
    shop.tick()


def pay_refund(shop: LiveShop, uri: str, amount: int | None = None) -> str:
    """Pay a refund's EIP-681 link from the merchant's wallet; return the tx hash."""
    token, to, units = parse_uri(uri)
    w3 = shop.world.chain.node.w3
    if token is None:
        return send_eth(w3, shop.merchant, to, amount or units)
    return transfer_token(w3, token, shop.merchant, to, amount or units)


def test_full_refund_paid_from_the_merchant_wallet(
    make: Callable[..., LiveShop], chain: Chain
) -> None:
    shop = make()
    w = shop.world
    settled(shop)
    refund_in_store(shop, "10.00", reason="Course cancelled")
    assert w.order_now()["status"] == "refunded"  # WooCommerce's own status for a full refund
    (refund,) = shop.refunds()
    assert (refund.status, refund.amount_base_units, refund.asset) == (
        "awaiting_address",
        10 * USDC,
        "USDC",
    )
    assert refund.external_id == str(w.order_now()["refunds"][0]["id"])
    # the customer is asked for an address; the sending address is never used blindly
    ask = next(n for n in shop.notes(customer=True) if "/refund/" in n)
    assert "10.00 USD will be sent as 10 USDC on dev" in ask
    assert "not the exchange address you may have paid from" in ask
    # repeated order.updated deliveries (the relay's own writes, a merchant edit) open nothing
    w.store.update_order(w.order["id"], customer_note="thanks")
    shop.hook_order_updated()
    shop.tick()
    assert len(shop.refunds()) == 1
    assert sum("Refund " in n and "opened as" in n for n in shop.notes(customer=False)) == 1

    page = requests.get(shop.url + shop.refund_link(), timeout=10)
    assert page.status_code == 200 and 'name="address"' in page.text
    customer = chain.node.accounts[6]
    answer = shop.give_address(shop.refund_link(), customer.lower())
    assert answer.status_code == 200, answer.text
    assert answer.json()["address"] == customer  # stored in EIP-55 form
    shop.tick()
    uri = shop.payment_link()
    assert uri == f"ethereum:{chain.usdc}@31337/transfer?address={customer}&uint256=1e7"
    tx = pay_refund(shop, uri)
    shop.tick()
    assert shop.refund(refund.id).status == "confirming"
    shop.tick(blocks=2)
    done = shop.refund(refund.id)
    assert (done.status, done.tx_hash, done.paid_base_units) == ("refunded", tx, 10 * USDC)
    notes = shop.notes()
    assert f"Refund {refund.id} sent: 10 USDC on dev to {customer} (tx {tx})." in notes
    assert any(tx in n for n in shop.notes(customer=True))
    assert w.invoice.status == "settled"  # the invoice keeps its status; the refund is apart
    types = shop.event_types()
    for event in ("invoice.refund_requested", "invoice.refund_ready", "invoice.refunded"):
        assert types.count(event) == 1, types
    refunded = next(e for e in shop.events if e["type"] == "invoice.refunded")
    assert refunded["data"]["id"] == w.invoice_id
    assert refunded["extra"]["refund"]["tx_hash"] == tx


def test_partial_refunds_in_eth_each_paid_once(make: Callable[..., LiveShop], chain: Chain) -> None:
    shop = make()
    w = shop.world
    settled(shop, eth=True)  # 0.005 ETH at 2000 USD/ETH
    refund_in_store(shop, "3.00", reason="late delivery")
    refund_in_store(shop, "2.00")
    assert w.order_now()["status"] == "processing"  # partly refunded
    first, second = shop.refunds()
    assert (first.amount_base_units, second.amount_base_units) == (15 * 10**14, 10**15)
    assert first.reason == "late delivery"
    customer = chain.node.accounts[7]
    for path in (shop.refund_link(0), shop.refund_link(1)):
        assert shop.give_address(path, customer).status_code == 200
    shop.tick()
    # the merchant pays the second first; dust sent to the address in between pays nothing
    later = pay_refund(shop, shop.payment_link(1))
    send_eth(w.chain.node.w3, chain.node.accounts[8], customer, 1)
    earlier = pay_refund(shop, shop.payment_link(0))
    shop.tick(blocks=3)
    first, second = shop.refund(first.id), shop.refund(second.id)
    assert (first.status, first.tx_hash, first.log_index) == ("refunded", earlier, -1)
    assert (second.status, second.tx_hash) == ("refunded", later)
    assert sum(n.startswith("Refund ") and " sent: " in n for n in shop.notes()) == 2
    shop.hook_order_updated()  # the relay's notes are no order change; nothing reopens
    assert len(shop.refunds()) == 2


def test_merchant_chooses_the_amount_then_cancels(
    make: Callable[..., LiveShop], chain: Chain
) -> None:
    shop = make()
    settled(shop)
    refund_in_store(shop, "4.00")
    (refund,) = shop.refunds()
    chosen = shop.admin(
        "PATCH", f"/api/v1/admin/refunds/{refund.id}", json={"amount_base_units": "3900000"}
    )
    assert chosen.status_code == 200, chosen.text
    assert (chosen.json()["amount_source"], chosen.json()["asset_amount"]) == ("merchant", "3.9")
    customer = chain.node.accounts[6]
    assert shop.give_address(shop.refund_link(), customer).status_code == 200
    shop.tick()
    assert shop.payment_link().endswith("&uint256=39e5")
    cancelled = shop.admin("POST", f"/api/v1/admin/refunds/{refund.id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    shop.tick()
    assert any(f"Refund request {refund.id}" in n and "cancelled" in n for n in shop.notes())
    again = shop.admin("POST", f"/api/v1/admin/refunds/{refund.id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "refund_conflict"
    page = requests.get(shop.url + shop.refund_link(), timeout=10)
    assert "cancelled" in page.text and 'name="address"' not in page.text
    # paying a cancelled request's link anyway is not recorded as the refund
    pay_refund(shop, shop.payment_link())
    shop.tick(blocks=3)
    assert shop.refund(refund.id).status == "cancelled"
    assert shop.refund(refund.id).tx_hash is None

    # a second refund on the same order, cancelled from the CLI before any address
    refund_in_store(shop, "1.00")
    second = shop.refunds()[-1]
    runner = CliRunner()
    listed = runner.invoke(main, ["refunds", "list", "--config", str(shop.config_path)])
    assert listed.exit_code == 0 and second.id in listed.output and refund.id in listed.output
    shown = runner.invoke(main, ["refunds", "show", second.id, "--config", str(shop.config_path)])
    assert shown.exit_code == 0 and '"status": "awaiting_address"' in shown.output
    priced = runner.invoke(
        main, ["refunds", "set-amount", second.id, "900000", "--config", str(shop.config_path)]
    )
    assert priced.exit_code == 0 and "900000 base units" in priced.output
    assert shop.refund(second.id).amount_base_units == 900_000
    result = runner.invoke(
        main, ["refunds", "cancel", second.id, "--config", str(shop.config_path)]
    )
    assert result.exit_code == 0, result.output
    assert shop.refund(second.id).status == "cancelled"
    result = runner.invoke(
        main, ["refunds", "cancel", second.id, "--config", str(shop.config_path)]
    )
    assert result.exit_code == 1 and "cannot be cancelled" in result.output


def test_refund_address_form_refuses_bad_input_and_stores_nothing(
    make: Callable[..., LiveShop], chain: Chain
) -> None:
    shop = make()
    w = shop.world
    settled(shop)
    refund_in_store(shop, "10.00")
    (refund,) = shop.refunds()
    path = shop.refund_link()
    customer = chain.node.accounts[6]
    index = max(i for i, c in enumerate(customer) if c.isalpha() and i > 1)
    bad_checksum = customer[:index] + customer[index].swapcase() + customer[index + 1 :]
    cases = [
        ("not an address", "not_an_address"),
        ("0x1234", "not_an_address"),
        (bad_checksum, "bad_checksum"),
        ("0x" + "0" * 40, "zero_address"),
        (w.address(), "own_address"),  # the invoice's own deposit address
        (chain.usdc, "own_address"),  # the token contract
        (chain.router, "contract_address"),  # a contract: only with an explicit confirmation
    ]
    before = _deliveries(shop)
    for text, code in cases:
        answer = shop.give_address(path, text)
        assert answer.status_code == 422, (text, answer.text)
        error = answer.json()["error"]
        assert error["code"] == code, (text, error)
        assert error["message"]
        stored = shop.refund(refund.id)
        assert (stored.status, stored.to_address) == ("awaiting_address", None)
    assert _deliveries(shop) == before  # nothing queued either
    # the HTML form answers the same refusal on the page, keeping what was typed
    form = requests.post(f"{shop.url}{path}", data={"address": bad_checksum}, timeout=10)
    assert form.status_code == 422 and 'role="alert"' in form.text
    assert "checksum" in form.text and f'value="{bad_checksum}"' in form.text
    warned = requests.post(f"{shop.url}{path}", data={"address": chain.router}, timeout=10)
    assert warned.status_code == 422 and 'name="confirm_contract"' in warned.text
    # confirmed: accepted, and the merchant's note says it is a contract
    confirmed = requests.post(
        f"{shop.url}{path}",
        data={"address": chain.router, "confirm_contract": "yes"},
        timeout=10,
    )
    assert confirmed.status_code == 200 and "The store will send" in confirmed.text
    stored = shop.refund(refund.id)
    assert (stored.status, stored.to_address, stored.to_is_contract) == (
        "awaiting_payment",
        chain.router,
        True,
    )
    shop.tick()
    assert any("smart contract; the customer confirmed" in n for n in shop.notes(customer=False))
    # the address is given once; a tampered or foreign token is a plain 404
    again = shop.give_address(path, customer)
    assert again.status_code == 409 and again.json()["error"]["code"] == "refund_conflict"
    assert shop.refund(refund.id).to_address == chain.router
    assert requests.get(f"{shop.url}{path}x", timeout=10).status_code == 404
    assert shop.give_address(path + "x", customer).status_code == 404


def test_a_refund_transfer_that_leaves_the_chain_is_waited_for_again(
    make: Callable[..., LiveShop], chain: Chain
) -> None:
    shop = make()
    settled(shop)
    refund_in_store(shop, "5.00")
    (refund,) = shop.refunds()
    assert shop.give_address(shop.refund_link(), chain.node.accounts[6]).status_code == 200
    shop.tick()
    pay_refund(shop, shop.payment_link())
    shop.tick()
    assert shop.refund(refund.id).status == "confirming"
    chain.node.reorg(1)  # the refund's block is replaced; its transaction is dropped
    shop.tick()
    dropped = shop.refund(refund.id)
    assert (dropped.status, dropped.tx_hash) == ("awaiting_payment", None)
    tx = pay_refund(shop, shop.payment_link())
    shop.tick(blocks=3)
    assert (shop.refund(refund.id).status, shop.refund(refund.id).tx_hash) == ("refunded", tx)


def test_a_refund_of_an_unpaid_order_opens_nothing(make: Callable[..., LiveShop]) -> None:
    shop = make()
    w = shop.world
    w.open("10.00")  # never paid
    refund_in_store(shop, "10.00")
    assert shop.refunds() == []
    assert not any("/refund/" in n for n in shop.notes())
    answered = [d for d in shop.store.deliveries if d["topic"] == "order.updated"]
    assert answered and all(d["status_code"] == 200 for d in answered)


def _deliveries(shop: LiveShop) -> int:
    with shop.world.db.transaction() as session:
        return session.query(Delivery).count()
