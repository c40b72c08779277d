"""Helpers for tests that run the relay as a real server process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
from flask import Flask

from relay.config import Settings
from relay.db import Database
from relay.inbox import open_all
from relay.web.app import create_app
from tests.conftest import ADMIN_TOKEN

T = TypeVar("T")
TIMEOUT = 45


def relay_app(settings: Settings, db: Database) -> Flask:
    """Return the web app as `relay serve` builds it, with the inbox drained in the request's
    own thread once a webhook queued an order, so a test sees the invoice with the answer."""

    def drain() -> None:
        open_all(db, settings)

    return create_app(settings, db, on_queued=drain)


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def toml_dump(data: dict[str, Any], prefix: str = "") -> str:
    """Write a config dict as TOML (tables, arrays of strings/ints, scalars)."""
    scalars, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            scalars.append(f"{key} = {json.dumps(value)}")
    out = ([f"[{prefix}]"] if prefix and scalars else []) + scalars
    for key, value in tables:
        out.append(toml_dump(value, f"{prefix}.{key}" if prefix else key))
    return "\n".join(out) + "\n"


def write_config(data: dict[str, Any], path: Path) -> Path:
    """Write a config document as TOML to `path` and return it."""
    path.write_text(toml_dump(data))
    return path


def reset_database(url: str) -> None:
    """Drop every table of a PostgreSQL test database (a SQLite file is new per test)."""
    if url.startswith("sqlite"):
        return
    from relay.db import Database
    from relay.models import Base

    database = Database(url)
    Base.metadata.drop_all(database.engine)
    database.dispose()


class RelayProcess:
    """The relay as a real server process started from a config file."""

    def __init__(self, config: Path, url: str, log: Path) -> None:
        self.config, self.url, self.log_path = config, url, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> None:
        """Start `relay serve` (or `args`, e.g. "worker"); a server is waited for on /healthz."""
        self.log = self.log_path.open("ab")
        env = dict(os.environ, RELAY_LOG_LEVEL="INFO")
        command = list(args) or ["serve"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relay", *command, "--config", str(self.config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        if command[0] == "serve":
            wait_for("relay /healthz", self._healthy, timeout=30)

    def kill(self) -> None:
        """Kill the process with SIGKILL (no clean-up of any kind) and reap it."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError("relay exited:\n" + self.log_path.read_text()[-3000:])
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        """Stop the process with SIGTERM (SIGKILL after 10 s)."""
        if self.log.closed:
            return
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

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
