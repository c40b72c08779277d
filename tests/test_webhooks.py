"""Status webhooks per Standard Webhooks, verified with the `standardwebhooks` package; operators
list, inspect and redeliver through the admin API and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from standardwebhooks.webhooks import Webhook

from devkit.woocommerce import WooStore
from relay.config import parse_settings
from relay.db import Database
from relay.delivery import deliver_due
from relay.invoices import open_invoice
from relay.models import Invoice, utcnow
from relay.outbox import queue_event
from relay.pricing import Rates
from relay.records import OrderData
from relay.runtime import Runtime
from relay.settings import Settings
from tests.conftest import ADMIN_TOKEN, config_dict
from tests.support import AppServer, relay_app, write_config

OLD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks test vector's
NEW_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="


@pytest.fixture
def receiver() -> Iterator[dict[str, Any]]:
    """An ERP endpoint over HTTP recording each request; `answers` queues status codes."""
    state: dict[str, Any] = {"requests": [], "answers": []}
    app = Flask("erp")

    @app.post("/hook")
    def hook() -> Any:
        state["requests"].append({"headers": dict(request.headers), "body": request.get_data()})
        status = state["answers"].pop(0) if state["answers"] else 204
        return "", status

    with AppServer(app) as server:
        state["url"] = f"{server.url}/hook"
        yield state


@pytest.fixture
def store() -> Iterator[WooStore]:
    with WooStore() as shop:
        yield shop


def settings_for(store: WooStore, receiver: dict[str, Any], db: Database) -> Settings:
    data = config_dict(
        store_url=store.base_url,
        database_url=db.url,
        webhooks=[
            {"url": receiver["url"], "secret": [NEW_SECRET, OLD_SECRET]},
            {
                "url": receiver["url"] + "?only=settled",
                "secret": NEW_SECRET,
                "events": ["invoice.settled"],
            },
        ],
    )
    return parse_settings(data, env={})


def open_one(db: Database, settings: Settings, store: WooStore) -> Invoice:
    order = store.create_order(total="10.00")
    data = OrderData(store="shop", order_id=str(order["id"]), currency="USD", total=Decimal(10))
    return open_invoice(db, settings, data, utcnow(), Rates(settings))[0]


def send_all(db: Database, settings: Settings) -> None:
    runtime = Runtime(settings, db)
    try:
        while deliver_due(db, settings, runtime.sender):
            pass
    finally:
        runtime.close()


def test_webhooks_are_signed_and_filtered(
    db: Database, store: WooStore, receiver: dict[str, Any]
) -> None:
    settings = settings_for(store, receiver, db)
    invoice = open_one(db, settings, store)
    send_all(db, settings)
    (sent,) = receiver["requests"]  # invoice.created only reaches the endpoint without a filter
    for secret in (OLD_SECRET, NEW_SECRET):  # both signatures are there during rotation
        payload = Webhook(secret).verify(sent["body"], sent["headers"])
        assert payload["type"] == "invoice.created" and payload["data"]["id"] == invoice.id
    assert len(sent["headers"]["Webhook-Signature"].split()) == 2
    with pytest.raises(Exception, match="No matching signature"):
        Webhook("whsec_" + "Zm9vYmFyYmF6" * 3).verify(sent["body"], sent["headers"])
    with db.transaction() as session:
        stored = session.get(Invoice, invoice.id)
        assert stored is not None
        stored.status = "settled"
        queue_event(session, settings, stored, "invoice.settled", utcnow())
    send_all(db, settings)
    urls = [r["headers"]["Host"] for r in receiver["requests"]]
    assert len(urls) == 3  # settled went to both endpoints
    settled = [json.loads(r["body"]) for r in receiver["requests"][1:]]
    assert {p["type"] for p in settled} == {"invoice.settled"}


def test_retries_keep_the_webhook_id(
    db: Database, store: WooStore, receiver: dict[str, Any]
) -> None:
    settings = settings_for(store, receiver, db)
    receiver["answers"] = [503]
    open_one(db, settings, store)
    send_all(db, settings)  # first try fails; the schedule waits 1 s
    import time

    time.sleep(1.1)
    send_all(db, settings)
    first, second = receiver["requests"]
    assert first["headers"]["Webhook-Id"] == second["headers"]["Webhook-Id"]
    assert first["headers"]["Webhook-Id"].startswith("msg_")
    Webhook(NEW_SECRET).verify(second["body"], second["headers"])


def test_admin_api_and_cli_list_show_and_redeliver(
    db: Database, store: WooStore, receiver: dict[str, Any], tmp_path: Path
) -> None:
    settings = settings_for(store, receiver, db)
    receiver["answers"] = [404]  # a 4xx other than 408/429 fails the delivery at once
    open_one(db, settings, store)
    send_all(db, settings)
    client = relay_app(settings, db).test_client()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    failed = client.get("/api/v1/admin/deliveries?status=failed", headers=auth).json
    assert failed is not None
    (delivery,) = failed["deliveries"]
    assert (delivery["target"], delivery["last_error"]) == (receiver["url"], "HTTP 404")
    shown = client.get(f"/api/v1/admin/deliveries/{delivery['id']}", headers=auth).json
    assert shown is not None and shown["attempt_log"][0]["status_code"] == 404
    assert client.get("/api/v1/admin/deliveries", headers={}).status_code == 401

    config = write_config(
        config_dict(database_url=db.url, store_url=store.base_url), tmp_path / "r.toml"
    )
    cli = [sys.executable, "-m", "relay", "deliveries"]
    listed = subprocess.run(
        [*cli, "list", "--status", "failed", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0 and f"{delivery['id']}\tfailed" in listed.stdout
    show = subprocess.run(
        [*cli, "show", str(delivery["id"]), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(show.stdout)["attempt_log"][0]["status_code"] == 404
    again = subprocess.run(
        [*cli, "redeliver", str(delivery["id"]), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0
    missing = subprocess.run(
        [*cli, "show", "999999", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "no delivery" in missing.stderr
    send_all(db, settings)
    after = client.get(f"/api/v1/admin/deliveries/{delivery['id']}", headers=auth).json
    assert after is not None
    assert (after["status"], after["attempts"]) == ("succeeded", 2)
    via_api = client.post(f"/api/v1/admin/deliveries/{delivery['id']}/redeliver", headers=auth)
    assert via_api.status_code == 202 and via_api.json["status"] == "pending"  # type: ignore[index]


def test_deliveries_run_in_parallel_up_to_the_per_store_limit(
    db: Database, store: WooStore, tmp_path: Path
) -> None:
    import threading
    import time

    state = {"now": 0, "most": 0}
    lock = threading.Lock()
    app = Flask("slow-erp")

    @app.post("/hook")
    def hook() -> Any:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.3)
        with lock:
            state["now"] -= 1
        return "", 204

    with AppServer(app) as server:
        data = config_dict(
            store_url=store.base_url,
            database_url=db.url,
            webhooks=[
                {"url": f"{server.url}/hook", "secret": NEW_SECRET, "events": ["invoice.created"]}
            ],
        )
        data["relay"]["delivery_concurrency"] = 3
        settings = parse_settings(data, env={})
        for _ in range(9):
            open_one(db, settings, store)
        started = time.monotonic()
        send_all(db, settings)
        elapsed = time.monotonic() - started
    assert state["most"] == 3  # never more than the limit, and really in parallel
    assert elapsed < 9 * 0.3  # 9 slow webhooks (and 9 storefront pushes) did not run one by one
