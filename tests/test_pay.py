"""`GET /pay/<token>` and its status.json, server-rendered (no JavaScript), in every state.

Invoices are opened and paid through relay.invoices (the real state machine); a payment's
confirmations are set as the watcher would set them. The browser tests are in test_pay_browser.py.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from datetime import datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer

from relay.config import parse_settings
from relay.db import Database
from relay.invoices import load_invoice, open_invoice, record_transfer, refresh_invoice
from relay.links import PAY_SALT, payment_token
from relay.models import Invoice, utcnow
from relay.pricing import Rates
from relay.records import ObservedTransfer, OrderData
from relay.settings import Settings
from relay.web.app import create_app
from relay.web.display import countdown
from tests.conftest import SECRET_KEY, config_dict

PARSER = Path(__file__).resolve().parent / "js" / "parse_eip681.js"
TOKEN = "0x" + "11" * 20
USDC = 10**6
ORDER_IDS = itertools.count(1000)
TX_IDS = itertools.count(1)


def parse_uris(uris: list[str]) -> list[dict[str, Any]]:
    """Parse EIP-681 URIs with npm eth-url-parser (tests/js/parse_eip681.js)."""
    done = subprocess.run(
        ["node", str(PARSER)], input=json.dumps(uris), capture_output=True, text=True, check=True
    )
    parsed: list[dict[str, Any]] = json.loads(done.stdout)
    return parsed


class Page(HTMLParser):
    """The parts of a rendered page the tests look at: texts by selector-like keys, links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.links: dict[str, str] = {}  # link text → href
        self.attrs_by_id: dict[str, dict[str, str]] = {}
        self.text: list[str] = []
        self._link: str | None = None
        self._link_text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.attrs_by_id[values["id"]] = values
        if tag == "a":
            self._link, self._link_text = values.get("href", ""), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.links[" ".join(self._link_text.split())] = self._link
            self._link = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._link is not None:
            self._link_text += data

    @property
    def plain(self) -> str:
        """Return the page's text with whitespace collapsed."""
        return " ".join(" ".join(self.text).split())


@pytest.fixture
def settings() -> Settings:
    return parse_settings(config_dict(confirmations=2, expiry_minutes=30), env={})


@pytest.fixture
def client(settings: Settings, db: Database) -> FlaskClient:
    return create_app(settings, db).test_client()


def open_order(
    db: Database, settings: Settings, *, total: str = "44.98", minutes_ago: float = 0
) -> Invoice:
    """Open an invoice for a new order, as if it had been opened `minutes_ago`."""
    order_id = str(next(ORDER_IDS))
    order = OrderData(
        store="shop",
        order_id=order_id,
        currency="USD",
        total=Decimal(total),
        order_number=f"N-{order_id}",
        order_key="wc_order_k3y",
    )
    return open_invoice(
        db, settings, order, utcnow() - timedelta(minutes=minutes_ago), Rates(settings)
    )[0]


def pay(
    db: Database,
    settings: Settings,
    invoice: Invoice,
    amount: int,
    *,
    asset: str = "USDC",
    confirmations: int = 1,
    minutes_ago: float = 0,
) -> None:
    """Record a transfer mined `minutes_ago`; apply the state machine as the watcher did then."""
    now = utcnow() - timedelta(minutes=minutes_ago)
    with db.transaction() as session:
        loaded = load_invoice(session, invoice.id)
        assert loaded is not None
        transfer = ObservedTransfer(
            chain="dev",
            asset=asset,
            tx_hash="0x" + f"{next(TX_IDS):064x}",
            log_index=0 if asset == "USDC" else -1,
            from_address="0x" + "22" * 20,
            to_address=loaded.deposit_address,
            amount=amount,
            block_number=100,
            block_hash="0x" + "ab" * 32,
            block_time=now,
        )
        payment = record_transfer(session, settings, loaded, transfer, now)
        assert payment is not None
        payment.confirmations = confirmations
        payment.confirmed = confirmations >= settings.chains["dev"].confirmations
        refresh_invoice(session, settings, loaded, now)


def confirm(db: Database, settings: Settings, invoice: Invoice, now: datetime) -> None:
    """Give every payment enough confirmations and apply the state machine at `now`."""
    with db.transaction() as session:
        loaded = load_invoice(session, invoice.id)
        assert loaded is not None
        for payment in loaded.payments:
            payment.confirmations, payment.confirmed = 5, True
        refresh_invoice(session, settings, loaded, now)


