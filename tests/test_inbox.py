"""The inbox: the webhook route answers once the order is stored; a job opens the invoice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from flask import Flask, jsonify
from sqlalchemy import Table, event, func, select

from relay.config import parse_settings
from relay.db import Database, GroupedInserts
from relay.http import HttpClient
from relay.inbox import (
    LEASE_SECONDS,
    RETRY_SECONDS,
    Inbox,
    claim_due,
    counts,
    open_all,
    open_queued,
)
from relay.invoices import find_invoice
from relay.models import Delivery, InboxOrder, Invoice, utcnow
from relay.pricing import Rates
from relay.records import OrderData
from relay.scheduler import DrainLoop
from relay.signing import hmac_sha256_base64
from relay.web.app import create_app
from relay.web.context import inbox_of
from tests.conftest import WEBHOOK_SECRET, config_dict, make_settings
from tests.support import AppServer, inbox_row, wait_for

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def order(order_id: str = "7", store: str = "shop") -> OrderData:
    return OrderData(store, order_id, "USD", Decimal("44.98"), order_number=order_id)


def webhook(order_id: int = 7) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": order_id,
            "number": str(order_id),
            "status": "on-hold",
            "currency": "USD",
            "total": "44.98",
            "payment_method": "cheque",
            "billing": {"email": "ada@example.com"},
        }
    ).encode()
    headers = {
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Signature": hmac_sha256_base64(WEBHOOK_SECRET, body),
        "Content-Type": "application/json",
    }
    return body, headers


def rows(db: Database) -> list[InboxOrder]:
    with db.transaction() as session:
        return list(session.scalars(select(InboxOrder).order_by(InboxOrder.id)))


def queued_row(db: Database) -> InboxOrder:
    """Return the inbox's one row, checked to be WooCommerce order 7, queued by its webhook."""
    (row,) = rows(db)
    assert (row.store, row.order_id, row.topic, row.status) == (
        "shop",
        "7",
        "order.created",
        "queued",
    )
    return row


def invoices(db: Database) -> list[Invoice]:
    with db.transaction() as session:
        return list(session.scalars(select(Invoice)))


def test_the_answer_comes_before_the_invoice_and_the_job_opens_it(db: Database) -> None:
    settings = make_settings()
    client = create_app(settings, db).test_client()  # no inbox job in this process
    body, headers = webhook()
    answer = client.post("/hooks/shop", data=body, headers=headers)
    assert answer.status_code == 200
    assert answer.json == {"ok": True, "queued": True, "order_id": "7"}
    row = queued_row(db)
    assert row.order["total"] == "44.98" and row.order["customer_email"] == "ada@example.com"
    assert invoices(db) == []
    assert client.post("/hooks/shop", data=body, headers=headers).status_code == 200  # again
    assert open_queued(db, settings, utcnow(), Rates(settings)) == 2
    (invoice,) = invoices(db)  # one invoice for the order, however often it came
    assert (invoice.order_id, invoice.amount, invoice.customer_email) == (
        "7",
        Decimal("44.98"),
        "ada@example.com",
    )
    assert rows(db) == []
    with db.transaction() as session:
        queued = session.scalars(select(Delivery.event).where(Delivery.invoice_id == invoice.id))
        assert "invoice.created" in set(queued)  # the payment link goes out by delivery
    assert open_queued(db, settings, utcnow(), Rates(settings)) == 0


def test_an_order_that_can_never_be_invoiced_is_refused_and_not_stored(db: Database) -> None:
    client = create_app(make_settings(), db).test_client()
    body, headers = webhook()
    zero = json.dumps(dict(json.loads(body), total="0.00")).encode()
    headers["X-WC-Webhook-Signature"] = hmac_sha256_base64(WEBHOOK_SECRET, zero)
    answer = client.post("/hooks/shop", data=zero, headers=headers)
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "invoice_error"  # type: ignore[index]
    assert rows(db) == []


@pytest.fixture
def price_api() -> Iterator[dict[str, Any]]:
    """A CoinGecko-shaped price API whose `status` the test sets."""
    state: dict[str, Any] = {"status": 503}
    app = Flask("prices")

    @app.get("/simple/price")
    def simple_price() -> Any:
        if state["status"] != 200:
            return jsonify({"error": "down"}), state["status"]
        stamp = int(datetime.now(UTC).timestamp())
        body = f'{{"ethereum": {{"usd": 2000.5, "last_updated_at": {stamp}}}}}'
        return body, 200, {"Content-Type": "application/json"}

    with AppServer(app) as server:
        state["url"] = server.url
        yield state


