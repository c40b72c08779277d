"""The payment page in headless Chromium (Debian `chromium`, driven by Playwright).

A real relay process, a WooCommerce emulator and anvil with a real ERC-20: the customer opens the
link the store sent, sees the amount and address, copies them, scans the QR code (decoded back
from the rendered page with zxing-cpp), pays on chain and watches the page move to paid without a
reload. Screenshots at phone (390 by 844) and desktop widths go to `artifacts/` (git-ignored);
the page at each screenshot is checked by axe-core too (tests/accessibility.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from devkit.devchain import Anvil, transfer_token
from devkit.woocommerce import WooStore
from tests.accessibility import assert_accessible, tab_to
from tests.conftest import WEBHOOK_SECRET, config_dict, database_url_for
from tests.support import RelayProcess, relay_address, relay_process, wait_for
from tests.test_pay import parse_uris

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=900)
CONFIRMATIONS = 3
UI_TIMEOUT_MS = 20_000
USDC = 10**6


@pytest.fixture(scope="module")
def store() -> Iterator[WooStore]:
    with WooStore(webhook_delay=0.05) as shop:
        yield shop


@pytest.fixture(scope="module")
def relay(
    chain: Anvil, usdc: str, store: WooStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RelayProcess]:
    tmp = tmp_path_factory.mktemp("relay")
    data = config_dict(
        rpc_url=chain.url,
        token=usdc,
        store_url=store.base_url,
        database_url=database_url_for(tmp),
        confirmations=CONFIRMATIONS,
        **relay_address(),
    )
    shop = data["stores"]["shop"]
    # "late" expires after 3 s and keeps watching for a minute; "brief" stops watching after 9 s
    data["stores"]["late"] = dict(
        shop, invoice_expiry_minutes=0.05, monitoring_minutes=1, payment_methods=["latepay"]
    )
    data["stores"]["brief"] = dict(
        shop, invoice_expiry_minutes=0.1, monitoring_minutes=0.05, payment_methods=["briefpay"]
    )
    process = relay_process(data, tmp).start()
    for name in ("shop", "late", "brief"):
        store.add_webhook("order.created", f"{process.url}/hooks/{name}", WEBHOOK_SECRET)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    expect.set_options(timeout=UI_TIMEOUT_MS)  # polls every 3 s; the watcher every 0.5 s
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, relay: RelayProcess) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=PHONE, locale="en-US", device_scale_factor=2)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=relay.url)
    ctx.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []  # script errors and Content-Security-Policy violations
    ctx.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    yield ctx
    ctx.close()
    assert errors == []


def open_invoice(
    relay: RelayProcess, store: WooStore, total: str, method: str = "cheque", name: str = "shop"
) -> dict[str, Any]:
    """Place an order in the store and return the relay's invoice JSON for it."""
    order = store.create_order(total=total, currency="USD", payment_method=method)
    invoice: dict[str, Any] = wait_for(
        "the invoice", lambda: relay.invoice_for(order["id"], store=name)
    )
    invoice["order"] = order
    return invoice


def option_of(invoice: dict[str, Any], asset: str) -> dict[str, Any]:
    option: dict[str, Any] = next(o for o in invoice["options"] if o["asset"] == asset)
    return option


