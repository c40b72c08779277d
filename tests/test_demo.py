"""`relay demo` runs the whole flow with no set-up and ends with the order processing."""

from __future__ import annotations

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


def test_demo_without_the_development_kit_says_how_to_install_it() -> None:
    # `None` in sys.modules makes `import devkit` fail as if it were not installed.
    code = "import sys; sys.modules['devkit'] = None; from relay.cli import main; main(['demo'])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pip install -e ./devkit" in result.stderr
    assert "make setup" in result.stderr
    assert "Traceback" not in result.stderr
