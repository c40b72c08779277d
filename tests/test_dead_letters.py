"""No poison message: a spool line or inbox row that cannot become an invoice is a dead letter
with its reason, the others flow on, and an operator sees and puts it back."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from click.testing import CliRunner
from flask import Flask, jsonify
from sqlalchemy import Table, select

from devkit.devchain import Anvil
from devkit.woocommerce import WooStore
from relay.cli import main
from relay.config import parse_settings
from relay.db import Database, GroupedInserts
from relay.dead_letters import list_rows
from relay.inbox import Inbox, counts, open_all, open_queued, order_document
from relay.inbox_lines import encode_line
from relay.models import InboxOrder, Invoice
from relay.pricing import Rates
from relay.records import OrderData
from relay.runtime import Runtime
from relay.settings import Settings
from relay.spool import HEADER_BYTES
from relay.web.app import create_app
from tests.conftest import ADMIN_TOKEN, config_dict, database_url_for, make_settings
from tests.support import (
    AppServer,
    inbox_row,
    relay_address,
    relay_process,
    wait_for,
    woocommerce_delivery,
    write_config,
)

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
GOOD = ["101", "102", "103", "104", "105", "106", "107", "108"]


def order(order_id: str, store: str = "shop", **fields: Any) -> OrderData:
    values: dict[str, Any] = {"currency": "USD", "total": Decimal("44.98")} | fields
    return OrderData(store, order_id, order_number=order_id, **values)


def rows(db: Database) -> list[InboxOrder]:
    with db.transaction() as session:
        return list(session.scalars(select(InboxOrder).order_by(InboxOrder.id)))


def invoiced(db: Database) -> set[str]:
    with db.transaction() as session:
        return set(session.scalars(select(Invoice.order_id)))


def dead_reasons(db: Database) -> dict[str, str]:
    """Return each inbox row's order id (or its kept line's start) → its reason, checking that
    every row is a dead letter (read as the admin API does: a row may hold JSON Python refuses)."""
    found = {}
    for row in list_rows(db):
        assert row["status"] == "dead" and row["dead_at"] is not None, row
        found[row["order_id"] or row["raw"][:12]] = row["last_error"]
    return found


def body(answer: Any) -> dict[str, Any]:
    """Return a test client answer's JSON object."""
    data = answer.get_json()
    assert isinstance(data, dict), data
    return data


def assert_one_line_per_dead_letter(caplog: pytest.LogCaptureFixture, dead: int) -> None:
    records = [r for r in caplog.records if r.name.startswith("relay")]
    assert not [r for r in records if r.exc_info], "no traceback"
    lines = [
        r for r in records if "dead letter" in r.getMessage() or "dead-lettered" in r.getMessage()
    ]
    assert len(lines) == dead, [r.getMessage() for r in lines]


def test_poison_spool_lines_between_good_ones_are_dead_letters_and_every_good_one_an_invoice(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="relay")
    settings = make_settings()
    inbox = Inbox(db, spool_dir=tmp_path / "spool")
    assert inbox.spool is not None
    good = iter(GOOD)
    poison: list[Any] = [
        order("\ud800"),  # a lone surrogate in the order id: no row can hold it
        order("9" * 200),  # past the order id column's 128 characters
        order("21", customer_email="\ud800@example.com"),  # a lone surrogate in the document
        order("22", total=Decimal("1e309")),  # a total no invoice can price
        order("23", store="closed"),  # a store no longer configured
        b"\xff\xfe\x00garbage\x80",  # not a line the relay wrote at all
        encode_line("shop", "24", "order.created", NOW, b'{"order_id": "24", '),  # cut JSON
    ]
    try:
        for bad in poison:
            inbox.accept(order(next(good)), "order.created", NOW)
            if isinstance(bad, bytes):
                inbox.spool.append(bad)
            else:
                inbox.accept(bad, "order.created", NOW)
        inbox.accept(order(next(good)), "order.created", NOW)
    finally:
        inbox.close()  # moves what the thread has not moved yet
    # the rows of the poison lines a row could be made of fail when opened (on PostgreSQL the
    # cut JSON is refused when moved already)
    assert open_all(db, settings, Rates(settings)) in (len(GOOD) + 4, len(GOOD) + 3)
    assert invoiced(db) == set(GOOD)
    reasons = dead_reasons(db)
    assert len(reasons) == len(poison)
    assert "not valid Unicode" in reasons["\\ud800"]
    assert "over its limit of 128" in reasons["9" * 128]
    assert "'customer_email' is not valid Unicode" in reasons["21"]
    assert "a number out of range" in reasons["22"] or "too long" in reasons["22"]
    assert "no store named 'closed'" in reasons["23"]
    assert "not UTF-8" in reasons["\\xff\\xfe\x00gar"]  # kept, its bytes escaped
    assert "unreadable" in reasons["24"] or "database refused" in reasons["24"]
    assert (
        open_all(db, settings, Rates(settings)) == 0
    )  # a dead letter is never tried again by itself
    assert_one_line_per_dead_letter(caplog, len(poison))


