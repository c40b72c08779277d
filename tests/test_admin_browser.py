"""The merchant dashboard in headless Chromium (Debian `chromium`, driven by Playwright).

A real relay process with its scheduler, a WooCommerce emulator and anvil with a real ERC-20: the
merchant signs in (a wrong token first), reaches every page by its link, filters the invoices,
redelivers a delivery and sees the new attempt, edits a refund's amount, is refused a form posted
without its CSRF token, uses the dashboard with the keyboard alone, and signs out. axe-core checks
every page; the chart's bar is checked against the invoice paid on chain.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from devkit.devchain import Anvil, transfer_token
from devkit.woocommerce import WooStore
from relay.config import parse_settings
from relay.db import Database
from relay.models import utcnow
from relay.records import RefundRequest
from relay.refunds import request_refunds, submit_address
from tests.accessibility import assert_accessible, tab_to
from tests.conftest import ADMIN_TOKEN, WEBHOOK_SECRET, config_dict, database_url_for
from tests.support import RelayProcess, relay_address, relay_process, wait_for
from tests.test_pay_browser import DESKTOP, browser, decode_qr, open_invoice, option_of

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with the payment page's tests

USDC = 10**6
CUSTOMER = "0x8ba1f109551bD432803012645Ac136ddd64DBA72"
PAGES = {  # link name → the page's heading
    "Invoices": "Invoices",
    "Deliveries": "Deliveries",
    "Refunds": "Refunds",
    "Collect": "Collect",
    "Health": "Health",
}


@pytest.fixture(scope="module")
def store() -> Iterator[WooStore]:
    with WooStore(webhook_delay=0.05) as shop:
        yield shop


@pytest.fixture(scope="module")
def setup(
    chain: Anvil, usdc: str, store: WooStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Start the relay; open two invoices, pay one (12.34 USDC) on chain, refund part of it."""
    tmp = tmp_path_factory.mktemp("relay")
    data = config_dict(
        rpc_url=chain.url,
        token=usdc,
        store_url=store.base_url,
        database_url=database_url_for(tmp),
        confirmations=1,
        **relay_address(),
    )
    data["chains"]["dev"]["explorer_url"] = "https://explorer.example"
    process = relay_process(data, tmp).start()
    store.add_webhook("order.created", f"{process.url}/hooks/shop", WEBHOOK_SECRET)
    paid = open_invoice(process, store, total="12.34")
    other = open_invoice(process, store, total="5.00")
    option = option_of(paid, "USDC")
    tx = transfer_token(chain.w3, usdc, chain.accounts[1], option["address"], 12_340_000)
    wait_for("the settled invoice", lambda: process.invoice(paid["id"])["status"] == "settled")
    settings = parse_settings(data, env={})
    db = Database(data["relay"]["database_url"])
    request = RefundRequest(external_id="wc-refund-1", amount=Decimal("2.00"))
    order_id = str(paid["order"]["id"])
    ((refund, _),) = request_refunds(db, settings, "shop", order_id, [request], utcnow())
    submit_address(db, settings, refund.id, CUSTOMER, False, lambda c, a: b"", utcnow())
    db.dispose()
    yield {"relay": process, "paid": paid, "other": other, "tx": tx, "refund": refund.id}
    process.stop()


@pytest.fixture
def relay(setup: dict[str, Any]) -> RelayProcess:
    process: RelayProcess = setup["relay"]
    return process


@pytest.fixture
def context(browser: Browser, relay: RelayProcess) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=DESKTOP, locale="en-US")
    errors: list[str] = []
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    yield ctx
    ctx.close()
    assert errors == []


def signed_in(context: BrowserContext, relay: RelayProcess) -> Page:
    page = context.new_page()
    page.goto(f"{relay.url}/admin")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    return page


