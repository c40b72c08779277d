"""Every way a payment can arrive, or fail to, ends in the right state — on a real chain.

Each row runs on anvil with real ERC-20 contracts and a real WooCommerce REST emulator over HTTP:
open an invoice for a storefront order, act on the chain, run the relay's jobs (watcher, expiry
sweep, outbox) with the chain's own clock, then check the invoice's status and exception and the
storefront order's status and notes. Time moves with `evm_increaseTime`, so expiry and monitoring
windows are crossed in milliseconds.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from devkit.devchain import (
    Anvil,
    batch_transfer,
    deploy_router,
    deploy_token,
    forward_eth,
    mint,
    send_eth,
    transfer_then_revert,
    transfer_token,
)
from devkit.woocommerce import WooStore
from relay.addresses import xpub_id
from relay.chain.rpc import Web3Chain
from relay.config import parse_settings
from relay.db import Database
from relay.delivery import Sender, deliver_due
from relay.invoices import load_invoice, open_invoice
from relay.models import AddressCounter, Base, Invoice
from relay.pricing import Rates
from relay.records import OrderData
from relay.runtime import Runtime
from relay.settings import Settings
from relay.watcher import scan_once, sweep_expired
from tests.conftest import MERCHANT_XPUB, config_dict, database_url_for, free_port

USDC = 10**6  # base units per USDC
_INDEXES = itertools.count(1000, 100)
ETH = 10**18
MINUTE = 60


@dataclass
class Chain:
    """The module's anvil node and contracts."""

    node: Anvil
    usdc: str
    impostor: str
    router: str

    @property
    def customer(self) -> str:
        return self.node.accounts[1]


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    with Anvil() as node:
        w3 = node.w3
        usdc = deploy_token(w3, name="USD Coin", symbol="USDC", decimals=6)
        impostor = deploy_token(w3, name="USD Coin", symbol="USDC", decimals=6)
        for token in (usdc, impostor):
            mint(w3, token, node.accounts[1], 10**6 * USDC)
        yield Chain(node, usdc, impostor, deploy_router(w3))


@pytest.fixture(scope="module")
def store() -> Iterator[WooStore]:
    with WooStore() as shop:
        yield shop


@dataclass
class World:
    """One row's relay: its own database and settings over the shared chain and store."""

    chain: Chain
    store: WooStore
    settings: Settings
    db: Database
    client: Web3Chain
    sender: Sender
    rates: Rates
    order: dict[str, Any] = field(default_factory=dict)
    invoice_id: str = ""

    def now(self) -> datetime:
        stamp = self.chain.node.w3.eth.get_block("latest")["timestamp"]
        return datetime.fromtimestamp(stamp, UTC)

    def advance(self, minutes: float) -> None:
        self.chain.node.rpc("evm_increaseTime", [int(minutes * MINUTE)])
        self.chain.node.mine(1)

    def tick(self, blocks: int = 0) -> None:
        if blocks:
            self.chain.node.mine(blocks)
        now = self.now()
        scan_once(self.db, self.settings, self.settings.chains["dev"], self.client, now)
        sweep_expired(self.db, self.settings, now)
        while deliver_due(self.db, self.settings, self.sender, now=now):
            pass

    def open(
        self,
        total: str = "10.00",
        currency: str = "USD",
        store: str = "shop",
        status: str = "on-hold",
    ) -> Invoice:
        self.tick()  # the watcher's cursor starts at the head before the order
        self.order = self.store.create_order(total=total, currency=currency, status=status)
        data = OrderData(
            store=store, order_id=str(self.order["id"]), currency=currency, total=Decimal(total)
        )
        invoice, _ = open_invoice(self.db, self.settings, data, self.now(), self.rates)
        self.invoice_id = invoice.id
        self.tick()
        return invoice

    @property
    def invoice(self) -> Invoice:
        with self.db.transaction() as session:
            invoice = load_invoice(session, self.invoice_id)
            assert invoice is not None
            return invoice

    def address(self) -> str:
        return self.invoice.deposit_address

    def pay(self, base_units: int, token: str | None = None) -> str:
        node = self.chain.node
        return transfer_token(
            node.w3, token or self.chain.usdc, self.chain.customer, self.address(), base_units
        )

    def pay_eth(self, wei: int) -> str:
        return send_eth(self.chain.node.w3, self.chain.node.accounts[2], self.address(), wei)

    def order_now(self) -> dict[str, Any]:
        return self.store.get_order(self.order["id"])

    def notes(self) -> list[str]:
        return [n["note"] for n in self.store.notes(self.order["id"])]


