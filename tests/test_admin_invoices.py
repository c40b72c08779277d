"""The dashboard's invoices: filters, search, paging, exact totals, the invoice page with its
payments, timeline, deliveries and attempts, redelivery, and the paid-value chart's numbers
(relay/web/admin/invoices.py, queries.py, chart.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from relay.config import parse_settings
from relay.db import Database
from relay.invoices import open_invoice
from relay.models import Delivery, DeliveryAttempt, Invoice, Payment, utcnow
from relay.pricing import Rates
from relay.records import OrderData
from relay.settings import Settings
from relay.web.admin.chart import BAR_AREA
from relay.web.app import create_app
from tests.conftest import config_dict
from tests.support import admin_client, csrf_token_of

WEI = 10**18
TX = "0x" + "ab" * 32


def admin_settings(**chain: Any) -> Settings:
    """Settings with two stores ("shop", "other") on the dev chain; `chain` adds chain keys."""
    data = config_dict(rpc_url="http://127.0.0.1:9")
    data["stores"]["other"] = dict(data["stores"]["shop"], payment_methods=["other"])
    data["chains"]["dev"].update(chain)
    return parse_settings(data, env={})


def open_order(
    db: Database, settings: Settings, order_id: str, total: str, store: str = "shop", **row: Any
) -> Invoice:
    """Open an invoice for an order (prices at the config's fixed rates), then set `row` on it."""
    order = OrderData(store=store, order_id=order_id, currency="USD", total=Decimal(total))
    invoice, _ = open_invoice(db, settings, order, utcnow(), Rates(settings))
    with db.transaction() as session:
        found = session.get(Invoice, invoice.id)
        assert found is not None
        for key, value in row.items():
            setattr(found, key, value)
        return found


def settle(
    db: Database,
    settings: Settings,
    order_id: str,
    base_units: int,
    asset: str = "USDC",
    at: datetime | None = None,
    store: str = "shop",
    tx_hash: str | None = None,
) -> Invoice:
    """Open an invoice and record it settled in `asset` for `base_units` at `at`, with a payment."""
    moment = at or utcnow()
    invoice = open_order(
        db,
        settings,
        order_id,
        "10.00",
        store=store,
        status="settled",
        settled_at=moment,
        created_at=moment - timedelta(minutes=5),
        paid_option=f"dev:{asset}",
        paid_base_units=base_units,
    )
    with db.transaction() as session:
        session.add(
            Payment(
                invoice_id=invoice.id,
                chain="dev",
                asset=asset,
                tx_hash=tx_hash or "0x" + invoice.id.encode().hex().ljust(64, "0")[:64],
                log_index=0,
                from_address="0x" + "22" * 20,
                to_address=invoice.deposit_address,
                amount_base_units=base_units,
                block_number=7,
                block_hash="0x" + "33" * 32,
                block_time=moment,
                seen_at=moment - timedelta(minutes=1),
                confirmations=3,
                confirmed=True,
            )
        )
    return invoice


@pytest.fixture
def settings() -> Settings:
    return admin_settings()


@pytest.fixture
def app(db: Database, settings: Settings) -> Flask:
    return create_app(settings, db)


def listed(html: str) -> list[str]:
    """Return the invoice ids a listing page shows, in order."""
    return re.findall(r'<tr data-invoice="([^"]+)">', html)


def test_filters_and_search_narrow_the_list(app: Flask, db: Database, settings: Settings) -> None:
    day = datetime(2026, 11, 2, 12, tzinfo=UTC)
    a = open_order(db, settings, "A-1", "12.00", created_at=day)
    b = open_order(db, settings, "B-2", "13.00", created_at=day + timedelta(days=1))
    c = open_order(
        db, settings, "C-3", "14.00", store="other", status="expired", exception="paid_partial"
    )
    d = settle(db, settings, "D-4", 10_000_000, tx_hash=TX)
    client = admin_client(app)

    def ids(**args: str) -> list[str]:
        answer = client.get("/admin/invoices", query_string=args)
        assert answer.status_code == 200, answer.text
        return listed(answer.text)

    assert set(ids()) == {a.id, b.id, c.id, d.id}
    assert ids(store="other") == [c.id]
    assert ids(status="expired") == [c.id]
    assert ids(exception="paid_partial") == [c.id]
    assert set(ids(exception="none")) == {a.id, b.id, d.id}
    assert ids(since="2026-11-03", until="2026-11-03") == [b.id]
    assert ids(until="2026-11-02") == [a.id]
    assert ids(q="B-2") == [b.id]
    assert ids(q=c.id) == [c.id]
    assert ids(q=a.deposit_address.lower()) == [a.id]  # an address, in any case
    assert ids(q=TX.upper().replace("0X", "0x")) == [d.id]  # a payment's tx hash
    assert ids(q="nothing-like-it") == []
    # a bad filter is named and left out, with a 400
    answer = client.get("/admin/invoices", query_string={"status": "paid", "since": "yesterday"})
    assert answer.status_code == 400
    assert "Some filters were not understood" in answer.text
    assert len(listed(answer.text)) == 4


def test_paging_keeps_the_filter(app: Flask, db: Database, settings: Settings) -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    made = [
        open_order(db, settings, f"P-{i}", "1.00", created_at=start + timedelta(hours=i))
        for i in range(27)
    ]
    open_order(db, settings, "X-1", "1.00", store="other")
    client = admin_client(app)
    first = client.get("/admin/invoices?store=shop")
    newest_first = [i.id for i in reversed(made)]
    assert listed(first.text) == newest_first[:25]
    assert "Page 1 of 2" in first.text
    assert 'href="/admin/invoices?page=2&amp;store=shop" rel="next"' in first.text
    second = client.get("/admin/invoices?page=2&store=shop")
    assert listed(second.text) == newest_first[25:]
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    # past the end: the last page
    assert listed(client.get("/admin/invoices?page=9&store=shop").text) == newest_first[25:]


def test_totals_are_exact_for_the_whole_filtered_set(
    app: Flask, db: Database, settings: Settings
) -> None:
    # 30 invoices paid 9.123456789012345678 ETH each: 273.7 ETH in wei overflows 64-bit integers
    wei = 9_123_456_789_012_345_678
    for i in range(30):
        settle(db, settings, f"E-{i}", wei, asset="ETH")
    settle(db, settings, "U-1", 1_000_001)
    settle(db, settings, "U-2", 2_500_000)
    open_order(db, settings, "N-1", "0.10")
    client = admin_client(app)
    html = client.get("/admin/invoices").text
    assert "Totals of the 33 matching invoices" in html
    assert f'data-paid="dev:ETH" data-base-units="{30 * wei}"' in html
    assert "273.70370367037037034 ETH" in html  # 30 * wei / 10^18, exactly
    assert 'data-base-units="3500001">3.500001 USDC' in html
    assert "320.10 USD" in html  # invoiced: 32 * 10.00 + 0.10
    narrowed = client.get("/admin/invoices?q=U-2").text
    assert "Totals of the 1 matching invoices" in narrowed
    assert 'data-base-units="2500000">2.5 USDC' in narrowed and "dev:ETH" not in narrowed


def test_the_invoice_page_links_payments_to_the_explorer(db: Database) -> None:
    settings = admin_settings(explorer_url="https://explorer.example/")
    app = create_app(settings, db)
    invoice = settle(db, settings, "X-1", 10_000_000, tx_hash=TX)
    html = admin_client(app).get(f"/admin/invoices/{invoice.id}").text
    assert f'href="https://explorer.example/tx/{TX}"' in html
    assert f'href="https://explorer.example/address/{invoice.deposit_address}"' in html
    assert "<td data-confirmations>3 / 2</td>" in html  # the dev chain needs 2
    # without explorer_url the hash is plain text
    plain = admin_client(create_app(admin_settings(), db)).get(f"/admin/invoices/{invoice.id}")
    assert f"<code>{TX}</code>" in plain.text and "/tx/" not in plain.text


def test_the_invoice_page_shows_timeline_deliveries_attempts_and_redelivers(
    app: Flask, db: Database, settings: Settings
) -> None:
    invoice = settle(db, settings, "T-1", 10_000_000)
    with db.transaction() as session:
        (delivery,) = session.query(Delivery).filter_by(invoice_id=invoice.id).all()
        delivery.status, delivery.attempts, delivery.last_error = "failed", 2, "HTTP 500: boom"
        at = utcnow()
        delivery.attempt_log.append(
            DeliveryAttempt(at=at, status_code=500, latency_ms=41, error="HTTP 500: boom")
        )
        delivery.attempt_log.append(
            DeliveryAttempt(at=at, status_code=None, latency_ms=3001, error="timed out")
        )
        delivery_id = delivery.id
    client = admin_client(app)
    page = client.get(f"/admin/invoices/{invoice.id}")
    html = page.text
    assert page.status_code == 200
    for text in (
        "Invoice created for 10.00 USD",
        "Payment of 10 USDC seen (block 7)",
        "Event invoice.created",
        "Settled",
        "<td>500</td><td>41 ms</td><td>HTTP 500: boom</td>",
        "<td>—</td><td>3001 ms</td><td>timed out</td>",
        ">Redeliver</button>",
    ):
        assert text in html, text
    timeline = re.findall(r"<li><time [^>]*>[^<]*</time> ([^<]*)</li>", html)
    assert timeline[0] == "Invoice created for 10.00 USD"  # oldest first
    assert timeline.index("Payment of 10 USDC seen (block 7)") < timeline.index("Settled")
    answer = client.post(
        f"/admin/deliveries/{delivery_id}/redeliver",
        data={"csrf_token": csrf_token_of(html), "next": f"/admin/invoices/{invoice.id}"},
    )
    assert (answer.status_code, answer.headers["Location"]) == (
        303,
        f"/admin/invoices/{invoice.id}",
    )
    with db.transaction() as session:
        again = session.get(Delivery, delivery_id)
        assert again is not None and again.status == "pending"
    shown = client.get(f"/admin/invoices/{invoice.id}").text
    assert f"Delivery {delivery_id} is queued to be sent again." in shown
    # `next` elsewhere is not followed
    answer = client.post(
        f"/admin/deliveries/{delivery_id}/redeliver",
        data={"csrf_token": csrf_token_of(html), "next": "https://evil.example/admin"},
    )
    assert answer.headers["Location"] == "/admin/deliveries"
    assert client.get("/admin/invoices/inv_missing").status_code == 404


def test_the_chart_shows_paid_value_per_day_and_asset(
    app: Flask, db: Database, settings: Settings
) -> None:
    today = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    paid = {  # days ago → (USDC base units, ETH wei) settled that day
        0: (25_000_000, 0),
        1: (10_000_000, WEI // 2),
        3: (5_500_000, 0),
        29: (1_000_000, 2 * WEI),
    }
    n = 0
    for ago, (usdc, eth) in paid.items():
        for amount, asset in ((usdc, "USDC"), (eth, "ETH")):
            if amount:
                n += 1
                settle(db, settings, f"C-{n}", amount, asset=asset, at=today - timedelta(days=ago))
    # left out: settled 30 days ago (outside the window), and an expired, part-paid invoice
    settle(db, settings, "OLD", 99_000_000, at=today - timedelta(days=30))
    open_order(
        db,
        settings,
        "PART",
        "5.00",
        status="expired",
        paid_option="dev:USDC",
        paid_base_units=1_000_000,
    )
    html = admin_client(app).get("/admin").text
    svg = re.search(r"<svg class=\"chart-svg\".*?</svg>", html, re.S)
    assert svg is not None
    panels = dict(
        re.findall(
            r'<g class="panel" data-chain="dev" data-asset="(\w+)"(.*?)</g>', svg.group(0), re.S
        )
    )
    assert set(panels) == {"USDC", "ETH"}
    for index, asset in ((0, "USDC"), (1, "ETH")):
        expected = {
            (today - timedelta(days=ago)).date().isoformat(): amounts[index]
            for ago, amounts in paid.items()
            if amounts[index]
        }
        bars = re.findall(
            r'<rect class="bar" x="\d+" y="(\d+)" width="\d+" height="(\d+)" data-day="([\d-]+)"'
            r' data-base-units="(\d+)" data-amount="([\d.]+)"><title>([^<]*)</title>',
            panels[asset],
        )
        assert {day: int(units) for _, _, day, units, _, _ in bars} == expected
        largest = max(expected.values())
        decimals = 6 if asset == "USDC" else 18
        baselines = {int(y) + int(h) for y, h, *_ in bars}
        assert len(baselines) == 1  # every bar stands on the panel's baseline
        for _y, height, day, units, amount, title in bars:
            assert int(height) == max(BAR_AREA * int(units) // largest, 1)
            assert Decimal(amount) == Decimal(int(units)).scaleb(-decimals)
            assert title == f"{day}: {amount} {asset}"
        assert max(int(h) for _, h, *_ in bars) == BAR_AREA
    assert "USDC on Dev: 41.5 in all, highest day 25" in svg.group(0)
    assert "ETH on Dev: 2.5 in all, highest day 2" in svg.group(0)
    # the text alternative: a table with the same numbers, every day of the 30
    table = re.search(r"<table data-chart-table>.*?</table>", html, re.S)
    assert table is not None
    rows = re.findall(
        r'<tr><th scope="row">([\d-]+)</th><td>([\d.]+)</td><td>([\d.]+)</td></tr>', table.group(0)
    )
    assert len(rows) == 30
    heads = re.findall(r'<th scope="col">([^<]*)</th>', table.group(0))
    assert heads == ["Day", "ETH (Dev)", "USDC (Dev)"]
    by_day = {day: (usdc, eth) for day, eth, usdc in rows}
    assert by_day[today.date().isoformat()] == ("25", "0")
    assert by_day[(today - timedelta(days=1)).date().isoformat()] == ("10", "0.5")
    assert by_day[(today - timedelta(days=2)).date().isoformat()] == ("0", "0")
    assert by_day[(today - timedelta(days=29)).date().isoformat()] == ("1", "2")
    assert 'aria-labelledby="chart-title"' in html and '<title id="chart-title">' in html