def test_sign_in_every_page_by_its_link_and_sign_out(
    context: BrowserContext, relay: RelayProcess, setup: dict[str, Any]
) -> None:
    page = context.new_page()
    page.goto(f"{relay.url}/admin/health")
    expect(page).to_have_url(re.compile(r"/admin/sign-in\?next=/admin/health$"))
    assert_accessible(page)
    page.get_by_label("Admin token").fill("not-the-admin-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the admin token.")
    expect(page.get_by_label("Admin token")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    page.goto(f"{relay.url}/admin")
    expect(page).to_have_url(re.compile(r"/admin/sign-in"))  # still signed out
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    assert_accessible(page)
    nav = page.get_by_role("navigation", name="Dashboard")
    for link, heading in PAGES.items():
        nav.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(nav.get_by_role("link", name=link, exact=True)).to_have_attribute(
            "aria-current", "page"
        )
        assert_accessible(page)
    expect(page.locator("[data-chain=dev] [data-cursor]")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("[data-chain=dev] [data-lag]")).to_have_text(re.compile(r"^\d+$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(f"{relay.url}/admin/invoices")
    expect(page).to_have_url(re.compile(r"/admin/sign-in"))


def test_filter_open_an_invoice_and_redeliver(
    context: BrowserContext, relay: RelayProcess, setup: dict[str, Any]
) -> None:
    page = signed_in(context, relay)
    page.get_by_role("link", name="Invoices", exact=True).click()
    rows = page.locator("[data-invoices] tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Search").fill(setup["tx"])  # the payment's tx hash finds its invoice
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-invoice", setup["paid"]["id"])
    expect(page.locator('[data-paid="dev:USDC"]')).to_have_text("12.34 USDC")
    page.get_by_label("Status").select_option("new")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(0)
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Status").select_option("new")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-invoice", setup["other"]["id"])
    page.get_by_label("Status").select_option("settled")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=setup["paid"]["id"]).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Invoice {setup['paid']['id']}")
    tx_link = page.get_by_role("link", name=setup["tx"])
    expect(tx_link).to_have_attribute("href", f"https://explorer.example/tx/{setup['tx']}")
    expect(page.locator("[data-confirmations]")).to_have_text(re.compile(r"^\d+ / 1$"))
    assert_accessible(page)
    delivery = page.locator("[data-delivery]").first
    attempts = delivery.locator("[data-attempt]")
    wait_for("the first attempt", lambda: _reloaded(page) and attempts.count() >= 1)
    before = attempts.count()
    delivery.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("status")).to_contain_text("is queued to be sent again")
    wait_for("the new attempt", lambda: _reloaded(page) and attempts.count() > before)
    expect(attempts.last.locator("td").nth(1)).to_have_text("200")


def _reloaded(page: Page) -> bool:
    page.reload()
    return True


def test_a_refund_amount_is_edited(
    context: BrowserContext, relay: RelayProcess, setup: dict[str, Any]
) -> None:
    page = signed_in(context, relay)
    page.get_by_role("link", name="Refunds", exact=True).click()
    page.get_by_role("link", name=setup["refund"]).click()
    amount = page.locator("[data-amount]")
    expect(amount).to_have_attribute("data-base-units", "2000000")
    assert_accessible(page)
    page.get_by_label("Amount to pay").fill("1.5000001")
    page.get_by_role("button", name="Save amount").click()
    expect(page.get_by_role("alert")).to_have_text(
        "This asset has 6 decimal places; the amount has more."
    )
    assert_accessible(page)
    page.get_by_label("Amount to pay").fill("1750000")
    page.get_by_label("base units").check()
    page.get_by_role("button", name="Save amount").click()
    expect(page.get_by_role("status")).to_have_text("The refund amount is saved.")
    expect(amount).to_have_attribute("data-base-units", "1750000")
    uri = page.locator("[data-uri]").get_attribute("href")
    assert uri is not None and uri.endswith(f"address={CUSTOMER}&uint256=175e4")
    assert decode_qr(page) == uri  # the phone wallet's QR code pays the new amount


def test_a_form_without_its_csrf_token_is_refused(
    context: BrowserContext, relay: RelayProcess, setup: dict[str, Any]
) -> None:
    page = signed_in(context, relay)
    page.get_by_role("link", name="Deliveries", exact=True).click()
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    page.get_by_role("button", name="Redeliver").first.click()
    expect(page.get_by_role("alert")).to_have_text(
        "The form had expired. Reload the page and try again."
    )
    assert_accessible(page)
    page.get_by_role("link", name="Back to the dashboard").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()  # still in


def test_the_chart_shows_the_invoice_paid_on_chain(
    context: BrowserContext, relay: RelayProcess, setup: dict[str, Any]
) -> None:
    page = signed_in(context, relay)
    bars = page.locator('svg[data-chart] g[data-asset="USDC"] rect.bar')
    expect(bars).to_have_count(1)
    paid = setup["relay"].invoice(setup["paid"]["id"])
    day = paid["created_at"][:10]
    expect(bars.first).to_have_attribute("data-day", day)
    expect(bars.first).to_have_attribute("data-base-units", "12340000")
    expect(bars.first).to_have_attribute("height", "100")  # the only day: the tallest bar
    box = bars.first.bounding_box()
    assert box is not None and box["height"] > 20  # drawn, and tall
    page.get_by_text("Show the numbers as a table").click()
    expect(page.locator("[data-chart-table] tr", has_text=day).locator("td")).to_have_text("12.34")


def test_keyboard_alone_signs_in_and_reaches_the_pages(
    context: BrowserContext, relay: RelayProcess, setup: dict[str, Any]
) -> None:
    page = context.new_page()
    page.goto(f"{relay.url}/admin/sign-in")
    focused = []
    for _ in range(8):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent")
        )
        if focused[-1] == "token":
            break
    assert focused[0] == "Skip to content"
    assert focused[-1] == "token"
    page.keyboard.type(ADMIN_TOKEN)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    tab_to(page, "Refunds")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Refunds", level=1)).to_be_visible()
    # the skip link takes the keyboard past the bar to the page's content
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    first_in_main = page.evaluate("document.activeElement.closest('main') !== null")
    assert first_in_main