def page_of(client: FlaskClient, invoice: Invoice, query: str = "", **headers: str) -> Page:
    answer = client.get(f"/pay/{payment_token(SECRET_KEY, invoice.id)}{query}", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["Referrer-Policy"] == "no-referrer"  # the token stays on this page
    return Page(answer.get_data(as_text=True))


def status_of(client: FlaskClient, invoice: Invoice) -> dict[str, Any]:
    answer = client.get(f"/pay/{payment_token(SECRET_KEY, invoice.id)}/status.json")
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json  # type: ignore[assignment]
    return data


def test_tampered_foreign_and_unknown_tokens_are_the_same_plain_404(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    invoice = open_order(db, settings)
    token = payment_token(SECRET_KEY, invoice.id)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    foreign = URLSafeSerializer("another-relay-key", salt=PAY_SALT).dumps(invoice.id)
    unknown = payment_token(SECRET_KEY, "inv_doesnotexist")
    answers = [client.get(f"/pay/{t}") for t in (tampered, foreign, unknown, "x")]
    assert [a.status_code for a in answers] == [404] * 4
    assert len({a.data for a in answers}) == 1  # nothing tells a valid id from an invalid one
    assert b"Payment link not valid" in answers[0].data
    assert invoice.deposit_address.encode() not in answers[0].data
    assert client.get(f"/pay/{tampered}/status.json").status_code == 404
    assert client.get(f"/pay/{token}").status_code == 200


def test_waiting_page_shows_the_chosen_option_without_javascript(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    invoice = open_order(db, settings)
    usdc, eth = invoice.options
    page = page_of(client, invoice)
    assert "Waiting for your payment" in page.plain
    assert page.attrs_by_id["pay"]["data-screen"] == "waiting"
    assert "44.98 USDC" in page.plain and invoice.deposit_address in page.plain
    assert page.links["Open in wallet"] == usdc.uri
    assert page.links["USDC on Dev"].endswith("?option=dev:USDC")
    assert '<meta http-equiv="refresh"' in page.html.split("<noscript>", 1)[1]
    assert re.search(r"<svg [^>]*class=\"qr\"", page.html)
    assert "<title>QR code: pay 44.98 USDC on Dev</title>" in page.html

    chosen = page_of(client, invoice, "?option=dev:ETH")
    assert chosen.links["Open in wallet"] == eth.uri
    assert f"{Decimal(eth.amount_base_units).scaleb(-18).normalize()} ETH" in chosen.plain
    assert "Token contract" not in chosen.plain
    # an unknown option falls back to the first
    assert page_of(client, invoice, "?option=dev:DOGE").links["Open in wallet"] == usdc.uri

    token_uri, native_uri = parse_uris([usdc.uri, eth.uri])
    assert token_uri["target_address"] == TOKEN and token_uri["function_name"] == "transfer"
    assert token_uri["parameters"] == {"address": invoice.deposit_address, "uint256": "44980000"}
    assert (native_uri["target_address"], native_uri["chain_id"]) == (
        invoice.deposit_address,
        "31337",
    )
    assert native_uri["parameters"] == {"value": str(eth.amount_base_units)}


def test_language_follows_accept_language(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    invoice = open_order(db, settings, total="1234.5")
    german = page_of(client, invoice, **{"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"})
    assert '<html lang="de">' in german.html
    assert "Wir warten auf Ihre Zahlung" in german.plain and "1.234,50 $" in german.plain
    assert "In Wallet öffnen" in german.links
    french = page_of(client, invoice, **{"Accept-Language": "fr-FR,fr;q=0.9"})
    assert '<html lang="fr">' in french.html and "1 234,50 $US" in french.plain
    english = page_of(client, invoice, **{"Accept-Language": "ja-JP,ja;q=0.9"})
    assert '<html lang="en">' in english.html and "$1,234.50" in english.plain
    chosen = page_of(client, invoice, "?lang=de", **{"Accept-Language": "en"})
    assert "Wir warten auf Ihre Zahlung" in chosen.plain
    assert chosen.links["ETH auf Dev"].endswith("?option=dev:ETH&lang=de")  # the choice is kept
    brazil = page_of(client, invoice, "?lang=pt-BR", **{"Accept-Language": "de"})
    assert '<html lang="pt-BR">' in brazil.html and "Aguardando seu pagamento" in brazil.plain
    assert brazil.links["ETH na Dev"].endswith("?option=dev:ETH&lang=pt-BR")


def test_countdown_is_written_as_minutes_and_seconds() -> None:
    assert [countdown(s) for s in (-5, 59, 61, 3600 + 61)] == ["0:00", "0:59", "1:01", "1:01:01"]


def test_partial_payment_asks_for_the_rest_of_the_same_asset(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    invoice = open_order(db, settings)
    pay(db, settings, invoice, 20 * USDC)
    page = page_of(client, invoice, "?option=dev:ETH")  # USDC is fixed now: ETH is not offered
    assert page.attrs_by_id["pay"]["data-screen"] == "partial"
    assert "We received 20 USDC of 44.98 USDC. Send the remaining 24.98 USDC" in page.plain
    (parsed,) = parse_uris([page.links["Open in wallet"]])
    assert parsed["parameters"] == {"address": invoice.deposit_address, "uint256": "24980000"}
    assert "ETH on Dev" not in page.links and "Time left" in page.plain
    status = status_of(client, invoice)
    assert (status["screen"], status["paid_amount"], status["remaining_amount"]) == (
        "partial",
        "20",
        "24.98",
    )


def test_confirming_then_paid_with_a_link_to_the_order(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    invoice = open_order(db, settings)
    before = status_of(client, invoice)
    assert before["screen"] == "waiting" and before["poll"] is True
    assert [o["required_confirmations"] for o in before["options"]] == [2, 2]
    assert before["paid_amount"] is None and before["confirmations"] == 0

    pay(db, settings, invoice, 44_980_000, confirmations=1)
    page = page_of(client, invoice)
    assert page.attrs_by_id["pay"]["data-screen"] == "confirming"
    assert "1 of 2 confirmations" in page.plain and "Open in wallet" not in page.links
    status = status_of(client, invoice)
    assert (status["screen"], status["confirmations"], status["required_confirmations"]) == (
        "confirming",
        1,
        2,
    )
    assert status["page_key"] != before["page_key"]

    confirm(db, settings, invoice, utcnow())
    paid = page_of(client, invoice)
    assert "Paid. Thank you!" in paid.plain and "44.98 USDC is confirmed" in paid.plain
    order_url = f"http://127.0.0.1:9/checkout/order-received/{invoice.order_id}/?key=wc_order_k3y"
    assert paid.links["View your order"] == order_url
    assert status_of(client, invoice)["order_url"] == order_url
    assert status_of(client, invoice)["poll"] is False
    assert "<noscript><meta" not in paid.html  # a final page stops refreshing itself


def test_overpayment_is_paid_with_a_note(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    invoice = open_order(db, settings)
    pay(db, settings, invoice, 50 * USDC, confirmations=2)
    page = page_of(client, invoice)
    assert "Paid. Thank you!" in page.plain
    assert "You sent 50 USDC, more than the 44.98 USDC due" in page.plain


def test_expired_invoices_stop_asking_for_payment(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    # 40 minutes ago: expired 10 minutes ago, still watched for 50 minutes
    watched = open_order(db, settings, minutes_ago=40)
    page = page_of(client, watched)  # not swept yet: already shown as expired
    assert page.attrs_by_id["pay"]["data-screen"] == "expired"
    assert "Open in wallet" not in page.links and "qr" not in page.html.split("<main", 1)[1]
    assert "keep this page open" in page.plain
    assert status_of(client, watched)["poll"] is True

    # 2 hours ago with 20 USDC paid in time: the monitoring window has closed too
    closed = open_order(db, settings, minutes_ago=120)
    pay(db, settings, closed, 20 * USDC, confirmations=5, minutes_ago=110)
    confirm(db, settings, closed, utcnow())
    page = page_of(client, closed)
    assert "This invoice has expired" in page.plain
    assert "We received 20 USDC of 44.98 USDC before the invoice expired" in page.plain
    assert "keep this page open" not in page.plain
    assert status_of(client, closed)["poll"] is False


def test_paid_late_and_invalid(client: FlaskClient, db: Database, settings: Settings) -> None:
    late = open_order(db, settings, minutes_ago=40)
    pay(db, settings, late, 44_980_000, confirmations=5)  # 10 minutes after expiry
    page = page_of(client, late)
    assert "Paid. Thank you!" in page.plain
    assert "arrived after the invoice had expired" in page.plain

    invalid = open_order(db, settings, minutes_ago=120)
    pay(db, settings, invalid, 44_980_000, confirmations=1, minutes_ago=110)  # never confirmed
    assert page_of(client, invalid).attrs_by_id["pay"]["data-screen"] == "confirming"
    with db.transaction() as session:  # the watcher's next look, after the monitoring window
        loaded = load_invoice(session, invalid.id)
        assert loaded is not None
        refresh_invoice(session, settings, loaded, utcnow())
        assert loaded.status == "invalid"
    page = page_of(client, invalid)
    assert page.attrs_by_id["pay"]["data-screen"] == "invalid"
    assert f"mention order {invalid.order_number}" in page.plain
    assert page.links["View your order"].startswith("http://127.0.0.1:9/checkout/order-received/")


def test_a_payment_in_another_asset_is_reported(
    client: FlaskClient, db: Database, settings: Settings
) -> None:
    invoice = open_order(db, settings)
    pay(db, settings, invoice, 10 * USDC)
    pay(db, settings, invoice, 10**15, asset="ETH")
    page = page_of(client, invoice)
    assert "We also received 0.001 ETH, which this invoice no longer accepts" in page.plain
    assert "Send the remaining 34.98 USDC" in page.plain


def test_static_files_are_served(client: FlaskClient) -> None:
    for name, kind, text in (
        ("pay.js", "javascript", b"page_key"),
        ("wallet.js", "javascript", b"eth_sendTransaction"),
        ("pay.css", "css", b".qr"),
    ):
        answer = client.get(f"/pay/static/{name}")
        assert answer.status_code == 200 and kind in answer.content_type
        assert text in answer.data
        answer.close()
