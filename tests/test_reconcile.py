"""Reconciliation: orders whose webhook never came get invoices; drift is reported once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from devkit.woocommerce import WooStore
from relay.db import Database
from relay.delivery import deliver_due
from relay.invoices import find_invoice
from relay.models import Delivery, Invoice, utcnow
from relay.outbox import queue_event
from relay.reconcile import Report, reconcile_store
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


@pytest.fixture
def runtime(db: Database, settings: Settings) -> Iterator[Runtime]:
    adapters = Runtime(settings, db)
    yield adapters
    adapters.close()


def reconcile(db: Database, settings: Settings, runtime: Runtime) -> Report:
    return reconcile_store(db, settings, "shop", runtime.storefronts, utcnow(), runtime.rates)


def send_all(db: Database, settings: Settings) -> None:
    runtime = Runtime(settings, db)
    try:
        while deliver_due(db, settings, runtime.sender):
            pass
    finally:
        runtime.close()


def test_orders_whose_webhook_never_came_get_an_invoice_and_the_link(
    db: Database, settings: Settings, store: WooStore, runtime: Runtime
) -> None:
    missed = store.create_order(total="12.00", status="on-hold")  # no webhook is registered
    paid_elsewhere = store.create_order(total="5.00", status="processing")
    other_method = store.create_order(total="5.00", payment_method="bacs")
    report = reconcile(db, settings, runtime)
    assert len(report.opened) == 1
    with db.transaction() as session:
        invoice = find_invoice(session, "shop", str(missed["id"]))
        assert invoice is not None and invoice.amount == 12
        for order in (paid_elsewhere, other_method):
            assert find_invoice(session, "shop", str(order["id"])) is None
    send_all(db, settings)
    assert any(n["customer_note"] and "/pay/" in n["note"] for n in store.notes(missed["id"]))
    again = reconcile(db, settings, runtime)
    assert again.opened == []  # idempotent: one invoice per order however often it runs
    lists = [r for r in store.requests if r["method"] == "GET" and r["path"].endswith("/orders")]
    assert lists and all(r["status"] == 200 for r in lists)


def finish(db: Database, settings: Settings, invoice_id: str, status: str, event: str) -> None:
    with db.transaction() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        invoice.status = status
        invoice.settled_at = utcnow() if status == "settled" else None
        queue_event(session, settings, invoice, event, utcnow())


def test_a_drifted_order_is_reported_once_and_left_alone(
    db: Database, settings: Settings, store: WooStore, runtime: Runtime
) -> None:
    order = store.create_order(total="12.00", status="on-hold")
    reconcile(db, settings, runtime)
    with db.transaction() as session:
        invoice = find_invoice(session, "shop", str(order["id"]))
        assert invoice is not None
        invoice_id = invoice.id
    finish(db, settings, invoice_id, "settled", "invoice.settled")
    send_all(db, settings)
    assert store.get_order(order["id"])["status"] == "processing"
    assert reconcile(db, settings, runtime).mismatches == []

    store.update_order(order["id"], status="on-hold")  # the merchant, by hand
    writes_before = [r for r in store.requests if r["method"] != "GET"]
    report = reconcile(db, settings, runtime)
    assert report.mismatches == [(invoice_id, ("processing", "completed", "refunded"), "on-hold")]
    assert reconcile(db, settings, runtime).mismatches == []  # once
    send_all(db, settings)
    assert store.get_order(order["id"])["status"] == "on-hold"  # not fought over
    assert [r for r in store.requests if r["method"] != "GET"] == writes_before
    with db.transaction() as session:
        events = list(
            session.scalars(select(Delivery.event).where(Delivery.invoice_id == invoice_id))
        )
    assert "invoice.order_mismatch" not in events  # no status webhook configured: log only
