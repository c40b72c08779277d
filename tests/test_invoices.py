"""Opening invoices: idempotent per order, one under concurrency, bad input writes nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from relay.addresses import derive_address
from relay.db import Database
from relay.errors import InvoiceError
from relay.invoices import open_invoice
from relay.models import Delivery, Invoice
from relay.pricing import Rates
from relay.records import OrderData
from tests.conftest import MERCHANT_XPUB, make_settings

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def order(order_id: str = "13", total: str = "44.98", currency: str = "USD") -> OrderData:
    return OrderData(store="shop", order_id=order_id, currency=currency, total=Decimal(total))


def count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_open_prices_each_option_and_derives_a_fresh_address(db: Database) -> None:
    settings = make_settings()
    first, created = open_invoice(db, settings, order("1"), NOW, Rates(settings))
    second, _ = open_invoice(db, settings, order("2"), NOW, Rates(settings))
    assert created
    assert (first.address_index, second.address_index) == (0, 1)
    assert first.deposit_address == derive_address(MERCHANT_XPUB, 0)
    usdc, eth = first.options
    assert (usdc.asset, usdc.amount_base_units) == ("USDC", 44_980_000)
    assert (eth.asset, eth.amount_base_units) == ("ETH", 22_490_000_000_000_000)
    assert usdc.uri.endswith(f"/transfer?address={first.deposit_address}&uint256=4498e4")
    assert first.status == "new" and first.expires_at > NOW
    assert count(db, Delivery) == 2  # one invoice.created storefront push per invoice


def test_same_order_twice_is_one_invoice(db: Database) -> None:
    settings = make_settings()
    first, created_first = open_invoice(db, settings, order(), NOW, Rates(settings))
    again, created_again = open_invoice(db, settings, order(total="99.00"), NOW, Rates(settings))
    assert (created_first, created_again) == (True, False)
    assert again.id == first.id and again.amount == Decimal("44.98")
    assert count(db, Invoice) == 1 and count(db, Delivery) == 1


def test_concurrent_duplicates_make_one_invoice(db: Database) -> None:
    settings = make_settings()
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            invoice, _ = open_invoice(db, settings, order("77"), NOW, Rates(settings))
            results.append(invoice.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 8
    assert count(db, Invoice) == 1 and count(db, Delivery) == 1


@pytest.mark.parametrize(
    ("total", "currency"), [("0", "USD"), ("-5", "USD"), ("NaN", "USD"), ("10", "DOLLARS")]
)
def test_bad_orders_write_nothing(db: Database, total: str, currency: str) -> None:
    settings = make_settings()
    with pytest.raises(InvoiceError):
        open_invoice(db, settings, order(total=total, currency=currency), NOW, Rates(settings))
    assert count(db, Invoice) == 0 and count(db, Delivery) == 0


def test_no_priced_option_writes_nothing(db: Database) -> None:
    # a EUR order: USDC is pegged to USD and ETH is quoted in USD only → fail closed
    settings = make_settings()
    with pytest.raises(InvoiceError, match="no payment option"):
        open_invoice(db, settings, order(currency="EUR"), NOW, Rates(settings))
    assert count(db, Invoice) == 0


def test_only_priced_options_are_offered(db: Database) -> None:
    settings = make_settings(eth_rate="fixed:EUR:2000")
    invoice, _ = open_invoice(db, settings, order(), NOW, Rates(settings))
    assert [o.asset for o in invoice.options] == ["USDC"]