def test_a_rate_outage_delays_the_invoice_instead_of_losing_the_order(
    db: Database, price_api: dict[str, Any]
) -> None:
    data = config_dict(eth_rate="coingecko:ethereum", accept=["dev:ETH"])
    data["relay"]["coingecko_url"] = price_api["url"]
    settings = parse_settings(data, env={})
    Inbox(db).accept(order(), "order.created", NOW)
    http = HttpClient(5)
    assert open_queued(db, settings, NOW, Rates(settings, http=http)) == 1
    (row,) = rows(db)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.next_attempt_at == NOW + timedelta(seconds=RETRY_SECONDS[0])
    assert "no payment option could be priced" in row.last_error
    assert invoices(db) == []

    price_api["status"] = 200
    assert open_queued(db, settings, NOW + timedelta(seconds=1), Rates(settings, http=http)) == 0
    later = NOW + timedelta(seconds=RETRY_SECONDS[0])
    assert open_queued(db, settings, later, Rates(settings, http=http)) == 1
    with db.transaction() as session:
        invoice = find_invoice(session, "shop", "7")
        assert invoice is not None and [o.asset for o in invoice.options] == ["ETH"]
    assert rows(db) == []
    http.close()


def test_a_row_whose_store_left_the_configuration_is_a_dead_letter_and_is_counted(
    db: Database,
) -> None:
    settings = make_settings()
    Inbox(db).accept(order(store="closed"), "order.created", NOW)
    assert open_queued(db, settings, NOW, Rates(settings)) == 1
    (row,) = rows(db)
    assert row.status == "dead" and "no store named 'closed'" in row.last_error
    assert row.dead_at == NOW
    never = NOW + timedelta(days=1)
    assert open_queued(db, settings, never, Rates(settings)) == 0  # never tried again
    with db.transaction() as session:
        assert counts(session) == {"queued": 0, "dead": 1}
    metrics = create_app(settings, db).test_client().get("/metrics").get_data(as_text=True)
    assert 'relay_inbox_orders{status="dead"} 1.0' in metrics


def test_a_claimed_row_waits_for_its_lease_then_opens_once(db: Database) -> None:
    settings = make_settings()
    Inbox(db).accept(order(), "order.created", NOW)
    assert len(claim_due(db, NOW)) == 1  # a worker claims it, then dies before opening
    assert claim_due(db, NOW + timedelta(seconds=LEASE_SECONDS - 1)) == []
    after = NOW + timedelta(seconds=LEASE_SECONDS)
    assert open_queued(db, settings, after, Rates(settings)) == 1
    assert len(invoices(db)) == 1 and rows(db) == []


