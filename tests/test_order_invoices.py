"""One open invoice per order (relay/order_invoices.py): the same one while it is open or paid, a
new one (fresh address, fresh rate) once it expired unpaid; a late payment of the old one closes
the new one; the database allows one open or paid invoice per order, old databases upgraded."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from relay.db import Database
from relay.invoices import find_invoice, load_invoice, open_invoice, record_transfer
from relay.invoices import refresh_invoice as refresh
from relay.models import Delivery, Invoice
from relay.pricing import Rates
from relay.records import ObservedTransfer, OrderData
from relay.settings import Settings
from tests.conftest import make_settings

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)
LATER = T0 + timedelta(minutes=31)  # after the 30-minute expiry, within the hour of monitoring


def order(order_id: str = "13") -> OrderData:
    return OrderData(store="shop", order_id=order_id, currency="USD", total=Decimal("20.00"))


def expire(db: Database, settings: Settings, invoice_id: str, now: datetime = LATER) -> None:
    with db.transaction() as session:
        invoice = load_invoice(session, invoice_id)
        assert invoice is not None
        refresh(session, settings, invoice, now)


def pay(
    db: Database, settings: Settings, invoice_id: str, at: datetime, amount: int = 20_000_000
) -> list[str]:
    """Record a confirmed USDC transfer paying the invoice at `at`; refresh it; its events."""
    with db.transaction() as session:
        invoice = load_invoice(session, invoice_id)
        assert invoice is not None
        transfer = ObservedTransfer(
            chain="dev",
            asset="USDC",
            tx_hash="0x" + invoice_id.encode().hex()[:60].ljust(64, "0"),
            log_index=0,
            from_address="0x" + "22" * 20,
            to_address=invoice.deposit_address,
            amount=amount,
            block_number=10,
            block_hash="0x" + "ab" * 32,
            block_time=at,
        )
        payment = record_transfer(session, settings, invoice, transfer, at)
        assert payment is not None
        payment.confirmed = True
        return refresh(session, settings, invoice, at)


def statuses(db: Database, order_id: str = "13") -> list[tuple[str, str, str]]:
    with db.transaction() as session:
        rows = session.scalars(
            select(Invoice).where(Invoice.order_id == order_id).order_by(Invoice.created_at)
        )
        return [(i.status, i.exception, i.closed_by) for i in rows]


def test_an_order_gets_a_new_invoice_once_its_invoice_expired_unpaid(db: Database) -> None:
    settings = make_settings()
    first, created = open_invoice(db, settings, order(), T0, Rates(settings))
    again, created_again = open_invoice(
        db, settings, order(), T0 + timedelta(minutes=5), Rates(settings)
    )
    assert (created, created_again, again.id) == (True, False, first.id)
    expire(db, settings, first.id)
    second, created = open_invoice(db, settings, order(), LATER, Rates(settings))
    assert created and second.id != first.id
    assert second.deposit_address != first.deposit_address  # a fresh address
    assert second.options[0].rate_at == LATER > first.options[0].rate_at  # a fresh rate
    assert open_invoice(db, settings, order(), LATER, Rates(settings))[0].id == second.id
    # reconciliation never reopens: it gives back the order's current invoice
    assert open_invoice(db, settings, order("14"), T0, Rates(settings))[1]
    expire(db, settings, find_id(db, "14"))
    back, created = open_invoice(db, settings, order("14"), LATER, Rates(settings), reopen=False)
    assert not created and back.status == "expired"


def find_id(db: Database, order_id: str) -> str:
    with db.transaction() as session:
        invoice = find_invoice(session, "shop", order_id)
        assert invoice is not None
        return invoice.id


def test_an_invoice_that_expired_partly_paid_is_not_replaced(db: Database) -> None:
    settings = make_settings()
    first, _ = open_invoice(db, settings, order(), T0, Rates(settings))
    pay(db, settings, first.id, T0 + timedelta(minutes=1), amount=5_000_000)
    expire(db, settings, first.id)
    assert statuses(db) == [("expired", "paid_partial", "")]
    again, created = open_invoice(db, settings, order(), LATER, Rates(settings))
    assert (again.id, created) == (first.id, False)


def test_a_late_payment_of_the_old_invoice_closes_the_new_one(db: Database) -> None:
    settings = make_settings()
    old, _ = open_invoice(db, settings, order(), T0, Rates(settings))
    expire(db, settings, old.id)
    new, _ = open_invoice(db, settings, order(), LATER, Rates(settings))
    events = pay(db, settings, old.id, LATER + timedelta(minutes=1))
    assert events == ["invoice.settled", "invoice.paid_late"]
    assert statuses(db) == [("settled", "paid_late", ""), ("expired", "", old.id)]
    with db.transaction() as session:
        kinds = [
            (d.invoice_id, d.event, d.action)
            for d in session.scalars(select(Delivery).order_by(Delivery.id))
            if d.target == "storefront"
        ][-2:]
        assert kinds == [  # the paying invoice's push first, then the closed one's
            (old.id, "invoice.settled", "invoice.settled.paid_late"),
            (new.id, "invoice.expired", "invoice.expired.closed"),
        ]
        current = find_invoice(session, "shop", "13")
        assert current is not None and current.id == old.id
    # a payment to the closed one anyway is recorded and reported, never counted
    events = pay(db, settings, new.id, LATER + timedelta(minutes=2))
    assert events == [] and statuses(db)[1] == ("expired", "", old.id)
    with db.transaction() as session:
        closed = load_invoice(session, new.id)
        assert closed is not None and [p.state for p in closed.payments] == ["after_monitoring"]
        reported = session.scalars(
            select(Delivery).where(Delivery.invoice_id == new.id).order_by(Delivery.id.desc())
        ).first()
        assert reported is not None and reported.event == "invoice.payment_received"
        assert reported.action == "invoice.payment_received.closed"
    # the order is paid: opening it again gives the paid invoice back
    assert open_invoice(db, settings, order(), LATER, Rates(settings))[0].id == old.id


def test_paying_the_new_invoice_closes_the_old_ones_late_window(db: Database) -> None:
    settings = make_settings()
    old, _ = open_invoice(db, settings, order(), T0, Rates(settings))
    expire(db, settings, old.id)
    new, _ = open_invoice(db, settings, order(), LATER, Rates(settings))
    assert pay(db, settings, new.id, LATER + timedelta(minutes=1)) == ["invoice.settled"]
    pay(db, settings, old.id, LATER + timedelta(minutes=2))  # whichever is paid first pays
    assert statuses(db) == [("expired", "", new.id), ("settled", "", "")]


def test_the_database_allows_one_open_or_paid_invoice_per_order(db: Database) -> None:
    settings = make_settings()
    first, _ = open_invoice(db, settings, order(), T0, Rates(settings))
    columns = [c.key for c in inspect(Invoice).column_attrs]

    def twin(status: str) -> Invoice:
        values = {name: getattr(first, name) for name in columns}
        address = "0x" + secrets.token_hex(20)
        return Invoice(**values | {"id": f"inv_{status}", "deposit_address": address})

    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(twin("new"))  # a second open invoice for the order, written by hand
    expire(db, settings, first.id)
    with db.transaction() as session:  # an expired one beside it is fine
        session.add(twin("new"))
    with pytest.raises(IntegrityError), db.transaction() as session:
        other = twin("settled")
        other.status = "settled"
        session.add(other)


def test_concurrent_opens_after_expiry_make_one_new_invoice(db: Database) -> None:
    settings = make_settings()
    first, _ = open_invoice(db, settings, order("77"), T0, Rates(settings))
    expire(db, settings, first.id)
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            invoice, created = open_invoice(db, settings, order("77"), LATER, Rates(settings))
            results.append((invoice.id, created))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({i for i, _ in results}) == 1 and sum(c for _, c in results) == 1
    assert first.id not in {i for i, _ in results}
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 2


def test_a_version_4_database_is_upgraded_to_several_invoices_per_order(db: Database) -> None:
    settings = make_settings()
    first, _ = open_invoice(db, settings, order(), T0, Rates(settings))
    make_version_4(db)
    assert "uq_invoice_open_order" not in index_names(db)
    db.create_schema()
    db.create_schema()  # idempotent
    assert {"uq_invoice_open_order", "ix_invoice_order"} <= index_names(db)
    columns = {c["name"] for c in inspect(db.engine).get_columns("invoices")}
    assert {"return_url", "closed_by"} <= columns
    with db.transaction() as session:  # rows and their options kept
        kept = load_invoice(session, first.id)
        assert kept is not None and len(kept.options) == 2 and kept.return_url == ""
    expire(db, settings, first.id)
    second, created = open_invoice(db, settings, order(), LATER, Rates(settings))
    assert created and second.id != first.id


def index_names(db: Database) -> set[str]:
    return {str(i["name"]) for i in inspect(db.engine).get_indexes("invoices")}


def make_version_4(db: Database) -> None:
    """Turn the invoices table back into schema version 4's: unique per (store, order id)."""
    with db.engine.connect() as connection:
        if db.is_sqlite:
            connection = connection.execution_options(relay_single_statements=True)
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            ddl = str(
                connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'invoices'"
                ).scalar()
            )
            old = ddl.replace("CREATE TABLE invoices", "CREATE TABLE invoices_v4", 1)
            old = (
                old.rstrip().rstrip(")")
                + ", CONSTRAINT uq_invoice_store_order UNIQUE (store, order_id))"
            )
            connection.exec_driver_sql(old)
            connection.exec_driver_sql("INSERT INTO invoices_v4 SELECT * FROM invoices")
            connection.exec_driver_sql("DROP TABLE invoices")
            connection.exec_driver_sql("ALTER TABLE invoices_v4 RENAME TO invoices")
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        else:
            connection.exec_driver_sql("DROP INDEX uq_invoice_open_order")
            connection.exec_driver_sql("DROP INDEX ix_invoice_order")
            connection.exec_driver_sql(
                "ALTER TABLE invoices ADD CONSTRAINT uq_invoice_store_order "
                "UNIQUE (store, order_id)"
            )
        connection.exec_driver_sql("ALTER TABLE invoices DROP COLUMN return_url")
        connection.exec_driver_sql("ALTER TABLE invoices DROP COLUMN closed_by")
        connection.commit()
