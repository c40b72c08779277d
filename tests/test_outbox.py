"""The outbox: an invoice event's storefront delivery carries the spec action it resolved to when
queued, and the push does what that action says; rows queued before the column are still sent."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from devkit.woocommerce import WooStore
from relay.db import Database
from relay.delivery import deliver_due
from relay.invoices import open_invoice
from relay.models import Delivery, Invoice, utcnow
from relay.outbox import STOREFRONT, queue_event
from relay.pricing import Rates
from relay.records import OrderData
from relay.runtime import Runtime
from relay.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def store() -> Iterator[WooStore]:
    with WooStore() as shop:
        yield shop


@pytest.fixture
def settings(store: WooStore) -> Settings:
    return make_settings(store_url=store.base_url)


def open_order(db: Database, settings: Settings, store: WooStore) -> tuple[int, str]:
    """Open an invoice for a new pending order; return (order id, invoice id)."""
    order = store.create_order(total="10.00")
    data = OrderData(store="shop", order_id=str(order["id"]), currency="USD", total=Decimal("10"))
    invoice, _ = open_invoice(db, settings, data, utcnow(), Rates(settings))
    return int(order["id"]), invoice.id


def expire(db: Database, settings: Settings, invoice_id: str, exception: str) -> None:
    with db.transaction() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        invoice.status, invoice.exception = "expired", exception
        queue_event(session, settings, invoice, "invoice.expired", utcnow())


def actions(db: Database) -> list[tuple[str, str, str]]:
    with db.transaction() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id))
        return [(d.event, d.target, d.action) for d in rows]


def send_all(db: Database, settings: Settings) -> None:
    runtime = Runtime(settings, db)
    try:
        while deliver_due(db, settings, runtime.sender):
            pass
    finally:
        runtime.close()


def test_each_storefront_delivery_carries_the_action_its_event_resolved_to(
    db: Database, settings: Settings, store: WooStore
) -> None:
    _, plain = open_order(db, settings, store)
    _, partial = open_order(db, settings, store)
    expire(db, settings, plain, "")
    expire(db, settings, partial, "paid_partial")
    assert actions(db) == [
        ("invoice.created", STOREFRONT, "invoice.created"),
        ("invoice.created", STOREFRONT, "invoice.created"),
        ("invoice.expired", STOREFRONT, "invoice.expired"),
        ("invoice.expired", STOREFRONT, "invoice.expired.paid_partial"),
    ]
    with db.transaction() as session:  # an event the spec has no action for queues no push
        invoice = session.get(Invoice, plain)
        assert invoice is not None
        assert queue_event(session, settings, invoice, "invoice.paid_late", utcnow()) == []


def test_the_push_does_the_action_the_delivery_carries(
    db: Database, settings: Settings, store: WooStore
) -> None:
    order_id, invoice_id = open_order(db, settings, store)
    expire(db, settings, invoice_id, "paid_partial")
    with db.transaction() as session:  # the payload still says paid_partial: the column decides
        carried = "UPDATE deliveries SET action = 'invoice.expired' WHERE action LIKE '%partial'"
        session.execute(text(carried))
    send_all(db, settings)
    assert store.get_order(order_id)["status"] == "cancelled"
    assert any("expired at" in n["note"] for n in store.notes(order_id))


def test_a_delivery_queued_before_deliveries_carried_an_action_is_still_sent(
    db: Database, settings: Settings, store: WooStore
) -> None:
    order_id, invoice_id = open_order(db, settings, store)
    expire(db, settings, invoice_id, "paid_partial")
    with db.engine.begin() as connection:  # what the table looked like before the column
        connection.execute(text("ALTER TABLE deliveries DROP COLUMN action"))
    db.create_schema()
    assert [a for _, _, a in actions(db)] == ["", ""]
    send_all(db, settings)
    assert store.get_order(order_id)["status"] == "on-hold"  # paid_partial, from the payload
    assert any("PARTLY PAID" in n["note"] for n in store.notes(order_id))
