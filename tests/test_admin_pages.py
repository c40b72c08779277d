"""The dashboard's deliveries (failing first), refunds (amount edited in asset or base units,
the EIP-681 link and QR code, cancel), health and the Collect placeholder
(relay/web/admin/deliveries.py, refunds.py, health.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask import Flask

from relay.db import Database
from relay.models import ChainCursor, Delivery, InboxOrder, Refund, utcnow
from relay.records import RefundRequest
from relay.refunds import request_refunds, submit_address
from relay.settings import Settings
from relay.web.admin.refunds import AmountError, parse_amount
from relay.web.app import create_app
from tests.support import admin_client, csrf_token_of, inbox_row
from tests.test_admin_invoices import admin_settings, open_order, settle

CUSTOMER = "0x8ba1f109551bD432803012645Ac136ddd64DBA72"


@pytest.fixture
def settings() -> Settings:
    return admin_settings()


@pytest.fixture
def app(db: Database, settings: Settings) -> Flask:
    return create_app(settings, db)


def refund_for(db: Database, settings: Settings, order_id: str, address: bool = True) -> Refund:
    """Settle an order for 10 USDC and open a 4.00 USD refund of it (with the customer's address
    when `address`)."""
    settle(db, settings, order_id, 10_000_000)
    request = RefundRequest(external_id=f"r-{order_id}", amount=Decimal("4.00"))
    ((refund, _),) = request_refunds(db, settings, "shop", order_id, [request], utcnow())
    if address:
        refund = submit_address(
            db, settings, refund.id, CUSTOMER, False, lambda c, a: b"", utcnow()
        )
    return refund


def test_deliveries_list_dead_and_failing_ones_first(
    app: Flask, db: Database, settings: Settings
) -> None:
    invoices = [open_order(db, settings, f"D-{i}", "1.00") for i in range(4)]
    with db.transaction() as session:
        rows = {d.invoice_id: d for d in session.query(Delivery)}
        fine, failing, dead, done = (rows[i.id] for i in invoices)
        failing.last_error, failing.attempts = "HTTP 503", 1
        dead.status, dead.last_error, dead.attempts = "failed", "HTTP 401: bad key", 8
        done.status, done.attempts = "succeeded", 1
        order = [dead.id, failing.id, fine.id, done.id]
    client = admin_client(app)
    html = client.get("/admin/deliveries").text
    assert [int(i) for i in re.findall(r'<tr data-delivery="(\d+)"', html)] == order
    assert "<td>HTTP 401: bad key</td>" in html
    assert html.count(">Redeliver</button>") == 4
    only_dead = client.get("/admin/deliveries?status=failed").text
    assert re.findall(r'<tr data-delivery="(\d+)"', only_dead) == [str(order[0])]
    answer = client.post(
        f"/admin/deliveries/{order[0]}/redeliver",
        data={"csrf_token": csrf_token_of(html), "next": "/admin/deliveries?status=failed"},
    )
    assert answer.headers["Location"] == "/admin/deliveries?status=failed"
    assert client.get("/admin/deliveries?status=failed").text.count("data-delivery=") == 0
    assert client.get("/admin/deliveries?status=lost").status_code == 400
    missing = client.post(
        "/admin/deliveries/999/redeliver", data={"csrf_token": csrf_token_of(html)}
    )
    assert missing.status_code == 404


def test_a_refund_shows_the_address_link_and_qr_and_its_amount_can_change(
    app: Flask, db: Database, settings: Settings
) -> None:
    refund = refund_for(db, settings, "R-1")
    client = admin_client(app)
    listing = client.get("/admin/refunds").text
    assert f'<tr data-refund="{refund.id}">' in listing
    assert CUSTOMER in listing and "4 USDC (4.00 USD)" in listing
    page = client.get(f"/admin/refunds/{refund.id}").text
    uri = f"ethereum:0x{'11' * 20}@31337/transfer?address={CUSTOMER}&amp;uint256=4e6"
    assert f'href="{uri}" data-uri' in page
    assert 'class="qr"><title>QR code: send 4 USDC on Dev</title>' in page
    token = csrf_token_of(page)

    def change(amount: str, unit: str) -> tuple[int, str]:
        answer = client.post(
            f"/admin/refunds/{refund.id}/amount",
            data={"csrf_token": token, "amount": amount, "unit": unit},
        )
        if answer.status_code == 303:
            return 303, client.get(answer.headers["Location"]).text
        return answer.status_code, answer.text

    status, shown = change("3.25", "asset")
    assert status == 303 and 'data-base-units="3250000">3.25 USDC' in shown
    assert "The refund amount is saved." in shown and "set by you" in shown
    assert "uint256=325e4" in shown  # the link and QR code pay the new amount
    status, shown = change("1234567", "base")
    assert status == 303 and 'data-base-units="1234567">1.234567 USDC' in shown
    for amount, unit, reason in (
        ("1.0000001", "asset", "This asset has 6 decimal places; the amount has more."),
        ("0", "asset", "Enter an amount greater than 0."),
        ("lots", "asset", "Enter a number such as 12.5."),
        ("1.5", "base", "Enter a whole number of base units greater than 0."),
        ("-3", "base", "Enter a whole number of base units greater than 0."),
        ("3", "wei", "Choose whether the amount is in asset units or base units."),
    ):
        status, shown = change(amount, unit)
        assert (status, reason in shown) == (422, True), (amount, unit)
        assert 'aria-invalid="true"' in shown
    with db.transaction() as session:
        stored = session.get(Refund, refund.id)
        assert stored is not None and stored.amount_base_units == 1_234_567


def test_a_refund_can_be_cancelled_until_it_is_paid(
    app: Flask, db: Database, settings: Settings
) -> None:
    waiting = refund_for(db, settings, "R-2", address=False)
    client = admin_client(app)
    page = client.get(f"/admin/refunds/{waiting.id}").text
    assert "not given yet" in page and "data-uri" not in page  # no address: nothing to pay
    answer = client.post(
        f"/admin/refunds/{waiting.id}/cancel", data={"csrf_token": csrf_token_of(page)}
    )
    assert answer.status_code == 303
    shown = client.get(answer.headers["Location"]).text
    assert "The refund request is cancelled." in shown and "badge-cancelled" in shown
    assert "Change the amount" not in shown  # final: no more forms
    again = client.post(
        f"/admin/refunds/{waiting.id}/amount",
        data={"csrf_token": csrf_token_of(page), "amount": "1", "unit": "asset"},
    )
    assert again.status_code == 409 and "its amount can no longer change" in again.text
    refused = client.post(
        f"/admin/refunds/{waiting.id}/cancel", data={"csrf_token": csrf_token_of(page)}
    )
    assert refused.status_code == 409
    assert client.get("/admin/refunds/rfd_missing").status_code == 404


def test_amounts_parse_exactly() -> None:
    assert parse_amount("12.5", "asset", 6) == 12_500_000
    assert parse_amount(" 0.000000000000000001 ", "asset", 18) == 1
    assert parse_amount("1e-6", "asset", 6) == 1
    assert parse_amount("98765432109876543210", "base", 18) == 98765432109876543210
    for text, unit in (("1e-7", "asset"), ("NaN", "asset"), ("Infinity", "asset"), ("", "base")):
        with pytest.raises(AmountError):
            parse_amount(text, unit, 6)


def test_health_shows_chains_queues_config_and_version(
    app: Flask, db: Database, settings: Settings
) -> None:
    now = utcnow()
    with db.transaction() as session:
        session.add(
            ChainCursor(
                chain="dev",
                block_number=1234,
                block_hash="0x" + "44" * 32,
                block_time=now,
                updated_at=now,
            )
        )
        session.add(InboxOrder(**inbox_row("Q-1", received_at=now)))
        session.add(InboxOrder(**inbox_row("Q-2", status="dead", last_error="no total")))
    invoice = open_order(db, settings, "H-1", "1.00")
    with db.transaction() as session:
        (delivery,) = session.query(Delivery).filter_by(invoice_id=invoice.id)
        delivery.next_attempt_at = datetime(2026, 1, 1, tzinfo=UTC)
        delivery.last_error = "HTTP 502"
    html = admin_client(app).get("/admin/health").text
    chain = re.search(r'<tr data-chain="dev">.*?</tr>', html, re.S)
    assert chain is not None
    assert "<td data-cursor>1234</td>" in chain.group(0)
    assert "unreachable" in chain.group(0)  # the config's RPC (port 9) answers nothing
    assert "<td data-lag>—</td>" in chain.group(0)
    assert "<dd data-inbox-queued>1</dd>" in html and "<dd data-inbox-dead>1</dd>" in html
    assert "<dd data-outbox-pending>1</dd>" in html and "<dd data-outbox-failing>1</dd>" in html
    assert "2026-01-01 00:00:00 UTC" in html  # the oldest due delivery
    assert "config OK: &lt;memory&gt;" in html
    assert "chain dev (id 31337, 2 conf): USDC, ETH" in html
    assert re.search(r"relay version \d+\.\d+", html)


def test_collect_is_not_available_yet(app: Flask) -> None:
    html = admin_client(app).get("/admin/collect").text
    assert "Not available yet" in html