def make_world(
    chain: Chain, store: WooStore, tmp: Path, eth_rate: Any = "fixed:USD:2000.00", **relay: Any
) -> World:
    """Build a row's relay; `relay` overrides [relay] keys, `eth_rate` the ETH rate sources."""
    tmp.mkdir()
    data = config_dict(
        rpc_url=chain.node.url,
        token=chain.usdc,
        store_url=store.base_url,
        database_url=database_url_for(tmp),
        confirmations=3,
    )
    data["chains"]["dev"]["assets"]["ETH"]["rate"] = eth_rate
    data["relay"].update(relay)
    data["stores"]["shop"]["monitoring_minutes"] = 60
    data["stores"]["tolerant"] = dict(data["stores"]["shop"], payment_tolerance_percent="1")
    data["stores"]["euro"] = dict(data["stores"]["shop"], accept=["dev:USDC"])
    settings = parse_settings(data, env={})
    db = Database(settings.relay.database_url)
    if not db.is_sqlite:
        Base.metadata.drop_all(db.engine)
    db.create_schema()
    with db.transaction() as session:  # each row pays fresh addresses of the shared chain
        session.add(AddressCounter(xpub_id=xpub_id(MERCHANT_XPUB), next_index=next(_INDEXES)))
    client = Web3Chain([chain.node.url])
    runtime = Runtime(settings, db, chains={"dev": client})
    return World(chain, store, settings, db, client, runtime.sender, runtime.rates)


@pytest.fixture
def make(chain: Chain, store: WooStore, tmp_path: Path) -> Iterator[Callable[..., World]]:
    worlds: list[World] = []

    def build(**overrides: Any) -> World:
        world = make_world(chain, store, tmp_path / str(len(worlds)), **overrides)
        worlds.append(world)
        return world

    yield build
    for world in worlds:
        world.sender.http.close()
        world.client.close()
        world.db.dispose()


def expect(
    world: World, status: str, exception: str | None, order_status: str, note: str | None = None
) -> None:
    invoice = world.invoice
    assert (invoice.status, invoice.exception or None) == (status, exception)
    assert world.order_now()["status"] == order_status
    if note is not None:
        assert any(note in n for n in world.notes()), world.notes()


# --- the scenario table: one test per row ------------------------------------------------------


