"""Operations endpoints: liveness, readiness per chain, Prometheus metrics from the database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from devkit.devchain import Anvil
from relay.chain.rpc import Web3Chain
from relay.config import parse_settings
from relay.db import Database
from relay.invoices import open_invoice
from relay.pricing import Rates
from relay.records import OrderData
from relay.watcher import scan_once
from relay.web.app import create_app
from tests.conftest import config_dict, free_port


def test_readyz_checks_the_database_and_every_chain(db: Database) -> None:
    with Anvil() as node:
        up = create_app(parse_settings(config_dict(rpc_url=node.url), env={}), db).test_client()
        assert up.get("/healthz").status_code == 200
        ready = up.get("/readyz")
        assert ready.status_code == 200
        assert ready.json == {"ok": True, "database": "ok", "chains": {"dev": {"head": 0}}}
    down_url = f"http://127.0.0.1:{free_port()}"
    down = create_app(parse_settings(config_dict(rpc_url=down_url), env={}), db).test_client()
    answer = down.get("/readyz")
    assert answer.status_code == 503
    assert answer.json is not None and "error" in answer.json["chains"]["dev"]


def test_metrics_report_invoices_deliveries_and_watcher_state(db: Database) -> None:
    with Anvil() as node:
        node.mine(7)
        settings = parse_settings(config_dict(rpc_url=node.url), env={})
        order = OrderData(store="shop", order_id="1", currency="USD", total=Decimal("5"))
        chain = Web3Chain([node.url])
        scan_once(db, settings, settings.chains["dev"], chain, datetime.now(UTC))  # cursor: 7
        chain.close()
        open_invoice(db, settings, order, datetime.now(UTC), Rates(settings))
        node.mine(3)
        text = create_app(settings, db).test_client().get("/metrics").get_data(as_text=True)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("relay_invoices", (("status", "new"), ("store", "shop")))] == 1
    assert samples[("relay_deliveries", (("status", "pending"),))] == 1
    assert ("relay_delivery_oldest_due_seconds", ()) in samples
    assert samples[("relay_watcher_cursor_block", (("chain", "dev"),))] == 7
    assert samples[("relay_watcher_lag_blocks", (("chain", "dev"),))] == 3