def decode_qr(page: Page) -> str:
    """Decode the QR code as Chromium drew it on the page."""
    png = page.locator("svg.qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(BytesIO(png)).convert("L"))
    assert len(found) == 1, f"expected one QR code, found {len(found)}"
    text: str = found[0].text
    return text


def seconds_of(countdown: str) -> int:
    parts = [int(p) for p in countdown.split(":")]
    return sum(value * 60**power for power, value in enumerate(reversed(parts)))


def screenshot(page: Page, name: str, check: bool = True) -> None:
    """Save the page as it is now, and check it with axe-core (no serious or critical finding)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if check:
        assert_accessible(page, name)


def test_page_shows_the_amount_address_and_qr_and_copies(
    relay: RelayProcess, store: WooStore, context: BrowserContext, usdc: str
) -> None:
    invoice = open_invoice(relay, store, total="44.98")
    usdc_option, eth_option = option_of(invoice, "USDC"), option_of(invoice, "ETH")
    page = context.new_page()
    page.goto(invoice["payment_url"])

    expect(page.locator("[data-amount]")).to_have_text("44.98")
    expect(page.locator("[data-address]")).to_have_text(usdc_option["address"])
    expect(page.locator("a.wallet")).to_have_attribute("href", usdc_option["uri"])
    assert decode_qr(page) == usdc_option["uri"]
    (parsed,) = parse_uris([usdc_option["uri"]])
    assert parsed == {
        "scheme": "ethereum",
        "target_address": usdc,
        "chain_id": "31337",
        "function_name": "transfer",
        "parameters": {"address": usdc_option["address"], "uint256": "44980000"},
    }

    # copy the address and the amount to the clipboard
    copy_address = page.get_by_role("button", name="Copy address")
    copy_address.click()
    expect(page.locator("#copy-address")).to_have_text("Copied")  # its name says so too
    assert page.evaluate("navigator.clipboard.readText()") == usdc_option["address"]
    tab_to(page, "Copy amount")  # by keyboard alone
    page.keyboard.press("Enter")
    assert page.evaluate("navigator.clipboard.readText()") == "44.98"

    # the countdown runs
    clock = page.locator("[data-countdown]")
    first = seconds_of(clock.inner_text())
    assert 29 * 60 < first <= 30 * 60  # the shop's invoices run 30 minutes
    page.wait_for_function(
        "first => document.querySelector('[data-countdown]').textContent !== first",
        arg=clock.inner_text(),
    )
    assert seconds_of(clock.inner_text()) < first
    screenshot(page, "pay-phone-waiting")

    # choose ETH: the page swaps in place and the URL says which option
    page.get_by_role("link", name="ETH on Dev").click()
    expect(page.locator("[data-option-shown]")).to_have_attribute("data-option-shown", "dev:ETH")
    assert page.url.endswith("?option=dev:ETH")
    expect(page.locator("[data-amount]")).to_have_text(eth_option["amount"])
    expect(page.get_by_role("link", name="ETH on Dev")).to_have_attribute("aria-current", "true")
    assert decode_qr(page) == eth_option["uri"]
    (parsed,) = parse_uris([eth_option["uri"]])
    assert parsed["target_address"] == eth_option["address"]
    assert parsed["parameters"] == {"value": eth_option["amount_base_units"]}
    page.set_viewport_size(DESKTOP)
    screenshot(page, "pay-desktop-waiting-eth")


def test_page_speaks_german_and_works_without_javascript(
    relay: RelayProcess, store: WooStore, browser: Browser
) -> None:
    invoice = open_invoice(relay, store, total="1234.50")
    eth_option = option_of(invoice, "ETH")
    ctx = browser.new_context(viewport=PHONE, locale="de-DE", java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(invoice["payment_url"])
        expect(page.locator("html")).to_have_attribute("lang", "de")
        expect(page.get_by_role("heading", level=2).first).to_have_text(
            "Wir warten auf Ihre Zahlung"
        )
        expect(page.locator(".total strong")).to_have_text("1.234,50\u00a0$")  # Babel's de
        expect(page.locator("button.copy").first).to_be_hidden()  # copying needs JavaScript
        # without JavaScript the page reloads itself (<noscript> refresh) under axe-core's feet;
        # the same markup is checked with JavaScript in the other tests
        screenshot(page, "pay-phone-german-nojs", check=False)
        page.get_by_role("link", name="ETH auf Dev").click()  # a plain link without JavaScript
        page.wait_for_url(re.compile(r"\?option=dev:ETH$"))
        expect(page.locator("[data-amount]")).to_have_text(eth_option["amount"])
        expect(page.locator("a.wallet")).to_have_attribute("href", eth_option["uri"])
    finally:
        ctx.close()


def test_paying_on_chain_moves_the_page_to_paid_without_reload(
    relay: RelayProcess, store: WooStore, context: BrowserContext, chain: Anvil, usdc: str
) -> None:
    invoice = open_invoice(relay, store, total="44.98")
    option = option_of(invoice, "USDC")
    page = context.new_page()
    page.set_viewport_size(DESKTOP)
    page.goto(invoice["payment_url"])
    expect(page.locator("main")).to_have_attribute("data-screen", "waiting")
    page.evaluate("window.notReloaded = true")
    chain.set_interval_mining(0)  # from here on, a block per transaction and per mine()
    try:
        transfer_token(chain.w3, usdc, chain.accounts[1], option["address"], 20 * USDC)
        expect(page.locator("main")).to_have_attribute("data-screen", "partial")
        expect(page.locator(".status")).to_contain_text(
            "We received 20 USDC of 44.98 USDC. Send the remaining 24.98 USDC"
        )
        remaining_uri = option["uri"].replace("uint256=4498e4", "uint256=2498e4")
        expect(page.locator("a.wallet")).to_have_attribute("href", remaining_uri)
        assert decode_qr(page) == remaining_uri
        expect(page.locator("nav.options")).to_have_count(0)  # the first payment fixed USDC
        screenshot(page, "pay-desktop-partial")

        transfer_token(chain.w3, usdc, chain.accounts[1], option["address"], 2498 * USDC // 100)
        expect(page.locator("main")).to_have_attribute("data-screen", "confirming")
        expect(page.locator("[data-confirmations]")).to_have_text(
            f"1 of {CONFIRMATIONS} confirmations"
        )
        expect(page.locator("a.wallet")).to_have_count(0)
        screenshot(page, "pay-desktop-confirming")
        chain.mine(CONFIRMATIONS - 1)
    finally:
        chain.set_interval_mining(1)
    expect(page.locator("main")).to_have_attribute("data-screen", "paid")
    expect(page.get_by_role("heading", name="Paid. Thank you!")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    order = invoice["order"]
    expect(page.get_by_role("link", name="View your order")).to_have_attribute(
        "href",
        f"{store.base_url}/checkout/order-received/{order['id']}/?key={order['order_key']}",
    )
    screenshot(page, "pay-desktop-paid")
    page.set_viewport_size(PHONE)
    screenshot(page, "pay-phone-paid")


def test_expired_late_and_invalid_screens(
    relay: RelayProcess, store: WooStore, context: BrowserContext, chain: Anvil, usdc: str
) -> None:
    chain.set_interval_mining(0)  # the brief invoice's payment must stay unconfirmed
    try:
        brief = open_invoice(relay, store, total="6.00", method="briefpay", name="brief")
        brief_address = option_of(brief, "USDC")["address"]
        transfer_token(chain.w3, usdc, chain.accounts[1], brief_address, 6 * USDC)
        late = open_invoice(relay, store, total="5.00", method="latepay", name="late")
        late_page, brief_page = context.new_page(), context.new_page()
        late_page.goto(late["payment_url"])
        late_page.evaluate("window.notReloaded = true")  # open longer than <noscript>'s refresh
        brief_page.goto(brief["payment_url"])
        expect(brief_page.locator("main")).to_have_attribute("data-screen", "confirming")
        # when the countdown ends the page stops asking for a payment, before the sweeper runs
        expect(late_page.locator("main")).to_have_attribute("data-screen", "expired")
        # the sweeper expires the invoice once a block after its expiry time has been scanned;
        # block times are whole seconds, so mine one a second after expiry
        expires_at = datetime.fromisoformat(late["expires_at"].replace("Z", "+00:00"))
        time.sleep(max((expires_at - datetime.now(UTC)).total_seconds() + 2, 0))
        chain.mine(1)
        wait_for("the sweeper", lambda: relay.invoice(late["id"])["status"] == "expired")
        expect(late_page.get_by_role("heading", name="This invoice has expired")).to_be_visible()
        expect(late_page.locator("a.wallet")).to_have_count(0)  # no invitation to pay
        expect(late_page.locator(".status")).to_contain_text("keep this page open")
        screenshot(late_page, "pay-phone-expired")

        # the brief invoice's monitoring window ends with its payment unconfirmed
        expect(brief_page.locator("main")).to_have_attribute("data-screen", "invalid")
        expect(brief_page.locator(".status")).to_contain_text("not confirmed in time")
        screenshot(brief_page, "pay-phone-invalid")

        # the late invoice is paid in full after expiry, within its monitoring window
        late_address = option_of(late, "USDC")["address"]
        transfer_token(chain.w3, usdc, chain.accounts[1], late_address, 5 * USDC)
        expect(late_page.locator("main")).to_have_attribute("data-screen", "confirming")
        chain.mine(CONFIRMATIONS - 1)
    finally:
        chain.set_interval_mining(1)
    expect(late_page.locator("main")).to_have_attribute("data-screen", "paid")
    expect(late_page.locator(".status")).to_contain_text("arrived after the invoice had expired")
    assert late_page.evaluate("window.notReloaded") is True
    screenshot(late_page, "pay-phone-paid-late")
