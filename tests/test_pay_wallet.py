"""The payment page's "Pay with browser wallet" button (static/wallet.js), in headless Chromium.

A test EIP-1193 provider is put into the page before its scripts run (Playwright
`add_init_script`); it answers `eth_requestAccounts` with a funded dev account,
`wallet_switchEthereumChain` with null when anvil's chain id is asked for (else 4902), and
forwards every other request to anvil's JSON-RPC through an exposed function (the page's CSP lets
it reach only its own origin), where the dev accounts are unlocked: the button's own
eth_sendTransaction is mined and the relay settles the invoice as for any transfer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from devkit.devchain import Anvil
from devkit.woocommerce import WooStore
from tests import test_pay_browser
from tests.accessibility import assert_accessible, tab_to
from tests.support import RelayProcess
from tests.test_pay_browser import PHONE, UI_TIMEOUT_MS, open_invoice, option_of, screenshot

# the payment page's browser tests' relay, store and Chromium, one of each for this module too
browser, relay, store = test_pay_browser.browser, test_pay_browser.relay, test_pay_browser.store

# An EIP-1193 provider for tests; OPTIONS: {account, announce (EIP-6963 name or null), reject}.
PROVIDER = """
(() => {
  const options = OPTIONS;
  window.walletLog = [];
  const fail = (code, message) => Object.assign(new Error(message), { code });
  const provider = {
    async request({ method, params }) {
      window.walletLog.push({ method, params });
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [options.account];
      if (method === "eth_sendTransaction" && options.reject) {
        throw fail(4001, "User rejected the request.");
      }
      if (method === "wallet_switchEthereumChain") {
        const id = await window.anvilRpc("eth_chainId", []);
        if (parseInt(params[0].chainId, 16) === parseInt(id.result, 16)) return null;
        throw fail(4902, "Unrecognized chain ID");
      }
      const answer = await window.anvilRpc(method, params || []);
      if (answer.error) throw fail(answer.error.code, answer.error.message);
      return answer.result;
    },
    on() {},
    removeListener() {},
  };
  if (options.announce) {
    const detail = Object.freeze({
      info: { uuid: crypto.randomUUID(), name: options.announce, rdns: "org.example.wallet",
              icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E" },
      provider,
    });
    const announce = () =>
      window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
    window.addEventListener("eip6963:requestProvider", announce);
    announce();
  } else {
    window.ethereum = provider;
  }
})();
"""


@pytest.fixture
def wallet_context(browser: Browser, relay: RelayProcess, chain: Anvil) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=PHONE, locale="en-US")
    ctx.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    ctx.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    ctx.on("weberror", lambda e: errors.append(str(e.error)))

    def forward(method: str, params: list[Any]) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        answer: dict[str, Any] = requests.post(chain.url, json=body, timeout=10).json()
        return answer

    ctx.expose_function("anvilRpc", forward)
    yield ctx
    ctx.close()
    assert errors == []


def with_wallet(
    ctx: BrowserContext, account: str, announce: str | None = None, reject: bool = False
) -> Page:
    options = {"account": account, "announce": announce, "reject": reject}
    page = ctx.new_page()
    page.add_init_script(PROVIDER.replace("OPTIONS", json.dumps(options)))
    return page


def sent(page: Page) -> dict[str, Any]:
    (request,) = [
        r for r in page.evaluate("window.walletLog") if r["method"] == "eth_sendTransaction"
    ]
    transaction: dict[str, Any] = request["params"][0]
    return transaction


def test_usdc_paid_with_the_button_by_keyboard_settles_the_invoice(
    relay: RelayProcess,
    store: WooStore,
    wallet_context: BrowserContext,
    chain: Anvil,
    usdc: str,
) -> None:
    invoice = open_invoice(relay, store, total="12.34")
    option = option_of(invoice, "USDC")
    customer = chain.accounts[1]  # holds the test USDC
    page = with_wallet(wallet_context, customer)
    page.goto(invoice["payment_url"])
    button = page.get_by_role("button", name="Pay with browser wallet")
    expect(button).to_be_visible()
    expect(page.locator("a.wallet")).to_have_attribute("href", option["uri"])  # still there
    assert_accessible(page, "waiting, with a browser wallet")
    tab_to(page, "Pay with browser wallet")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_have_attribute("data-screen", "paid", timeout=30_000)
    transaction = sent(page)
    amount = int(option["amount_base_units"])
    assert transaction == {
        "from": customer,
        "to": usdc,
        "value": "0x0",
        "data": "0xa9059cbb" + option["address"][2:].lower().rjust(64, "0") + f"{amount:064x}",
    }
    methods = [r["method"] for r in page.evaluate("window.walletLog")]
    assert methods[:2] == ["eth_requestAccounts", "eth_chainId"]
    (payment,) = relay.invoice(invoice["id"])["payments"]
    assert (payment["asset"], payment["amount_base_units"]) == ("USDC", str(amount))
    assert relay.invoice(invoice["id"])["status"] == "settled"
    screenshot(page, "pay-phone-wallet-paid")


def test_eth_paid_with_an_announced_wallet_settles_the_invoice(
    relay: RelayProcess,
    store: WooStore,
    wallet_context: BrowserContext,
    chain: Anvil,
) -> None:
    invoice = open_invoice(relay, store, total="3.00")
    option = option_of(invoice, "ETH")
    customer = chain.accounts[2]
    page = with_wallet(wallet_context, customer, announce="Test Wallet")
    page.goto(invoice["payment_url"])
    page.get_by_role("link", name="ETH on Dev").click()
    expect(page.locator("[data-option-shown]")).to_have_attribute("data-option-shown", "dev:ETH")
    page.get_by_role("button", name="Pay with Test Wallet").click()
    expect(page.locator("main")).to_have_attribute("data-screen", "paid", timeout=30_000)
    transaction = sent(page)
    assert transaction == {
        "from": customer,
        "to": option["address"],
        "value": hex(int(option["amount_base_units"])),
    }
    assert relay.invoice(invoice["id"])["status"] == "settled"


def test_no_wallet_no_button_and_a_refusal_is_said_in_words(
    relay: RelayProcess,
    store: WooStore,
    wallet_context: BrowserContext,
    chain: Anvil,
) -> None:
    invoice = open_invoice(relay, store, total="2.00")
    plain = wallet_context.new_page()
    plain.goto(invoice["payment_url"])
    expect(plain.locator("[data-amount]")).to_be_visible()
    expect(plain.locator("[data-browser-wallet]")).to_be_hidden()
    expect(plain.get_by_role("button", name="Pay with browser wallet")).to_have_count(0)
    expect(plain.locator("a.wallet")).to_be_visible()

    refusing = with_wallet(wallet_context, chain.accounts[1], reject=True)
    refusing.goto(invoice["payment_url"] + "?lang=de")
    refusing.get_by_role("button", name="Mit Browser-Wallet bezahlen").click()
    expect(refusing.get_by_role("status")).to_have_text(
        "Sie haben die Anfrage in Ihrer Wallet abgelehnt. Es wurde nichts gesendet."
    )
    assert_accessible(refusing, "a refusal shown")
    assert relay.invoice(invoice["id"])["payments"] == []
