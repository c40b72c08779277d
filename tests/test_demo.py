"""`relay demo` runs the whole flow with no set-up and ends with the order processing."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys

from tests.conftest import free_port


def test_demo_pays_one_order_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relay", "demo", "--exit", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for step in (
        "[order] customer placed order",
        "[invoice] payment page: http://",
        "[payment] customer paid: tx 0x",
        "confirmation(s), invoice settled",
        "is processing, transaction_id 0x",
    ):
        assert step in out, out
    tx = out.split("[payment] customer paid: tx ")[1].split()[0]
    assert f"transaction_id {tx}" in out
    # quiet when healthy: no warning, no scheduler noise, no traceback
    for noise in ("WARNING", "maximum number of running instances", "Traceback"):
        assert noise not in out + result.stderr, out + result.stderr


def test_demo_with_the_default_port_taken_picks_another() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):  # something else holds it already: just as good
            busy.bind(("127.0.0.1", 8080))
        busy.listen()
        code = (
            "import devkit.demo as d; "
            "d.run_demo = lambda port, keep_running: print('demo on', port) or 0; "
            "from relay.cli import main; main(['demo', '--exit'])"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 0, result.stderr
    moved = re.search(
        r"port 8080 is taken; the demo relay listens on port (\d+) instead", result.stdout
    )
    assert moved, result.stdout
    assert f"demo on {moved.group(1)}" in result.stdout


def test_demo_on_a_taken_port_it_was_told_to_use_says_so() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "relay", "demo", "--exit", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is taken; pass another --port" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_without_the_development_kit_says_how_to_install_it() -> None:
    # No distribution offers the entry point, as when devkit is not installed.
    code = (
        "import importlib.metadata as m; real = m.entry_points; "
        "m.entry_points = lambda **kw: real(group='no.such.group'); "
        "from relay.cli import main; main(['demo'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pip install -e ./devkit" in result.stderr
    assert "make setup" in result.stderr
    assert "Traceback" not in result.stderr
