"""The watcher tick against node faults, on real anvil nodes: a node stopped and restarted from
its saved chain (between ticks and in the middle of one), error answers, timeouts and cut
connections (a proxy that injects only the fault), and a failover node that lags behind.

What must hold each time: every payment is recorded exactly once, the invoice settles, nothing
is reported removed, the cursor never moves backwards, and an outage is one warning line.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from devkit.devchain import Anvil, deploy_token, mint, send_eth, transfer_token
from devkit.devchain.faults import FaultProxy
from relay.chain.rpc import Web3Chain
from relay.db import Database
from relay.errors import ChainUnavailable
from relay.events import EventType
from relay.invoices import load_invoice, open_invoice
from relay.models import ChainCursor, Delivery, Invoice, Payment, utcnow
from relay.pricing import Rates
from relay.records import OrderData
from relay.runtime import Runtime
from relay.scheduler import Worker
from relay.settings import Settings
from relay.watcher import scan_once
from tests.conftest import free_port, make_settings

USDC_DUE = 44_980_000  # 44.98 USD in USDC base units
ETH_DUE = 5 * 10**15  # 10.00 USD at 2000 USD/ETH


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Anvil]:
    """An automining anvil on a fixed port that saves its chain to a file when stopped."""
    with Anvil(port=free_port(), state=tmp_path / "chain.json") as anvil:
        yield anvil


@pytest.fixture
def usdc(node: Anvil) -> str:
    token = deploy_token(node.w3, name="USD Coin", symbol="USDC", decimals=6)
    mint(node.w3, token, node.accounts[1], 10**12)
    return token


@pytest.fixture
def proxy(node: Anvil) -> Iterator[FaultProxy]:
    with FaultProxy(node.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def settings(node: Anvil, usdc: str) -> Settings:
    return make_settings(rpc_url=node.url, token=usdc, confirmations=3)


def client(*urls: str) -> Web3Chain:
    return Web3Chain(urls, timeout=1)


def scan(db: Database, settings: Settings, chain: Web3Chain) -> int:
    return scan_once(db, settings, settings.chains["dev"], chain, utcnow())


def scan_fails(db: Database, settings: Settings, chain: Web3Chain) -> None:
    before = cursor_of(db)
    with pytest.raises(ChainUnavailable):
        scan(db, settings, chain)
    assert cursor_of(db) == before  # a failed tick records nothing


def open_order(db: Database, settings: Settings, order_id: str, total: str) -> Invoice:
    order = OrderData(store="shop", order_id=order_id, currency="USD", total=Decimal(total))
    return open_invoice(db, settings, order, utcnow(), Rates(settings))[0]


def cursor_of(db: Database) -> tuple[int, str] | None:
    with db.transaction() as session:
        cursor = session.get(ChainCursor, "dev")
        return None if cursor is None else (cursor.block_number, cursor.block_hash)


def payments(db: Database) -> list[tuple[str, int, str]]:
    with db.transaction() as session:
        rows = session.scalars(select(Payment).order_by(Payment.id))
        return [(p.asset, p.amount_base_units, p.state) for p in rows]


def status(db: Database, invoice_id: str) -> str:
    with db.transaction() as session:
        invoice = load_invoice(session, invoice_id)
        assert invoice is not None
        return invoice.status


def events(db: Database) -> list[str]:
    with db.transaction() as session:
        return list(session.scalars(select(Delivery.event).order_by(Delivery.id)))


def pay_both(node: Anvil, usdc: str, usdc_invoice: Invoice, eth_invoice: Invoice) -> None:
    transfer_token(node.w3, usdc, node.accounts[1], usdc_invoice.deposit_address, USDC_DUE)
    send_eth(node.w3, node.accounts[2], eth_invoice.deposit_address, ETH_DUE)


def assert_paid_once_and_settled(db: Database, *invoices: Invoice) -> None:
    assert sorted(payments(db)) == [("ETH", ETH_DUE, "counted"), ("USDC", USDC_DUE, "counted")]
    assert [status(db, invoice.id) for invoice in invoices] == ["settled"] * len(invoices)
    assert EventType.PAYMENT_REMOVED.value not in events(db)
    assert events(db).count(EventType.PAYMENT_RECEIVED.value) == 2


def test_a_node_stopped_between_ticks_and_restarted_from_its_state(
    db: Database, settings: Settings, node: Anvil, usdc: str, caplog: pytest.LogCaptureFixture
) -> None:
    chain = client(node.url)
    scan(db, settings, chain)
    first, second = open_order(db, settings, "1", "44.98"), open_order(db, settings, "2", "10.00")
    pay_both(node, usdc, first, second)
    scan(db, settings, chain)
    seen = cursor_of(db)
    node.stop()  # saves the chain, as a node shut down for maintenance
    scan_fails(db, settings, chain)
    node.start()  # the same port, the same chain: blocks, hashes, receipts and logs
    assert seen is not None and node.w3.eth.get_block(seen[0])["hash"].to_0x_hex() == seen[1]
    node.mine(3)
    scan(db, settings, chain)
    assert_paid_once_and_settled(db, first, second)
    assert "reorg" not in caplog.text
    chain.close()


@pytest.mark.parametrize(
    "during", ["eth_getLogs", "eth_getBlockByNumber", "eth_getTransactionReceipt"]
)
def test_a_node_stopped_in_the_middle_of_a_tick(
    db: Database,
    settings: Settings,
    node: Anvil,
    usdc: str,
    proxy: FaultProxy,
    during: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chain = client(proxy.url)
    scan(db, settings, chain)
    first, second = open_order(db, settings, "1", "44.98"), open_order(db, settings, "2", "10.00")
    pay_both(node, usdc, first, second)
    node.mine(3)
    proxy.fail("call", [during], action=node.stop)  # the node goes down as this call arrives
    scan_fails(db, settings, chain)
    assert ("call", during) in proxy.injected
    node.start()
    scan(db, settings, chain)
    assert_paid_once_and_settled(db, first, second)
    assert "reorg" not in caplog.text
    chain.close()


FAULTS = [
    ("error", "eth_getTransactionReceipt"),  # one receipt of a batch answered by an error
    ("error", "eth_getBlockByNumber"),  # one block of a batch
    ("error", "eth_call"),  # the balance multicall
    ("error", "eth_blockNumber"),
    ("http", None),
    ("timeout", "eth_getBlockByNumber"),
    ("timeout", "eth_getTransactionReceipt"),
    ("cut", "eth_getBlockByNumber"),
    ("cut", "eth_getTransactionReceipt"),
]


@pytest.mark.parametrize(("kind", "method"), FAULTS)
def test_error_answers_timeouts_and_cut_connections_redo_the_tick(
    db: Database,
    settings: Settings,
    node: Anvil,
    usdc: str,
    proxy: FaultProxy,
    kind: str,
    method: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chain = client(proxy.url)
    scan(db, settings, chain)
    first, second = open_order(db, settings, "1", "44.98"), open_order(db, settings, "2", "10.00")
    pay_both(node, usdc, first, second)
    proxy.fail(kind, [method] if method else None, delay=1.5)
    # the fault hits the tick that finds the payments (a refused eth_getLogs range is bisected)
    with contextlib.suppress(ChainUnavailable):
        scan(db, settings, chain)
    assert proxy.injected == [(kind, method or proxy.injected[0][1])]
    scan(db, settings, chain)
    node.mine(3)
    # now the fault hits the tick that confirms them: a receipt re-check must not orphan them
    proxy.fail(kind, [method] if method else None, delay=1.5)
    with contextlib.suppress(ChainUnavailable):
        scan(db, settings, chain)
    scan(db, settings, chain)
    assert_paid_once_and_settled(db, first, second)
    assert "reorg" not in caplog.text
    chain.close()


def test_an_outage_is_one_warning_when_it_starts_and_one_when_it_ends(
    db: Database,
    settings: Settings,
    node: Anvil,
    proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chain = client(proxy.url)
    runtime = Runtime(settings, db, chains={"dev": chain})
    worker = Worker(runtime)
    dev = settings.chains["dev"]
    worker.scan(dev)
    proxy.fail("http", times=1000)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            worker.scan(dev)
        proxy.clear()
        worker.scan(dev)
        worker.scan(dev)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(":")[1].strip()[:24] for r in warnings] == [
        "watcher paused, the chai",
        "the chain answers again;",
    ]
    assert all(r.exc_info is None for r in warnings)  # a line, not a traceback
    runtime.close()


def test_a_lagging_failover_node_is_never_taken_for_a_reorg(
    db: Database,
    settings: Settings,
    node: Anvil,
    usdc: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the laggard: a second node with the same chain up to here, that then falls behind
    node.stop()
    assert node.state is not None
    shutil.copy(node.state, tmp_path / "laggard.json")
    node.start()
    with Anvil(port=free_port(), state=tmp_path / "laggard.json") as laggard:
        assert laggard.w3.eth.block_number == node.w3.eth.block_number
        # the laggard first: failover order must not make it the source of truth
        chain = client(laggard.url, node.url)
        scan(db, settings, chain)
        first = open_order(db, settings, "1", "44.98")
        second = open_order(db, settings, "2", "10.00")
        node.mine(5)
        pay_both(node, usdc, first, second)
        scan(db, settings, chain)  # read from the node ahead, not from the first URL
        ahead = cursor_of(db)
        assert ahead is not None and ahead[0] > laggard.w3.eth.block_number
        assert len(payments(db)) == 2
        node.stop()  # only the laggard answers now: its lower head is "not yet"
        with caplog.at_level(logging.WARNING):
            for _ in range(2):
                assert scan(db, settings, chain) == 0
        assert cursor_of(db) == ahead  # never backwards
        assert "behind the scanned block" in caplog.text and "reorg" not in caplog.text
        assert len(payments(db)) == 2 and EventType.PAYMENT_REMOVED.value not in events(db)
        node.start()
        node.mine(3)
        scan(db, settings, chain)
        assert_paid_once_and_settled(db, first, second)
        chain.close()


def test_a_tick_never_mixes_two_nodes(
    db: Database, settings: Settings, node: Anvil, usdc: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    node.stop()
    assert node.state is not None
    shutil.copy(node.state, tmp_path / "laggard.json")
    node.start()
    with Anvil(port=free_port(), state=tmp_path / "laggard.json") as laggard:
        chain = client(proxy.url, laggard.url)
        scan(db, settings, chain)
        first = open_order(db, settings, "1", "44.98")
        second = open_order(db, settings, "2", "10.00")
        pay_both(node, usdc, first, second)
        node.mine(3)
        # the node ahead dies after the tick read its head: the laggard must not finish the tick
        proxy.fail("call", ["eth_getLogs"], action=node.stop)
        scan_fails(db, settings, chain)
        assert scan(db, settings, chain) == 0  # only the laggard: it waits
        node.start()
        scan(db, settings, chain)
        assert_paid_once_and_settled(db, first, second)
        chain.close()
