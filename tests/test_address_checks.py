"""Deposit addresses are never handed out twice: a relay on a fresh database with the same xpub
checks each address on a real anvil node before it hands it out, and keeps what it found."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from devkit.devchain import Anvil, deploy_token, mint, send_eth, transfer_token
from relay.address_checks import highest_index
from relay.addresses import derive_address, xpub_id
from relay.cli import main
from relay.db import Database
from relay.errors import ChainError
from relay.inbox import Inbox, open_queued
from relay.invoices import open_invoice
from relay.models import AddressCheck, AddressCounter, InboxOrder, Invoice, utcnow
from relay.records import OrderData
from relay.runtime import Runtime
from relay.scheduler import Worker
from relay.settings import Settings
from tests.conftest import MERCHANT_XPUB, config_dict, free_port, make_settings

ORDER_TOTAL = Decimal("12.00")


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    with Anvil() as anvil:  # automine: a block per transaction
        yield anvil


@pytest.fixture(scope="module")
def usdc(node: Anvil) -> str:
    token = deploy_token(node.w3, name="USD Coin", symbol="USDC", decimals=6)
    mint(node.w3, token, node.accounts[1], 10**12)
    return token


@pytest.fixture
def fresh(node: Anvil) -> Iterator[None]:
    """Each test starts from the chain as it was (addresses of the merchant's xpub unused)."""
    snapshot = node.snapshot()
    yield
    node.revert(snapshot)


@pytest.fixture
def settings(node: Anvil, usdc: str) -> Settings:
    return make_settings(rpc_url=node.url, token=usdc, check_deposit_addresses=True)


@pytest.fixture
def runtime(settings: Settings, db: Database) -> Iterator[Runtime]:
    built = Runtime(settings, db)
    yield built
    built.close()


class Asked:
    """The runtime's UsageReader, counting what it was asked."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.asked: list[tuple[str, str]] = []

    def __call__(self, chain: str, address: str) -> str | None:
        self.asked.append((chain, address))
        return self.runtime.address_usage(chain, address)


def order(order_id: str) -> OrderData:
    return OrderData(store="shop", order_id=order_id, currency="USD", total=ORDER_TOTAL)


def open_one(db: Database, settings: Settings, runtime: Any, order_id: str, usage: Any) -> Invoice:
    return open_invoice(db, settings, order(order_id), utcnow(), runtime.rates, usage)[0]


def use_with_usdc(node: Anvil, usdc: str, address: str) -> str:
    transfer_token(node.w3, usdc, node.accounts[1], address, 5_000_000)
    return f"token {usdc} balance 5000000"


def use_with_eth(node: Anvil, usdc: str, address: str) -> str:
    send_eth(node.w3, node.accounts[2], address, 10**15)
    return f"balance {10**15} wei"


def use_with_a_nonce_only(node: Anvil, usdc: str, address: str) -> str:
    node.rpc("anvil_setNonce", [address, hex(3)])
    return "nonce 3"


def use_with_usdc_moved_on(node: Anvil, usdc: str, address: str) -> str:
    # paid, and the tokens moved on without a transaction of its own (a permit-style pull):
    # only the Transfer log to it is left
    transfer_token(node.w3, usdc, node.accounts[1], address, 5_000_000)
    node.rpc("anvil_impersonateAccount", [address])
    send_eth(node.w3, node.accounts[2], address, 10**17)
    transfer_token(node.w3, usdc, address, node.accounts[1], 5_000_000)
    node.rpc("anvil_stopImpersonatingAccount", [address])
    node.rpc("anvil_setNonce", [address, "0x0"])
    node.rpc("anvil_setBalance", [address, "0x0"])
    block = node.w3.eth.block_number - 2
    return f"token transfer in block {block}"


@pytest.mark.parametrize(
    "use", [use_with_usdc, use_with_eth, use_with_a_nonce_only, use_with_usdc_moved_on]
)
def test_a_reset_database_never_hands_out_a_used_address_again(
    db: Database,
    settings: Settings,
    runtime: Runtime,
    node: Anvil,
    usdc: str,
    fresh: None,
    use: Any,
) -> None:
    used = derive_address(MERCHANT_XPUB, 0)
    evidence = use(node, usdc, used)
    asked = Asked(runtime)
    invoice = open_one(db, settings, runtime, "1", asked)
    assert (invoice.address_index, invoice.deposit_address) == (1, derive_address(MERCHANT_XPUB, 1))
    with db.transaction() as session:
        checks = {c.address_index: c for c in session.scalars(select(AddressCheck))}
    assert (checks[0].used, checks[0].address, checks[0].evidence) == (
        True,
        used,
        f"dev: {evidence}",
    )
    assert (checks[1].used, checks[1].evidence) == (False, "")
    # the used index is never asked about again; the next invoice checks only its own address
    second = open_one(db, settings, runtime, "2", asked)
    assert second.address_index == 2
    assert [address for _, address in asked.asked] == [
        used,
        *(derive_address(MERCHANT_XPUB, i) for i in (1, 2)),
    ]


def test_a_chain_that_cannot_be_asked_delays_the_invoice(
    db: Database, node: Anvil, usdc: str, tmp_path: Path, fresh: None
) -> None:
    down = make_settings(
        rpc_url=f"http://127.0.0.1:{free_port()}", token=usdc, check_deposit_addresses=True
    )
    runtime = Runtime(down, db)
    with pytest.raises(ChainError, match="cannot check deposit address"):
        open_one(db, down, runtime, "1", runtime.address_usage)
    with db.transaction() as session:
        assert session.scalars(select(Invoice)).all() == []
        assert session.scalars(select(AddressCheck)).all() == []
        counter = session.scalar(select(AddressCounter))
        assert counter is None or counter.next_index == 0
    # through the inbox: the order waits and is tried again, as in a rate outage
    inbox = Inbox(db)
    inbox.accept(order("2"), "order.created", utcnow())
    assert open_queued(db, down, utcnow(), runtime.rates, usage=runtime.address_usage) == 1
    with db.transaction() as session:
        row = session.scalars(select(InboxOrder)).one()
        assert (row.status, row.attempts) == ("queued", 1)
        assert "cannot check deposit address" in row.last_error
        assert row.next_attempt_at > utcnow()
    runtime.close()
    up = make_settings(rpc_url=node.url, token=usdc, check_deposit_addresses=True)
    working = Runtime(up, db)
    with db.transaction() as session:  # the retry is due
        session.scalars(select(InboxOrder)).one().next_attempt_at = utcnow()
    assert open_queued(db, up, utcnow(), working.rates, usage=working.address_usage) == 1
    with db.transaction() as session:
        invoice = session.scalars(select(Invoice)).one()
        assert invoice.address_index == 0
        assert session.get(AddressCheck, (xpub_id(MERCHANT_XPUB), 0)) is not None
    working.close()


def test_the_inbox_job_checks_addresses(
    db: Database, settings: Settings, runtime: Runtime, node: Anvil, usdc: str, fresh: None
) -> None:
    use_with_eth(node, usdc, derive_address(MERCHANT_XPUB, 0))
    Inbox(db).accept(order("1"), "order.created", utcnow())
    Worker(runtime).open_inbox()
    with db.transaction() as session:
        assert session.scalars(select(Invoice.address_index)).one() == 1


def test_first_address_index_is_a_floor_and_check_config_prints_what_to_keep(
    tmp_path: Path, node: Anvil, usdc: str, fresh: None
) -> None:
    import tomli_w

    url = f"sqlite:///{tmp_path / 'relay.db'}"
    data = config_dict(
        rpc_url=node.url,
        token=usdc,
        database_url=url,
        first_address_index=40,
        check_deposit_addresses=True,
    )
    settings = make_settings(
        rpc_url=node.url,
        token=usdc,
        database_url=url,
        first_address_index=40,
        check_deposit_addresses=True,
    )
    db = Database(url)
    db.create_schema()
    runtime = Runtime(settings, db)
    invoice = open_one(db, settings, runtime, "1", runtime.address_usage)
    assert invoice.address_index == 40
    with db.transaction() as session:
        assert highest_index(session, settings.stores["shop"]) == 40
    runtime.close()
    db.dispose()
    path = tmp_path / "relay.toml"
    path.write_text(tomli_w.dumps(data))
    result = CliRunner().invoke(main, ["check-config", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "store shop: deposit address indexes in use up to 40" in result.output
    assert "first_address_index = 41" in result.output


def test_a_store_that_turns_checks_off_hands_out_the_counters_index(
    db: Database, node: Anvil, usdc: str, fresh: None
) -> None:
    unchecked = make_settings(rpc_url=f"http://127.0.0.1:{free_port()}", token=usdc)
    assert unchecked.stores["shop"].check_deposit_addresses is False  # the tests' default
    runtime = Runtime(unchecked, db)
    assert open_one(db, unchecked, runtime, "1", runtime.address_usage).address_index == 0
    runtime.close()
