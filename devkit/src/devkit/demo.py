"""Run the whole flow locally with no set-up: anvil, a demo WooCommerce store, the relay, one order.

Everything is real except the shop, which is the WooCommerce REST v3 emulator of devkit:
the relay serves HTTP (waitress) and runs its scheduler; the store sends signed webhooks; a
customer account pays in USDC on anvil; the relay pushes the result back through the REST API.
"""

from __future__ import annotations

import secrets
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import requests

from devkit.harness import wait_for
from relay.config import load_settings
from relay.db import Database
from relay.runtime import Runtime
from relay.scheduler import Worker, build_scheduler
from relay.settings import Settings
from relay.web.app import create_app
from relay.web.context import inbox_of

# The account-level xpub (m/44'/60'/0') of the public BIP-39 test mnemonic "abandon … about":
# a demo merchant wallet. Only this public key reaches the relay.
DEMO_XPUB = (
    "xpub6DCoCpSuQZB2jawqnGMEPS63ePKWkwWPH4TU45Q7LPXWuNd8TMtVxRrgjtEshuqpK3mdhaWHPFsBngh5GFZa"
    "M6si3yZdUsT8ddYM3PwnATt"
)
STEP_TIMEOUT_SECONDS = 60


def _say(step: str, text: str) -> None:
    print(f"[{step}] {text}", flush=True)


def write_demo_config(
    directory: Path, *, rpc_url: str, token: str, store_url: str, port: int, webhook_secret: str
) -> Path:
    """Write the demo's relay.toml (SQLite in `directory`); return its path."""
    path = directory / "relay.toml"
    path.write_text(
        f"""# written by `relay demo`
[relay]
public_url = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
database_url = "sqlite:///{directory / "relay.db"}"
secret_key = "{secrets.token_urlsafe(24)}"
admin_token = "{secrets.token_urlsafe(24)}"

[chains.anvil]
rpc_urls = ["{rpc_url}"]
chain_id = 31337
confirmations = 3
poll_seconds = 1

[chains.anvil.assets.USDC]
contract = "{token}"
decimals = 6
rate = "peg:USD"

[chains.anvil.assets.ETH]
native = true
decimals = 18
rate = "fixed:USD:2500.00"

[stores.demo]
platform = "woocommerce"
base_url = "{store_url}"
webhook_secret = "{webhook_secret}"
api_key = "ck_demo"
api_secret = "cs_demo"
payment_methods = ["cheque"]
xpub = "{DEMO_XPUB}"
accept = ["anvil:USDC", "anvil:ETH"]
invoice_expiry_minutes = 30
""",
        encoding="utf-8",
    )
    return path


class _Relay:
    """The relay's web server (waitress) and scheduler, in this process."""

    def __init__(self, settings: Settings) -> None:
        from waitress.server import create_server

        self.db = Database(settings.relay.database_url)
        self.db.create_schema()
        host, _, port = settings.relay.listen.rpartition(":")
        self.runtime = Runtime(settings, self.db)
        jobs = Worker(self.runtime)
        app = create_app(
            settings,
            self.db,
            on_queued=jobs.wake_inbox,
            spool_dir=settings.relay.spool_directory(),
            runtime=self.runtime,
        )
        self.inbox = inbox_of(app)
        self.server: Any = create_server(app, host=host, port=int(port))
        self.scheduler = build_scheduler(jobs)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)
        self.server.close()
        self.inbox.close()
        self.runtime.close()
        self.db.dispose()


def run_demo(port: int = 8080, keep_running: bool = True) -> int:
    """Run the demo; return the process exit code (0 when the order ended `processing`)."""
    from devkit.devchain import Anvil, deploy_token, mint, transfer_token
    from devkit.woocommerce import WooStore

    workdir = Path(tempfile.mkdtemp(prefix="relay-demo-"))
    _say("chain", "starting a local dev chain (anvil, 1 s blocks)…")
    with Anvil(block_time=1) as chain, WooStore("ck_demo", "cs_demo", webhook_delay=0.5) as store:
        w3 = chain.w3
        customer = chain.accounts[1]
        usdc = deploy_token(w3, name="Demo USD Coin", symbol="USDC", decimals=6)
        mint(w3, usdc, customer, 1_000 * 10**6)
        _say("chain", f"{chain.url}: USDC (6 decimals) deployed at {usdc}; customer {customer}")
        _say("store", f"demo WooCommerce store at {store.base_url}")
        secret = secrets.token_urlsafe(16)
        config = write_demo_config(
            workdir,
            rpc_url=chain.url,
            token=usdc,
            store_url=store.base_url,
            port=port,
            webhook_secret=secret,
        )
        settings = load_settings(config)
        relay = _Relay(settings)
        relay.start()
        base = settings.relay.public_url
        admin = {"Authorization": f"Bearer {settings.relay.admin_token}"}
        try:
            wait_for("the relay", lambda: _ok(f"{base}/healthz"), STEP_TIMEOUT_SECONDS, 0.25)
            _say("relay", f"serving on {base} (config {config})")
            for topic in ("order.created", "order.updated"):
                store.add_webhook(topic, f"{base}/hooks/demo", secret)
            _say("store", "webhooks order.created and order.updated point at /hooks/demo (ping OK)")
            order = store.create_order(total="44.98", currency="USD", payment_method="cheque")
            order_id = order["id"]
            _say("order", f"customer placed order #{order_id}: 44.98 USD, 'Pay with crypto'")

            def find_invoice() -> dict[str, Any] | None:
                answer = requests.get(
                    f"{base}/api/v1/admin/invoices",
                    params={"order_id": str(order_id)},
                    headers=admin,
                    timeout=5,
                ).json()["invoices"]
                return answer[0] if answer else None

            invoice = wait_for("the invoice", find_invoice, STEP_TIMEOUT_SECONDS, 0.25)
            usdc_option = next(o for o in invoice["options"] if o["asset"] == "USDC")
            _say(
                "invoice",
                f"{invoice['id']}: pay {usdc_option['amount']} USDC to {usdc_option['address']}",
            )
            _say("invoice", f"payment page: {invoice['payment_url']}")
            _say("invoice", f"EIP-681: {usdc_option['uri']}")
            tx = transfer_token(
                w3, usdc, customer, usdc_option["address"], int(usdc_option["amount_base_units"])
            )
            _say("payment", f"customer paid: tx {tx}")
            seen: set[str] = set()

            def settled() -> dict[str, Any] | None:
                data = requests.get(f"{base}/api/v1/invoices/{invoice['id']}", timeout=5).json()
                for p in data["payments"]:
                    line = f"{p['confirmations']} confirmation(s), invoice {data['status']}"
                    if line not in seen:
                        seen.add(line)
                        _say("confirm", line)
                return data if data["status"] == "settled" else None

            wait_for("settlement", settled, STEP_TIMEOUT_SECONDS, 0.25)
            final = wait_for(
                "the store order to be processing",
                lambda: (o := store.get_order(order_id)) and o["status"] == "processing" and o,
                STEP_TIMEOUT_SECONDS,
                0.25,
            )
            _say(
                "store",
                f"order #{order_id} is {final['status']}, transaction_id {final['transaction_id']}",
            )
            for note in store.notes(order_id):
                kind = "customer note" if note["customer_note"] else "note"
                _say("store", f"{kind}: {note['note']}")
            _say("done", f"payment page: {invoice['payment_url']}")
            if keep_running:
                _say("done", "relay, chain and store keep running; press Ctrl-C to stop")
                _wait_for_interrupt()
            return 0
        except TimeoutError as exc:
            _say("error", str(exc))
            return 1
        finally:
            relay.stop()


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
