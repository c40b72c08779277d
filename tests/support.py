"""Helpers for tests that run the relay as a real server process."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import requests
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from devkit import harness
from devkit.harness import write_config as write_config
from relay.db import Database
from relay.inbox import open_all
from relay.runtime import Runtime
from relay.settings import Settings
from relay.signing import hmac_sha256_base64
from relay.web.app import create_app
from tests.conftest import ADMIN_TOKEN, WEBHOOK_SECRET, free_port

T = TypeVar("T")
TIMEOUT = 45


def relay_app(settings: Settings, db: Database) -> Flask:
    """Return the web app as `relay serve` builds it, with the inbox drained in the request's
    own thread once a webhook queued an order, so a test sees the invoice with the answer."""
    runtime = Runtime(settings, db)

    def drain() -> None:
        open_all(db, settings, runtime.rates)

    return create_app(settings, db, on_queued=drain, runtime=runtime)


def woocommerce_delivery(order: dict[str, Any], topic: str) -> tuple[bytes, dict[str, str]]:
    """Return the body and headers of a WooCommerce webhook carrying `order` (the store's REST
    JSON), signed with the tests' webhook secret, to post to a relay's /hooks/shop."""
    body = json.dumps(order, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": hmac_sha256_base64(WEBHOOK_SECRET, body),
    }
    return body, headers


def invoice_of(client: Any, store: str, order_id: str) -> dict[str, Any]:
    """Return the invoice JSON of a store's order through the admin API of a Flask test client
    (raises AssertionError when there is not exactly one)."""
    answer = client.get(
        "/api/v1/admin/invoices",
        query_string={"store": store, "order_id": order_id},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    (invoice,) = answer.json["invoices"]
    return dict(invoice)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    """Poll `probe` every 0.2 s until it returns something truthy (devkit.harness)."""
    return harness.wait_for(what, probe, timeout, 0.2)


def inbox_row(order_id: str, **values: Any) -> dict[str, Any]:
    """Return a row of the inbox table (every column but its id) for a test; `values` override."""
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    return {
        "store": "shop",
        "order_id": order_id,
        "topic": "order.created",
        "order": {"order_id": order_id},
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "received_at": now,
        "dead_at": None,
        **values,
    }


class RelayAddress(TypedDict):
    """Where a test relay listens: keywords for the config builders (`config_dict`)."""

    public_url: str
    listen: str


def relay_address() -> RelayAddress:
    """Return `public_url` and `listen` of a relay on a free 127.0.0.1 port."""
    port = free_port()
    return {"public_url": f"http://127.0.0.1:{port}", "listen": f"127.0.0.1:{port}"}


def relay_process(data: dict[str, Any], folder: Path, name: str = "relay") -> RelayProcess:
    """Reset the configuration's database, write it to `folder/<name>.toml` and return the
    relay for it (not started), logging to `folder/<name>.log`; its spool is `folder/spool`
    unless the configuration names one (relays sharing a folder share a database)."""
    reset_database(data["relay"]["database_url"])
    data["relay"].setdefault("spool_dir", str(folder / "spool"))
    return RelayProcess(write_config(data, folder / f"{name}.toml"), folder / f"{name}.log")


def reset_database(url: str) -> None:
    """Drop every table of a PostgreSQL test database (a SQLite file is new per test)."""
    if url.startswith("sqlite"):
        return
    from relay.db import Database
    from relay.models import Base

    database = Database(url)
    Base.metadata.drop_all(database.engine)
    database.dispose()


class RelayProcess(harness.RelayProcess):
    """The relay as a real server process (devkit.harness), with the admin API."""

    STARTUP_TIMEOUT = 30.0

    def admin(self, path: str, **params: str) -> Any:
        answer = requests.get(
            f"{self.url}{path}",
            params=params,
            timeout=5,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        answer.raise_for_status()
        return answer.json()

    def invoice_for(self, order_id: int | str, store: str = "shop") -> dict[str, Any] | None:
        found = self.admin("/api/v1/admin/invoices", store=store, order_id=str(order_id))
        return found["invoices"][0] if found["invoices"] else None

    def inbox_queued(self) -> int:
        """Return the accepted webhook orders still waiting for an invoice, read off /metrics:
        `relay_inbox_orders` with status "spooled" (not in the database yet) plus "queued"."""
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        found = {
            sample.labels["status"]: int(sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "relay_inbox_orders"
        }
        assert {"spooled", "queued"} <= set(found), f"/metrics inbox statuses: {found}"
        return found["spooled"] + found["queued"]

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        data: dict[str, Any] = requests.get(
            f"{self.url}/api/v1/invoices/{invoice_id}", timeout=5
        ).json()
        return data


class AppServer:
    """Serve a WSGI app on 127.0.0.1 over real HTTP in a background thread (a context manager)."""

    def __init__(self, app: Any) -> None:
        import threading

        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AppServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def csrf_token_of(html: str) -> str:
    """Return the CSRF token of the first form on a dashboard page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def admin_client(app: Flask, token: str = ADMIN_TOKEN) -> Any:
    """Return a Flask test client signed in to the dashboard (/admin) with `token`."""
    client = app.test_client()
    form = client.get("/admin/sign-in").get_data(as_text=True)
    answer = client.post("/admin/sign-in", data={"token": token, "csrf_token": csrf_token_of(form)})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client
