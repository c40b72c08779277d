"""The refund page in headless Chromium: axe-core in every state, the form by keyboard alone.

The relay's web app is served over real HTTP (werkzeug, in a thread) on a database whose refunds
are opened through relay.refunds and put in each state as the refund watcher would. (The
payment page's states are checked in test_pay_browser.py and test_pay_wallet.py; its
link-not-valid page here.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from relay.db import Database
from relay.links import refund_token
from relay.settings import Settings
from relay.web.app import create_app
from tests import test_pay, test_pay_browser
from tests.accessibility import assert_accessible
from tests.conftest import SECRET_KEY
from tests.test_languages import open_paid, refund_in
from tests.test_pay_browser import PHONE, UI_TIMEOUT_MS, screenshot

browser, settings = test_pay_browser.browser, test_pay.settings  # their fixtures, here too
STATES = ("awaiting_address", "awaiting_payment", "confirming", "refunded", "cancelled")


@pytest.fixture
def site(settings: Settings, db: Database) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(settings, db), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport=PHONE, locale="en-US")
    ctx.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []  # script errors, CSP violations, a stylesheet that did not load
    ctx.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    ctx.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    yield ctx.new_page()
    ctx.close()
    assert errors == []


def test_every_refund_page_passes_axe(
    site: str,
    page: Page,
    db: Database,
    settings: Settings,
) -> None:
    invoice = open_paid(db, settings)
    for status in STATES:
        token = refund_token(SECRET_KEY, refund_in(db, settings, invoice, status))
        for lang in ("en", "zh-Hans"):
            page.goto(f"{site}/refund/{token}?lang={lang}")
            expect(page.locator("main")).to_have_attribute("data-status", status)
            assert_accessible(page, f"refund page {status} ({lang})")
    for path in ("/refund/not-a-token", "/pay/not-a-token"):  # the link-not-valid pages
        page.goto(f"{site}{path}")
        assert_accessible(page, path)


def test_the_refund_form_works_with_the_keyboard_alone(
    site: str,
    page: Page,
    db: Database,
    settings: Settings,
) -> None:
    token = refund_token(
        SECRET_KEY, refund_in(db, settings, open_paid(db, settings), "awaiting_address")
    )
    page.goto(f"{site}/refund/{token}")
    for _ in range(20):  # Tab to the address field
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "address":
            break
    page.keyboard.type("0x1234")
    page.keyboard.press("Enter")  # submits the form
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This is not an Ethereum address")
    expect(page.locator("#address")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#address")).to_have_value("0x1234")
    assert_accessible(page, "refund form with an error")
    screenshot(page, "refund-phone-error")