def test_poison_rows_between_good_ones_are_dead_letters_and_every_good_one_an_invoice(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="relay")
    settings = make_settings()
    inserts = GroupedInserts(db, cast(Table, InboxOrder.__table__))
    document = {"currency": "USD", "total": "44.98", "store": "shop"}
    poison = {
        "31": {"order_id": "31", **document, "customer_email": "\ud800"},  # lone surrogate
        "32": {"order_id": "32", **document, "total": "1E+30000"},  # overflows
        "33": {"order_id": "33", **document, "total": "NaN"},
        "34": {"order_id": "34", **document, "colour": "red"},  # a field OrderData lacks
        "35": {"order_id": "35", **document, "store": "closed"},
        "36": ["not", "an", "object"],
        "37": {"order_id": "x" * 300, **document},  # past invoices.order_id's length
    }
    good = iter(GOOD)
    for order_id, bad in poison.items():
        good_id = next(good)
        inserts.insert(inbox_row(good_id, order={"order_id": good_id, **document}))
        store = "closed" if order_id == "35" else "shop"
        inserts.insert(inbox_row(order_id, order=bad, store=store))
    assert open_all(db, settings, Rates(settings)) == len(GOOD) - 1 + len(poison)
    assert invoiced(db) == set(GOOD[: len(poison)])
    reasons = dead_reasons(db)
    assert set(reasons) == set(poison)
    assert "'customer_email' is not valid Unicode" in reasons["31"]
    assert "no store named 'closed'" in reasons["35"]
    assert "not a JSON object" in reasons["36"]
    assert "'order_id' of 300 characters, over its limit of 128" in reasons["37"]
    assert all(reason for reason in reasons.values())
    assert_one_line_per_dead_letter(caplog, len(poison))


@pytest.fixture
def price_api() -> Iterator[dict[str, Any]]:
    """A CoinGecko-shaped price API that is down."""
    app = Flask("prices")

    @app.get("/simple/price")
    def simple_price() -> Any:
        return jsonify({"error": "down"}), 503

    with AppServer(app) as server:
        yield {"url": server.url}


def rate_outage_settings(
    price_api: dict[str, Any], store_url: str = "http://127.0.0.1:9"
) -> Settings:
    data = config_dict(eth_rate="coingecko:ethereum", accept=["dev:ETH"], store_url=store_url)
    data["relay"] |= {"coingecko_url": price_api["url"], "inbox_retry_seconds": [5, 30]}
    return parse_settings(data, env={})


