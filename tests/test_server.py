"""The web server holds up: idle connections, the connection limit, forwarded headers.

Idle clients are real TCP connections to a real `relay serve` process that never send a byte;
the forwarded headers go through a real waitress server built with the relay's own options.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from waitress.server import create_server

from devkit.woocommerce import WooStore
from relay.config import parse_settings
from relay.server import TRUSTED_PROXY_HEADERS, allow_open_files, waitress_options
from tests.conftest import config_dict, database_url_for
from tests.support import RelayProcess, relay_address, relay_process, wait_for, woocommerce_delivery


def _relay(tmp_path: Path, **relay_keys: Any) -> RelayProcess:
    data = config_dict(database_url=database_url_for(tmp_path), **relay_address())
    data["relay"].update(relay_keys)
    return relay_process(data, tmp_path)


@contextmanager
def _idle_connections(url: str, count: int) -> Iterator[list[socket.socket]]:
    """Open `count` TCP connections to the relay that send nothing; close them afterwards."""
    host, _, port = url.removeprefix("http://").rpartition(":")
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection((host, int(port)), timeout=5))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _closed_by_server(sockets: Iterable[socket.socket]) -> int:
    """Count the connections the server has closed (a read returns end of file at once)."""
    closed = 0
    for sock in sockets:
        sock.settimeout(0)
        try:
            closed += sock.recv(1) == b""
        except BlockingIOError:
            pass  # still open, nothing to read
        except ConnectionResetError:
            closed += 1
    return closed


def _webhook(relay: RelayProcess, order_id: int) -> requests.Response:
    order = WooStore().create_order(total="12.50")
    order["id"] = order_id
    body, headers = woocommerce_delivery(order, "order.created")
    return requests.post(f"{relay.url}/hooks/shop", data=body, headers=headers, timeout=5)


def test_200_idle_connections_do_not_stop_healthz_or_a_webhook(tmp_path: Path) -> None:
    relay = _relay(tmp_path).start()
    try:
        with _idle_connections(relay.url, 200) as idle:
            time.sleep(0.5)  # let the server accept them all
            started = time.monotonic()
            assert requests.get(f"{relay.url}/healthz", timeout=1).status_code == 200
            assert time.monotonic() - started < 1
            answer = _webhook(relay, 4242)
            assert answer.status_code == 200, answer.text
            assert answer.json()["queued"] is True
            assert _closed_by_server(idle) == 0  # all 200 are still held open, not dropped
        wait_for("the webhook's invoice", lambda: relay.invoice_for(4242))
    finally:
        relay.stop()


def test_past_the_connection_limit_new_clients_wait_until_idle_ones_time_out(
    tmp_path: Path,
) -> None:
    relay = _relay(tmp_path, connection_limit=20, channel_timeout_seconds=2).start()
    try:
        # more idle connections than the limit: the rest wait in the kernel's listen queue
        with _idle_connections(relay.url, 30) as idle:
            time.sleep(0.3)
            started = time.monotonic()
            answer = requests.get(f"{relay.url}/healthz", timeout=15)
            waited = time.monotonic() - started
            assert answer.status_code == 200  # waited, not refused
            assert waited > 1.0  # held back by the limit until the idle ones were closed
            assert waited < 10
            wait_for("idle connections closed", lambda: _closed_by_server(idle) == len(idle))
        assert "reached the connection limit" in relay.log_path.read_text()
    finally:
        relay.stop()


def test_waitress_options_come_from_the_relay_table() -> None:
    settings = parse_settings(config_dict())
    options = waitress_options(settings.relay)
    assert options["threads"] == 8
    assert options["connection_limit"] == 1000
    assert options["channel_timeout"] == 30
    assert options["cleanup_interval"] == 10
    assert options["asyncore_use_poll"] is True  # select() stops at file descriptor 1023
    assert "trusted_proxy" not in options
    assert waitress_options(settings.relay, threads=3)["threads"] == 3


def test_the_open_files_limit_is_raised_for_the_connections() -> None:
    import resource

    assert allow_open_files(100) == 100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == resource.RLIM_INFINITY or soft >= 100 + 128
    if hard != resource.RLIM_INFINITY:
        assert allow_open_files(hard * 2) < hard * 2  # what cannot fit is lowered, not raised


@pytest.mark.parametrize(
    ("trusted_proxy", "trusted"),
    [("127.0.0.1", True), ("10.1.2.3", False), ("", False)],
)
def test_forwarded_headers_are_believed_from_the_trusted_proxy_only(
    trusted_proxy: str, trusted: bool
) -> None:
    data = config_dict()
    data["relay"]["trusted_proxy"] = trusted_proxy
    options = waitress_options(parse_settings(data).relay)
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = create_server(app, host="127.0.0.1", port=0, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        headers = {
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "pay.example.com",
            "X-Forwarded-Port": "8443",  # sent by neither Caddy nor nginx: never believed
            "Forwarded": "for=198.51.100.1;proto=https",
        }
        port = server.effective_port
        answer = requests.get(f"http://127.0.0.1:{port}/x", headers=headers, timeout=5)
        assert answer.status_code == 200
    finally:
        server.close()
        thread.join(5)
    if trusted:
        assert seen["REMOTE_ADDR"] == "203.0.113.9"
        assert seen["wsgi.url_scheme"] == "https"
        assert seen["HTTP_HOST"] == "pay.example.com"
        assert seen["SERVER_PORT"] == "443"
    else:
        assert seen["REMOTE_ADDR"] == "127.0.0.1"
        assert seen["wsgi.url_scheme"] == "http"
        assert seen["HTTP_HOST"] == f"127.0.0.1:{port}"
    # whatever was not believed never reaches the app
    assert "HTTP_FORWARDED" not in seen
    assert "HTTP_X_FORWARDED_PORT" not in seen
    forwarded = {"HTTP_" + header.upper().replace("-", "_") for header in TRUSTED_PROXY_HEADERS}
    assert trusted or not forwarded & seen.keys()
