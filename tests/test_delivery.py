"""The outbox against a real HTTP WooCommerce emulator: pushes, retries, attempts, idempotency."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth1
from sqlalchemy import select

from devkit.woocommerce import WooStore
from relay.db import Database
from relay.delivery import (
    Sender,
    claim_due,
    deliver_due,
    delivery_lease_seconds,
    redeliver,
    send_claimed,
)
from relay.errors import StorefrontError
from relay.http import HttpClient
from relay.inbound import read_order
from relay.invoices import open_invoice
from relay.models import Delivery, Invoice, utcnow
from relay.outbox import queue_event
from relay.pricing import Rates
from relay.records import OrderData
from relay.runtime import Runtime
from relay.settings import Settings
from relay.specs import load_spec
from relay.storefront import StorefrontClient, woocommerce_auth
from tests.conftest import make_settings


@pytest.fixture
def store() -> Iterator[WooStore]:
    with WooStore() as shop:
        yield shop


@pytest.fixture
def settings(store: WooStore) -> Settings:
    return make_settings(store_url=store.base_url)


@pytest.fixture
def sender(db: Database, settings: Settings) -> Iterator[Sender]:
    runtime = Runtime(settings, db)
    yield runtime.sender
    runtime.close()


def open_for(db: Database, settings: Settings, order: dict[str, Any]) -> Invoice:
    data = OrderData(
        store="shop",
        order_id=str(order["id"]),
        currency=order["currency"],
        total=Decimal(order["total"]),
    )
    invoice, _ = open_invoice(db, settings, data, utcnow(), Rates(settings))
    return invoice


def deliveries(db: Database) -> list[Delivery]:
    with db.transaction() as session:
        found = list(session.scalars(select(Delivery).order_by(Delivery.id)))
        for delivery in found:
            _ = delivery.attempt_log
        return found


def queue(db: Database, settings: Settings, invoice_id: str, event: str, status: str) -> None:
    with db.transaction() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        invoice.status = status
        queue_event(session, settings, invoice, event, utcnow())


def send_all(db: Database, settings: Settings, sender: Sender) -> None:
    while deliver_due(db, settings, sender):
        pass


def test_created_invoice_reaches_the_order(
    db: Database, settings: Settings, sender: Sender, store: WooStore
) -> None:
    order = store.create_order(total="44.98")
    invoice = open_for(db, settings, order)
    send_all(db, settings, sender)
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    meta = {m["key"]: m["value"] for m in store.get_order(order["id"])["meta_data"]}
    assert meta["_relay_invoice_id"] == invoice.id
    (note,) = store.notes(order["id"])
    assert note["customer_note"] is True and "/pay/" in note["note"] and "44.98 USD" in note["note"]
    # over plain HTTP WooCommerce only accepts OAuth 1.0a; the emulator refuses Basic there
    assert {r["auth"] for r in store.requests} == {"oauth1"}


def test_a_repeated_push_changes_nothing(
    db: Database, settings: Settings, sender: Sender, store: WooStore
) -> None:
    order = store.create_order(total="10.00")
    open_for(db, settings, order)
    send_all(db, settings, sender)
    (delivery,) = deliveries(db)
    writes = [r for r in store.requests if r["method"] != "GET"]
    redeliver(db, delivery.id, utcnow())
    send_all(db, settings, sender)
    assert [r for r in store.requests if r["method"] != "GET"] == writes
    assert len(store.notes(order["id"])) == 1
    assert deliveries(db)[0].attempts == 2


def test_storefront_down_then_back(
    db: Database, settings: Settings, sender: Sender, store: WooStore
) -> None:
    order = store.create_order(total="10.00")
    open_for(db, settings, order)
    store.fail_next(2, 500)
    deliver_due(db, settings, sender)
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.attempt_log[0].status_code) == (
        "pending",
        1,
        500,
    )
    assert delivery.next_attempt_at > utcnow()  # schedule: the next try waits 1 s
    assert claim_due(db, utcnow(), 10, 30) == []
    later = utcnow() + timedelta(seconds=1.5)
    assert claim_due(db, later, 10, 30) == [delivery.id]
    assert claim_due(db, later, 10, 30) == []  # leased to the first claimer


def test_a_claim_lost_behind_a_slow_store_is_not_sent_twice(
    db: Database, settings: Settings, sender: Sender, store: WooStore
) -> None:
    orders = [store.create_order(total=f"{10 + i}.00") for i in range(3)]
    for order in orders:
        open_for(db, settings, order)
    lease = timedelta(seconds=delivery_lease_seconds(settings))
    first = utcnow()
    ids = claim_due(db, first, 10, lease.total_seconds())  # worker A; its lanes are stuck
    later = first + lease + timedelta(seconds=1)  # A's lease ran out: worker B claims them too
    assert claim_due(db, later, 10, lease.total_seconds()) == ids
    # A's lanes get to them at last: every claim is B's now, so A sends none
    assert send_claimed(db, settings, sender, ids, first + lease) == 3
    assert store.requests == [] and all(d.attempts == 0 for d in deliveries(db))
    assert send_claimed(db, settings, sender, ids, later + lease, later) == 3  # B sends
    assert [(d.status, d.attempts) for d in deliveries(db)] == [("succeeded", 1)] * 3
    for order in orders:
        assert len(store.notes(order["id"])) == 1


def test_a_claim_still_held_is_renewed_for_the_send(
    db: Database, settings: Settings, sender: Sender, store: WooStore
) -> None:
    order = store.create_order(total="10.00")
    open_for(db, settings, order)
    lease = delivery_lease_seconds(settings)
    first = utcnow()
    (delivery_id,) = claim_due(db, first, 10, lease)
    # the lease ran out but nobody else claimed: the lane renews it and sends
    late = first + timedelta(seconds=lease + 1)
    assert send_claimed(db, settings, sender, [delivery_id], first + timedelta(seconds=lease), late)
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


def test_retry_after_is_honoured(
    db: Database, settings: Settings, sender: Sender, store: WooStore
) -> None:
    store.create_order(total="10.00")
    open_for(db, settings, store.get_order(100))
    store.fail_next(1, 429, headers={"Retry-After": "30"})
    deliver_due(db, settings, sender)
    (delivery,) = deliveries(db)
    assert delivery.attempt_log[0].status_code == 429
    assert delivery.next_attempt_at - delivery.attempt_log[0].at >= timedelta(seconds=30)


@pytest.mark.parametrize("status", [401, 404])
def test_client_errors_fail_at_once_with_the_reason(
    db: Database, settings: Settings, sender: Sender, store: WooStore, status: int
) -> None:
    order = store.create_order(total="10.00")
    open_for(db, settings, order)
    store.fail_next(1, status)
    deliver_due(db, settings, sender)
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert f"HTTP {status}" in delivery.last_error
    assert delivery.attempt_log[0].status_code == status


def test_deliveries_for_one_order_go_in_order(
    db: Database, settings: Settings, sender: Sender, store: WooStore
) -> None:
    order = store.create_order(total="10.00", status="on-hold")
    invoice = open_for(db, settings, order)
    queue(db, settings, invoice.id, "invoice.settled", "settled")
    store.fail_next(1, 503)
    deliver_due(db, settings, sender)  # created fails; settled must wait behind it
    created, settled = deliveries(db)
    assert (created.status, settled.status, settled.attempts) == ("pending", "pending", 0)
    send_all(db, settings, sender)
    assert store.get_order(order["id"])["status"] == "on-hold"  # created waits 1 s to retry
    time.sleep(1.1)
    send_all(db, settings, sender)
    assert [d.status for d in deliveries(db)] == ["succeeded", "succeeded"]
    puts = [r["json"] for r in store.requests if r["method"] == "PUT"]
    assert "meta_data" in puts[0] and puts[-1]["status"] == "processing"
    assert store.get_order(order["id"])["transaction_id"] == ""  # no payment in this invoice


def test_protected_orders_are_never_moved(
    db: Database, settings: Settings, sender: Sender, store: WooStore
) -> None:
    order = store.create_order(total="10.00")
    invoice = open_for(db, settings, order)
    store.update_order(order["id"], status="processing")  # paid another way meanwhile
    queue(db, settings, invoice.id, "invoice.expired", "expired")
    send_all(db, settings, sender)
    assert store.get_order(order["id"])["status"] == "processing"
    assert all(d.status == "succeeded" for d in deliveries(db))


def test_basic_auth_only_over_https() -> None:
    https = make_settings(store_url="https://shop.example").stores["shop"]
    http = make_settings(store_url="http://shop.example").stores["shop"]
    assert isinstance(woocommerce_auth(https), HTTPBasicAuth)
    assert isinstance(woocommerce_auth(http), OAuth1)


def test_orders_are_read_back_and_listed_for_reconciliation(
    settings: Settings, store: WooStore
) -> None:
    start = utcnow() - timedelta(seconds=2)
    opened = [store.create_order(total="5.00")["id"] for _ in range(3)]
    opened.append(store.create_order(total="6.00", status="on-hold")["id"])
    store.create_order(total="7.00", status="processing")
    shop = settings.stores["shop"]
    spec = load_spec(shop)
    assert spec.list_orders is not None
    two_per_page = dataclasses.replace(
        spec.list_orders, query={**spec.list_orders.query, "per_page": "2"}
    )
    with HttpClient(5) as http:
        client = StorefrontClient(shop, dataclasses.replace(spec, list_orders=two_per_page), http)
        listed = client.list_open_orders(start)
        assert len([c for c in client.calls if c.method == "GET"]) == 2  # followed rel="next"
        assert client.list_open_orders(utcnow() + timedelta(hours=1)) == []
        raw = client.read_order(str(opened[0]))
        with pytest.raises(StorefrontError, match="HTTP 404"):
            client.read_order("999999")
    assert sorted(o["id"] for o in listed) == sorted(opened)
    found = read_order(shop, spec, raw)
    assert found.order is not None and found.order.total == Decimal("5.00")
    assert {r["auth"] for r in store.requests} == {"oauth1"}