def test_a_rate_outage_is_retried_up_to_the_bound_then_the_merchant_gets_one_note(
    db: Database, price_api: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="relay")
    with WooStore() as store:
        shop_order = store.create_order(total="44.98", status="on-hold")
        settings = rate_outage_settings(price_api, store.base_url)
        runtime = Runtime(settings, db)
        rates, sender = runtime.rates, runtime.sender
        Inbox(db).accept(order(str(shop_order["id"])), "order.created", NOW)
        tries = [NOW, NOW + timedelta(seconds=5), NOW + timedelta(seconds=35)]
        for at in tries:
            assert open_queued(db, settings, at, rates, notify=sender.tell_merchant) == 1
            assert open_queued(db, settings, at, rates, notify=sender.tell_merchant) == 0
        runtime.close()
        (row,) = rows(db)
        assert (row.status, row.attempts) == ("dead", 3)
        assert row.last_error.startswith("gave up after 3 tries over 0 min: ")
        assert "no payment option could be priced" in row.last_error
        notes = [n for n in store.notes(shop_order["id"]) if "crypto invoice" in n["note"]]
        assert len(notes) == 1 and notes[0]["customer_note"] is False
        assert "opening it kept failing" in notes[0]["note"]
        assert f"relay inbox retry {row.id}" in notes[0]["note"]
        assert "no payment option could be priced" in notes[0]["note"]
    records = [
        r for r in caplog.records if r.name == "relay.inbox" and r.levelno >= logging.WARNING
    ]
    assert [r.getMessage().split(": ", 1)[1][:20] for r in records] == [
        "no invoice yet (no p",  # once when it starts failing
        "dead letter (inbox r",  # once when it is given up
    ]


def test_the_admin_api_lists_dead_letters_and_puts_one_back_after_a_fix(db: Database) -> None:
    Inbox(db).accept(order("41", store="closed"), "order.created", NOW)
    Inbox(db).accept(order("42"), "order.created", NOW)
    settings = make_settings()
    open_all(db, settings, Rates(settings))
    client = create_app(make_settings(), db).test_client()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.get("/api/v1/admin/inbox?status=dead").status_code == 401
    listed = body(client.get("/api/v1/admin/inbox?status=dead", headers=auth))
    (dead,) = listed["inbox"]
    assert (dead["store"], dead["order_id"], dead["status"]) == ("closed", "41", "dead")
    assert "no store named 'closed'" in dead["last_error"] and dead["dead_at"]
    bad = client.get("/api/v1/admin/inbox?status=failing", headers=auth)
    assert bad.status_code == 400 and body(bad)["error"]["code"] == "invalid_payload"
    for row_id in ("abc", "99999999999999999999", "²", "-1", "12345"):
        answer = client.post(f"/api/v1/admin/inbox/{row_id}/retry", headers=auth)
        assert answer.status_code == 404 and body(answer)["error"]["code"] == "not_found", row_id

    # the fix: the store is configured again
    data = config_dict()
    data["stores"]["closed"] = data["stores"]["shop"]
    fixed = parse_settings(data, env={})
    client = create_app(fixed, db).test_client()
    answer = client.post(f"/api/v1/admin/inbox/{dead['id']}/retry", headers=auth)
    assert answer.status_code == 202 and body(answer)["status"] == "queued"
    again = client.post(f"/api/v1/admin/inbox/{dead['id']}/retry", headers=auth)
    assert again.status_code == 409 and body(again)["error"]["code"] == "inbox_conflict"
    assert open_all(db, fixed, Rates(fixed)) == 1
    assert "41" in invoiced(db) and rows(db) == []


def test_a_kept_spool_line_is_read_again_on_retry(db: Database, tmp_path: Path) -> None:
    inbox = Inbox(db, spool_dir=tmp_path / "spool")
    assert inbox.spool is not None
    document = json.dumps({"store": "shop", "order_id": "51", "currency": "USD", "total": "5"})
    inbox.spool.append(
        encode_line("shop", "51", "order.created", NOW, document.encode())[:-1] + b"}}"
    )
    inbox.close()
    (row,) = rows(db)
    assert row.status == "dead" and row.order["raw"].startswith('["shop","51"')
    client = create_app(make_settings(), db).test_client()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    answer = client.post(f"/api/v1/admin/inbox/{row.id}/retry", headers=auth)
    assert answer.status_code == 422 and "still unreadable" in body(answer)["error"]["message"]
    (row,) = rows(db)
    assert row.status == "dead" and row.last_error.startswith("still unreadable")


