"""The watcher on a real anvil node with real ERC-20s: payments, confirmations, RPC cost."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from devkit.devchain import Anvil, deploy_token, mint, send_eth, transfer_token
from relay.addresses import xpub_id
from relay.chain.rpc import Web3Chain
from relay.db import Database
from relay.invoices import load_invoice, open_invoice
from relay.models import AddressCounter, ChainCursor, Delivery, Invoice, utcnow
from relay.pricing import Rates
from relay.records import OrderData
from relay.settings import Settings
from relay.watcher import scan_once, sweep_expired
from tests.conftest import MERCHANT_XPUB, make_settings


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    with Anvil() as anvil:  # automine: a block per transaction
        yield anvil


@pytest.fixture(scope="module")
def tokens(node: Anvil) -> tuple[str, str]:
    usdc = deploy_token(node.w3, name="USD Coin", symbol="USDC", decimals=6)
    impostor = deploy_token(node.w3, name="USD Coin", symbol="USDC", decimals=6)
    for token in (usdc, impostor):
        mint(node.w3, token, node.accounts[1], 10**15)
    return usdc, impostor


@pytest.fixture
def settings(node: Anvil, tokens: tuple[str, str]) -> Settings:
    return make_settings(rpc_url=node.url, token=tokens[0], confirmations=3)


@pytest.fixture
def chain(settings: Settings) -> Iterator[Web3Chain]:
    client = Web3Chain(settings.chains["dev"].rpc_urls)
    yield client
    client.close()


def scan(db: Database, settings: Settings, chain: Web3Chain) -> int:
    return scan_once(db, settings, settings.chains["dev"], chain, utcnow())


def open_order(db: Database, settings: Settings, order_id: str, total: str = "44.98") -> Invoice:
    order = OrderData(store="shop", order_id=order_id, currency="USD", total=Decimal(total))
    return open_invoice(db, settings, order, utcnow(), Rates(settings))[0]


def reload(db: Database, invoice_id: str) -> Invoice:
    with db.transaction() as session:
        invoice = load_invoice(session, invoice_id)
        assert invoice is not None
        return invoice


def events(db: Database, invoice_id: str) -> list[str]:
    with db.transaction() as session:
        query = select(Delivery.event).where(Delivery.invoice_id == invoice_id)
        return list(session.scalars(query.order_by(Delivery.id)))


def test_usdc_payment_is_recorded_once_and_confirmed(
    db: Database, settings: Settings, chain: Web3Chain, node: Anvil, tokens: tuple[str, str]
) -> None:
    assert scan(db, settings, chain) == 0  # the first tick places the cursor at the head
    invoice = open_order(db, settings, "1")
    tx = transfer_token(node.w3, tokens[0], node.accounts[1], invoice.deposit_address, 44_980_000)
    assert scan(db, settings, chain) == 1
    seen = reload(db, invoice.id)
    assert seen.status == "processing" and seen.paid_option == "dev:USDC"
    (payment,) = seen.payments
    assert (payment.tx_hash, payment.amount_base_units, payment.confirmations) == (
        tx,
        44_980_000,
        1,
    )
    node.mine(1)
    scan(db, settings, chain)
    assert reload(db, invoice.id).status == "processing"  # 2 of 3 confirmations
    node.mine(1)
    scan(db, settings, chain)
    settled = reload(db, invoice.id)
    assert settled.status == "settled" and settled.payments[0].confirmations == 3
    # rescanning the same blocks records nothing twice
    with db.transaction() as session:
        cursor = session.get(ChainCursor, "dev")
        assert cursor is not None
        cursor.block_number -= 5
        cursor.block_hash = node.w3.eth.get_block(cursor.block_number)["hash"].to_0x_hex()
    assert scan(db, settings, chain) == 0
    assert len(reload(db, invoice.id).payments) == 1
    # one storefront push per event, none twice
    assert events(db, invoice.id) == [
        "invoice.created",
        "invoice.payment_received",
        "invoice.processing",
        "invoice.settled",
    ]


def test_impostor_token_counts_for_nothing(
    db: Database, settings: Settings, chain: Web3Chain, node: Anvil, tokens: tuple[str, str]
) -> None:
    scan(db, settings, chain)
    invoice = open_order(db, settings, "2")
    transfer_token(node.w3, tokens[1], node.accounts[1], invoice.deposit_address, 44_980_000)
    node.mine(3)
    assert scan(db, settings, chain) == 0
    assert reload(db, invoice.id).status == "new"


def test_native_eth_and_partial_payments(
    db: Database, settings: Settings, chain: Web3Chain, node: Anvil
) -> None:
    scan(db, settings, chain)
    invoice = open_order(db, settings, "3", total="10.00")  # 0.005 ETH at 2000 USD/ETH
    send_eth(node.w3, node.accounts[2], invoice.deposit_address, 2 * 10**15)
    scan(db, settings, chain)
    partial = reload(db, invoice.id)
    assert (partial.status, partial.exception, partial.paid_option) == (
        "new",
        "paid_partial",
        "dev:ETH",
    )
    send_eth(node.w3, node.accounts[2], invoice.deposit_address, 3 * 10**15)
    node.mine(3)
    scan(db, settings, chain)
    paid = reload(db, invoice.id)
    assert (paid.status, paid.exception, paid.paid_base_units) == ("settled", "", 5 * 10**15)


def test_rpc_calls_per_scan_do_not_grow_with_open_invoices(
    db: Database, settings: Settings, node: Anvil
) -> None:
    counts = {}
    for label, invoices in (("few", 5), ("many", 300)):
        chain = Web3Chain(settings.chains["dev"].rpc_urls)
        scan(db, settings, chain)
        for i in range(invoices):
            open_order(db, settings, f"{label}-{i}")
        node.mine(10)
        chain.calls = 0
        scan(db, settings, chain)
        counts[label] = chain.calls
        chain.close()
    assert counts["few"] == counts["many"], counts


def test_expiry_waits_for_the_watcher(db: Database, settings: Settings, chain: Web3Chain) -> None:
    from datetime import timedelta

    scan(db, settings, chain)
    invoice = open_order(db, settings, "4")
    later = invoice.expires_at + timedelta(seconds=1)
    # the chain's cursor has not scanned a block from after the expiry: nothing expires yet
    assert sweep_expired(db, settings, later) == []
    with db.transaction() as session:
        cursor = session.get(ChainCursor, "dev")
        assert cursor is not None
        cursor.block_time = later
    assert sweep_expired(db, settings, later) == [invoice.id]
    assert reload(db, invoice.id).status == "expired"
    assert events(db, invoice.id)[-1] == "invoice.expired"


def test_first_scan_starts_before_invoices_already_waiting(
    db: Database, settings: Settings, chain: Web3Chain, node: Anvil, tokens: tuple[str, str]
) -> None:
    # the relay took orders before its worker ever scanned (serve started first)
    with db.transaction() as session:  # an address no other test of this chain has paid
        session.add(AddressCounter(xpub_id=xpub_id(MERCHANT_XPUB), next_index=5000))
    invoice = open_order(db, settings, "early")
    node.mine(5)
    transfer_token(node.w3, tokens[0], node.accounts[1], invoice.deposit_address, 44_980_000)
    node.mine(5)
    scan(db, settings, chain)  # places the cursor before the invoice, not at the head
    scan(db, settings, chain)
    assert [p.amount_base_units for p in reload(db, invoice.id).payments] == [44_980_000]


def test_balances_are_read_in_one_batch_per_address_chunk(node: Anvil) -> None:
    chain = Web3Chain([node.url], address_chunk_size=2)
    try:
        addresses = [*node.accounts[:3], "0x" + "ab" * 20, "0x" + "cd" * 20]
        head = node.w3.eth.block_number
        balances = chain.balances(addresses, head)
        assert chain.calls == 3  # 5 addresses, 2 a batch: nodes cap batch sizes
    finally:
        chain.close()
    expected = {
        a.lower(): node.w3.eth.get_balance(node.w3.to_checksum_address(a), head) for a in addresses
    }
    assert balances == expected
    assert balances["0x" + "ab" * 20] == 0 and balances[node.accounts[0].lower()] > 0


def test_idle_invoices_are_not_rewritten_by_every_tick(
    db: Database, settings: Settings, chain: Web3Chain, node: Anvil
) -> None:
    scan(db, settings, chain)
    with db.transaction() as session:  # an address no other test of this chain has paid
        session.add(AddressCounter(xpub_id=xpub_id(MERCHANT_XPUB), next_index=7000))
    invoice = open_order(db, settings, "idle", total="10.00")
    node.mine(2)
    scan(db, settings, chain)  # the first look at the address sets its native baseline
    baseline = reload(db, invoice.id)
    for _ in range(3):
        node.mine(2)
        scan(db, settings, chain)
    idle = reload(db, invoice.id)
    assert (idle.version, idle.native_balance_block) == (
        baseline.version,
        baseline.native_balance_block,
    )
    send_eth(node.w3, node.accounts[2], invoice.deposit_address, 5 * 10**15)
    node.mine(3)
    scan(db, settings, chain)
    paid = reload(db, invoice.id)
    assert paid.status == "settled" and paid.native_balance == 5 * 10**15