def test_grouped_inserts_commit_together_and_report_each_rows_fate(db: Database) -> None:
    table = cast(Table, InboxOrder.__table__)
    inserts = GroupedInserts(db, table)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.startswith("INSERT INTO inbox"):
            statements.append(sql)
            if len(statements) % 10 == 0:  # a database hiccup: every row of this batch fails
                raise RuntimeError("the database went away")

    event.listen(db.engine, "before_cursor_execute", count)
    outcome: dict[str, bool] = {}
    start = threading.Barrier(12)

    def worker(lane: int) -> None:
        start.wait()
        for n in range(40):
            key = f"{lane}-{n}"
            try:
                inserts.insert(inbox_row(key))
                outcome[key] = True
            except Exception:
                outcome[key] = False

    threads = [threading.Thread(target=worker, args=(lane,)) for lane in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.transaction() as session:
        stored = set(session.scalars(select(InboxOrder.order_id)))
    assert len(outcome) == 480
    assert stored == {key for key, ok in outcome.items() if ok}  # returned ⇔ committed
    assert 1 <= len(stored) < 480  # some batches failed, each of their rows told so
    assert len(statements) < len(stored)  # concurrent rows shared a statement (and its commit)


def test_a_row_with_wrong_values_is_refused_in_its_own_thread_and_spoils_no_batch(
    db: Database,
) -> None:
    inserts = GroupedInserts(db, cast(Table, InboxOrder.__table__))
    first_write, queued = threading.Event(), threading.Event()

    def slow_first_write(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.startswith("INSERT INTO inbox") and not first_write.is_set():
            first_write.set()
            queued.wait(5)  # the others queue behind this write: the next batch

    event.listen(db.engine, "before_cursor_execute", slow_first_write)
    errors: dict[str, BaseException] = {}

    def insert(row: dict[str, Any]) -> None:
        try:
            inserts.insert(row)
        except Exception as exc:
            errors[row["order_id"]] = exc

    leader = threading.Thread(target=insert, args=(inbox_row("1"),))
    leader.start()
    assert first_write.wait(5)
    follower = threading.Thread(target=insert, args=(inbox_row("2"),))
    follower.start()
    wait_for("the follower to queue", lambda: inserts._queue)
    no_status = inbox_row("3")
    del no_status["status"]
    insert(no_status)
    insert(inbox_row("4", received_at=NOW.replace(tzinfo=None)))  # UTCDateTime refuses naive
    insert(inbox_row("5", store=None))  # NOT NULL
    queued.set()
    leader.join(5)
    follower.join(5)
    assert set(errors) == {"3", "4", "5"}
    assert isinstance(errors["3"], KeyError) and "status" in str(errors["3"])
    assert isinstance(errors["4"], ValueError) and "naive" in str(errors["4"])
    assert isinstance(errors["5"], ValueError) and "'store' may not be null" in str(errors["5"])
    with db.transaction() as session:
        assert set(session.scalars(select(InboxOrder.order_id))) == {"1", "2"}


def test_drain_loop_runs_at_once_when_woken_and_on_its_poll_otherwise() -> None:
    runs: list[float] = []
    woken = DrainLoop("test-woken", lambda: runs.append(1), seconds=3600)
    woken.start()
    wait_for("the first drain", lambda: len(runs) == 1 or None)
    woken.wake()
    wait_for("a drain after the wake", lambda: len(runs) == 2 or None)
    woken.stop()
    assert len(runs) == 2  # no poll in between: its period is an hour

    polled: list[float] = []
    polling = DrainLoop("test-polling", lambda: polled.append(1), seconds=0.05)
    polling.start()
    wait_for("drains on the poll", lambda: len(polled) >= 3 or None)
    polling.stop()


def test_many_concurrent_webhooks_each_become_one_invoice(db: Database) -> None:
    settings = make_settings()
    app = create_app(settings, db)
    with AppServer(app) as server:

        def send(first: int) -> None:
            with requests.Session() as http:
                for order_id in range(first, first + 25):
                    body, headers = webhook(order_id)
                    answer = http.post(f"{server.url}/hooks/shop", data=body, headers=headers)
                    assert answer.status_code == 200 and answer.json()["queued"] is True

        senders = [threading.Thread(target=send, args=(1000 + 25 * i,)) for i in range(8)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
    assert len(rows(db)) == 200
    assert open_all(db, settings, Rates(settings)) == 200
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 200
        assert session.scalar(select(func.count(func.distinct(Invoice.address_index)))) == 200
    assert rows(db) == []


def test_with_a_spool_the_order_reaches_the_table_after_the_answer(
    db: Database, tmp_path: Path
) -> None:
    settings = make_settings()
    moved = threading.Event()
    app = create_app(settings, db, on_queued=moved.set, spool_dir=tmp_path / "spool")
    inbox = inbox_of(app)
    try:
        body, headers = webhook()
        answer = app.test_client().post("/hooks/shop", data=body, headers=headers)
        assert answer.json == {"ok": True, "queued": True, "order_id": "7"}
        assert moved.wait(10)  # the spool's thread moved the line, then woke the inbox job
        row = queued_row(db)
        assert row.order["total"] == "44.98" and row.next_attempt_at == row.received_at
        assert inbox.spooled() == 0
        # the line moved again (a kill between its move and its header's update); beside it, a
        # line that cannot be read and one cut short (a failed write), which are left out
        (segment,) = (tmp_path / "spool").glob("*.spool")
        header, line = segment.read_bytes().splitlines()
        assert int(header) == segment.stat().st_size  # the header: every byte is moved
        assert b'"shop","7","order.created"' in line and b'"customer_email":"ada@' in line
        inbox._move([b'["shop", "7"', line[:-10], line])
        assert len(rows(db)) == 2
        assert open_all(db, settings, Rates(settings)) == 2
        (invoice,) = invoices(db)
        assert (invoice.order_id, invoice.amount) == ("7", Decimal("44.98"))
    finally:
        inbox.close()
    assert list((tmp_path / "spool").glob("*.spool")) == []