def test_relay_inbox_list_and_retry(db: Database, tmp_path: Path) -> None:
    data = config_dict(database_url=db.url)
    Inbox(db).accept(order("61", store="closed"), "order.created", NOW)
    settings = parse_settings(data, env={})
    open_all(db, settings, Rates(settings))
    config = str(write_config(data, tmp_path / "relay.toml"))
    runner = CliRunner()
    listed = runner.invoke(main, ["inbox", "list", "--status", "dead", "--config", config])
    assert listed.exit_code == 0, listed.output
    (line,) = [line for line in listed.output.splitlines() if not line.startswith("warning:")]
    row_id, status, where, *_ = line.split("\t")
    assert (status, where) == ("dead", "closed/61") and "no store named" in line
    assert runner.invoke(main, ["inbox", "retry", "x1", "--config", config]).exit_code == 1
    retried = runner.invoke(main, ["inbox", "retry", row_id, "--config", config])
    assert retried.exit_code == 0 and f"inbox row {row_id} queued again" in retried.output
    with db.transaction() as session:
        assert counts(session) == {"queued": 1, "dead": 0}
    again = runner.invoke(main, ["inbox", "retry", row_id, "--config", config])
    assert again.exit_code == 1 and "not dead" in again.output


def spool_document(order_id: str) -> bytes:
    """Return an order document as an inbox spool line carries it (relay/inbox.py)."""
    document = order_document(order(order_id, total=Decimal("5.00")))
    return json.dumps(document, separators=(",", ":")).encode()


def test_a_real_relay_restarted_across_a_poison_line_invoices_every_good_order(
    chain: Anvil, usdc: str, tmp_path: Path
) -> None:
    with WooStore(webhook_delay=0.1) as store:
        shop = [store.create_order(total="5.00", status="on-hold") for _ in range(4)]
        ids = [str(o["id"]) for o in shop]
        data = config_dict(
            rpc_url=chain.url,
            token=usdc,
            store_url=store.base_url,
            database_url=database_url_for(tmp_path),
            reconcile_seconds=0,  # only what the spool and the webhooks carry opens invoices
            **relay_address(),
        )
        relay = relay_process(data, tmp_path)
        # a segment an older relay left behind: good, a lone surrogate, garbage, good
        spool = tmp_path / "spool"
        spool.mkdir()
        lines = [
            encode_line("shop", ids[0], "order.created", NOW, spool_document(ids[0])),
            encode_line("shop", "\ud800", "order.created", NOW, spool_document("\ud800")),
            b"\x00\xff not a spool line",
            encode_line("shop", ids[1], "order.created", NOW, spool_document(ids[1])),
        ]
        header = b"%020d\n" % HEADER_BYTES  # every byte after it is still to move
        (spool / "1-1.spool").write_bytes(header + b"".join(x + b"\n" for x in lines))
        relay.start()
        try:
            for order_id in ids[:2]:
                wait_for(f"order {order_id} invoiced", partial(relay.invoice_for, order_id))
            body, headers = woocommerce_delivery(store.get_order(shop[2]["id"]), "order.created")
            assert requests.post(f"{relay.url}/hooks/shop", data=body, headers=headers).ok
            wait_for("the webhook's invoice", partial(relay.invoice_for, ids[2]))
            relay.stop()
            relay.start()  # across the dead letters: nothing holds the spool or the inbox
            body, headers = woocommerce_delivery(store.get_order(shop[3]["id"]), "order.created")
            assert requests.post(f"{relay.url}/hooks/shop", data=body, headers=headers).ok
            wait_for("the last webhook's invoice", partial(relay.invoice_for, ids[3]))
            dead = relay.admin("/api/v1/admin/inbox", status="dead")["inbox"]
            assert sorted(row["order_id"] for row in dead) == ["", "\\ud800"]
            assert all(row["last_error"] and row["raw"] for row in dead)
        finally:
            relay.stop()
    log = relay.log_path.read_text()
    assert "Traceback" not in log
    assert log.count("dead-lettered") == 2  # one line per dead letter, not one per tick