def test_exact_payment(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00")
    tx = w.pay(10 * USDC)
    w.tick()
    expect(w, "processing", None, "on-hold", "Crypto payment seen")
    w.tick(blocks=2)
    expect(
        w,
        "settled",
        None,
        "processing",
        f"Crypto payment settled: 10 USDC on dev for 10.00 USD (tx {tx})",
    )
    assert w.order_now()["transaction_id"] == tx


def test_underpay_then_top_up(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00")
    w.pay(4 * USDC)
    w.tick(blocks=3)
    expect(w, "new", "paid_partial", "on-hold")
    w.pay(6 * USDC)
    w.tick(blocks=3)
    expect(w, "settled", None, "processing", "settled: 10 USDC")
    assert [p.amount_base_units for p in w.invoice.payments] == [4 * USDC, 6 * USDC]


def test_underpay_then_expiry(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00")
    w.pay(4 * USDC)
    w.tick(blocks=3)
    w.advance(31)
    w.tick()
    expect(w, "expired", "paid_partial", "on-hold", "PARTLY PAID: received 4 USDC")
    assert any("6 USDC short" in n for n in w.notes())


def test_overpay(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00")
    w.pay(12 * USDC)
    w.tick(blocks=3)
    expect(w, "settled", "paid_over", "processing", "settled: 12 USDC")
    assert w.invoice.paid_base_units - w.invoice.options[0].amount_base_units == 2 * USDC


def test_tolerance_just_inside(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00", store="tolerant")
    w.pay(9_900_000)  # 1 % short: accepted
    w.tick(blocks=3)
    expect(w, "settled", None, "processing")


def test_tolerance_just_outside(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00", store="tolerant")
    w.pay(9_899_999)  # one base unit more than 1 % short
    w.tick(blocks=3)
    expect(w, "new", "paid_partial", "on-hold")


def test_late_payment_within_monitoring_reopens_the_order(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00")
    w.advance(31)
    w.tick()
    expect(w, "expired", None, "cancelled", "expired")
    w.advance(10)  # 41 minutes: expired, but inside the 60-minute monitoring window
    tx = w.pay(10 * USDC)
    w.tick(blocks=3)
    expect(w, "settled", "paid_late", "processing", "AFTER the invoice expired")
    assert w.order_now()["transaction_id"] == tx


def test_payment_after_monitoring_is_recorded_not_counted(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00")
    w.advance(31)
    w.tick()
    w.advance(65)  # past expiry (30) + monitoring (60)
    tx = w.pay(10 * USDC)
    w.tick(blocks=3)
    expect(w, "expired", None, "cancelled", f"10 USDC on dev (tx {tx}) arrived")
    assert any("AFTER its monitoring window ended" in n for n in w.notes())
    (payment,) = w.invoice.payments
    assert (payment.tx_hash, payment.state) == (tx, "after_monitoring")


def test_a_second_asset_is_recorded_and_reported_not_summed(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00")
    w.pay(4 * USDC)  # USDC fixes the option
    tx = w.pay_eth(3 * 10**15)  # worth 6 USD at the locked rate, but a different asset
    w.tick(blocks=3)
    expect(w, "new", "paid_partial", "on-hold", f"0.003 ETH on dev (tx {tx})")
    assert any("which is being paid in USDC" in n for n in w.notes())
    states = sorted((p.asset, p.state) for p in w.invoice.payments)
    assert states == [("ETH", "other_asset"), ("USDC", "counted")]


def test_impostor_token_counts_for_nothing(make: Callable[..., World], chain: Chain) -> None:
    w = make()
    w.open("10.00")
    w.pay(10 * USDC, token=chain.impostor)
    w.tick(blocks=3)
    expect(w, "new", None, "on-hold")
    assert w.invoice.payments == []


def test_failed_transfer_counts_for_nothing(make: Callable[..., World], chain: Chain) -> None:
    w = make()
    w.open("10.00")
    transfer_then_revert(
        chain.node.w3, chain.router, chain.usdc, chain.customer, w.address(), 10 * USDC
    )
    w.tick(blocks=3)
    expect(w, "new", None, "on-hold")
    assert w.invoice.payments == []


def test_batched_transfer_with_several_logs(make: Callable[..., World], chain: Chain) -> None:
    w = make()
    w.open("10.00")
    tx = batch_transfer(
        chain.node.w3,
        chain.router,
        chain.usdc,
        chain.customer,
        [(w.address(), 3 * USDC), (w.address(), 7 * USDC)],
    )
    w.tick(blocks=3)
    expect(w, "settled", None, "processing")
    payments = w.invoice.payments
    assert [p.tx_hash for p in payments] == [tx, tx]
    assert len({p.log_index for p in payments}) == 2


def test_native_eth_through_a_contract_counts(make: Callable[..., World], chain: Chain) -> None:
    w = make()
    w.open("10.00")  # 0.005 ETH at 2000 USD/ETH
    tx = forward_eth(chain.node.w3, chain.router, chain.node.accounts[3], w.address(), 5 * 10**15)
    w.tick(blocks=3)
    expect(w, "settled", None, "processing")
    (payment,) = w.invoice.payments
    assert (payment.tx_hash, payment.asset, payment.amount_base_units) == (tx, "ETH", 5 * 10**15)


def test_failed_internal_transfer_counts_for_nothing(
    make: Callable[..., World], chain: Chain
) -> None:
    w = make()
    w.open("10.00")
    forward_eth(
        chain.node.w3, chain.router, chain.node.accounts[3], w.address(), 5 * 10**15, revert=True
    )
    w.tick(blocks=3)
    expect(w, "new", None, "on-hold")


def test_reorg_before_settlement_removes_the_payment(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00")
    w.pay(10 * USDC)
    w.tick()
    expect(w, "processing", None, "on-hold")
    w.chain.node.reorg(1)  # the payment's block is replaced; its transaction is dropped
    w.tick()
    expect(w, "new", None, "on-hold", "left the chain in a reorganisation")
    (payment,) = w.invoice.payments
    assert payment.state == "orphaned"


def test_reorg_after_settlement_is_an_alert(make: Callable[..., World]) -> None:
    w = make()
    w.open("10.00")
    w.pay(10 * USDC)
    w.tick(blocks=2)
    expect(w, "settled", None, "processing")
    w.chain.node.reorg(4)
    w.tick()
    expect(w, "invalid", None, "processing", "INVALID")


def test_rate_source_down_falls_back(make: Callable[..., World]) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    w = make(coingecko_url=down, eth_rate=["coingecko:ethereum", "fixed:USD:2000"])
    invoice = w.open("10.00")
    eth = next(o for o in invoice.options if o.asset == "ETH")
    assert (eth.rate, eth.rate_source) == (Decimal(2000), "fixed:USD:2000")
    w.pay_eth(eth.amount_base_units)
    w.tick(blocks=3)
    expect(w, "settled", None, "processing")


def test_all_rate_sources_down_fail_closed(make: Callable[..., World]) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    w = make(coingecko_url=down, eth_rate=["coingecko:ethereum"])
    invoice = w.open("10.00")
    assert [o.asset for o in invoice.options] == ["USDC"]
    (unavailable,) = invoice.unavailable_options
    assert unavailable["asset"] == "ETH"
    assert "coingecko:ethereum: no answer" in unavailable["reason"]
    w.tick()
    expect(w, "new", None, "on-hold", "NOT offered for this order because no rate source")
    assert any("dev:ETH (no rate for ETH" in n for n in w.notes())  # the merchant is told why
    assert any(n["customer_note"] and "/pay/" in n["note"] for n in w.store.notes(w.order["id"]))


def test_eur_store_pays_usd_stablecoin_through_fiat_rate(make: Callable[..., World]) -> None:
    w = make(fiat_rates=["fixed:USD:EUR:0.92"])
    invoice = w.open("9.20", currency="EUR", store="euro")
    (option,) = invoice.options
    assert (option.amount_base_units, option.rate) == (10 * USDC, Decimal("0.92"))
    w.pay(10 * USDC)
    w.tick(blocks=3)
    expect(w, "settled", None, "processing", "for 9.20 EUR")


def test_a_pending_order_goes_on_hold_as_soon_as_a_payment_is_seen(
    make: Callable[..., World],
) -> None:
    w = make()
    w.open("10.00", status="pending")  # WooCommerce's hold-stock timer cancels pending orders
    tx = w.pay(3 * USDC)
    w.tick()
    expect(
        w, "new", "paid_partial", "on-hold", f"Crypto payment seen: 3 of 10 USDC on dev (tx {tx})"
    )


def test_finality_finalized_waits_for_the_finalized_block(make: Callable[..., World]) -> None:
    w = make()
    finalized = parse_settings(
        dict(
            config_dict(
                rpc_url=w.chain.node.url,
                token=w.chain.usdc,
                store_url=w.store.base_url,
                database_url=w.settings.relay.database_url,
            ),
        ),
        env={},
    )
    chains = dict(finalized.chains)
    chains["dev"] = dataclasses.replace(chains["dev"], finality="finalized", confirmations=1)
    w.settings = dataclasses.replace(finalized, chains=chains)
    w.open("10.00")
    w.pay(10 * USDC)
    w.tick(blocks=10)  # 11 confirmations, but anvil finalizes only 64 blocks behind the head
    expect(w, "processing", None, "on-hold")
    w.tick(blocks=64)
    expect(w, "settled", None, "processing")
