"""Small helpers that `relay demo`, the tests and the benchmarks share to drive a relay: a free
port, polling for a condition, writing a config as TOML, and the relay as a server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TypeVar

import requests
import tomli_w

T = TypeVar("T")


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float) -> T:
    """Call `probe` every `every` seconds until it returns something truthy, and return that;
    raise TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out waiting for {what}")


def write_config(data: dict[str, Any], path: Path) -> Path:
    """Write a config document as TOML to `path`; return the path."""
    path.write_text(tomli_w.dumps(data))
    return path


class RelayProcess:
    """The relay (`python -m relay`, or another module serving its app) as a real process,
    started from a config file, its output in a log file; the URL is the config's `listen`."""

    STARTUP_TIMEOUT = 60.0  # seconds for /healthz to answer after a start

    def __init__(
        self, config: Path, log: Path, module: str = "relay", cwd: Path | None = None
    ) -> None:
        self.config, self.log_path, self.module, self.cwd = config, log, module, cwd
        listen = tomllib.loads(config.read_text())["relay"]["listen"]
        self.url = f"http://{listen}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str, wait: bool = True) -> Self:
        """Start `python -m <module> <args or serve> --config F` (log level $RELAY_LOG_LEVEL,
        INFO by default); when `wait`, return once /healthz answers. raises RuntimeError with
        the log's tail when the process exits, TimeoutError after STARTUP_TIMEOUT."""
        command = list(args) or ["serve"]
        env = dict(os.environ, RELAY_LOG_LEVEL=os.environ.get("RELAY_LOG_LEVEL", "INFO"))
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, *command, "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
            )
        if wait:
            wait_for("the relay's /healthz", self._healthy, self.STARTUP_TIMEOUT, 0.05)
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError("relay exited:\n" + self.log_path.read_text()[-3000:])
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    @property
    def pid(self) -> int:
        """Return the process id."""
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        """Stop the process with SIGTERM (SIGKILL after 10 s); nothing when it is not running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """Kill the process with SIGKILL (no clean-up of any kind) and reap it."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
