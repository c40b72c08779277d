"""Run a local anvil dev chain: the node in a child process, its JSON-RPC and test controls.

The tests and `relay demo` need a real JSON-RPC node rather than mocks, so that the payment
watcher meets real receipts, logs, reorgs and failed transactions. This module starts anvil (from
the pinned npm package `@foundry-rs/anvil`, installed by `npm ci`) on a loopback port. With
`multicall3` it installs `Multicall3` (github.com/mds1/multicall3) at its canonical address
`relay.chain.MULTICALL3_ADDRESS` with `anvil_setCode`, as most real chains have it, so the
relay's balance reads (one aggregate3 `eth_call` per address chunk) run as in production. It
always installs the collector factory (contracts/CollectorFactory.sol) the same way at
`relay.collectors.COLLECTOR_FACTORY`, where the deterministic deployment proxy (in anvil's
genesis) would deploy it. Its dev accounts are derived from DEV_MNEMONIC.

Nothing here is used by `relay serve` in production.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import requests
from hexbytes import HexBytes
from web3 import Web3

from devkit import REPO_ROOT
from devkit.devchain.contracts import load_artifact, rpc
from relay.chain import MULTICALL3_ADDRESS
from relay.collectors import COLLECTOR_FACTORY, factory_artifact

DEV_MNEMONIC: Final[str] = "test test test test test test test test test test test junk"
"""Anvil's default mnemonic: its dev accounts are derived from it (m/44'/60'/0'/0/i)."""

STARTUP_TIMEOUT_S: Final[float] = 30.0
"""How long Anvil.start waits for the node to answer eth_chainId, in seconds."""

_LISTENING_RE: Final = re.compile(r"Listening on [\d.]+:(\d+)")
_LOG_TAIL_CHARS: Final[int] = 4000
_LOG_HEAD_CHARS: Final[int] = 1 << 20  # the startup banner lists every account: allow many
# The node is on loopback: never send its traffic through a proxy from the environment.
_NO_PROXY_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# npm's platform-specific packages of @foundry-rs/anvil, keyed by (sys.platform, machine).
_ANVIL_PLATFORM_PACKAGES: Final[Mapping[tuple[str, str], str]] = {
    ("linux", "x86_64"): "anvil-linux-amd64",
    ("linux", "amd64"): "anvil-linux-amd64",
    ("linux", "aarch64"): "anvil-linux-arm64",
    ("linux", "arm64"): "anvil-linux-arm64",
    ("darwin", "x86_64"): "anvil-darwin-amd64",
    ("darwin", "arm64"): "anvil-darwin-arm64",
    ("win32", "amd64"): "anvil-win32-amd64",
}


def anvil_path() -> str:
    """Return the path of the anvil executable to run.

    Order: $RELAY_ANVIL; the native binary that `npm ci` put in <repo root>/node_modules (the
    platform package, else the `node_modules/.bin/anvil` Node wrapper around it); then `anvil`
    on PATH. Raises FileNotFoundError if none exists.
    """
    override = os.environ.get("RELAY_ANVIL")
    if override:
        found = shutil.which(override)
        if found is None:
            raise FileNotFoundError(f"anvil not found: $RELAY_ANVIL={override!r} is not executable")
        return found
    node_modules = REPO_ROOT / "node_modules"
    package = _ANVIL_PLATFORM_PACKAGES.get((sys.platform, platform.machine().lower()))
    exe = "anvil.exe" if sys.platform == "win32" else "anvil"
    candidates = [node_modules / ".bin" / exe]
    if package is not None:
        # The native binary first: the .bin wrapper is a Node process that spawns it, which
        # costs a process and can orphan anvil if the wrapper is killed.
        candidates.insert(0, node_modules / "@foundry-rs" / package / "bin" / exe)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("anvil")
    if on_path is not None:
        return on_path
    raise FileNotFoundError(
        f"anvil not found: run `npm ci` in {REPO_ROOT} (installs @foundry-rs/anvil), "
        "or set $RELAY_ANVIL to an anvil executable"
    )


class Anvil:
    """A local anvil node in a child process, listening on 127.0.0.1.

    Use it as a context manager, or call start() and stop(). With port=None anvil picks a free
    port itself, so `url` is known only once started. With block_time (seconds, may be
    fractional) blocks are mined on that interval instead of one per transaction (automine).
    Accounts are derived from DEV_MNEMONIC, each funded with balance_eth ether. With
    multicall3=True (the default) Multicall3 is installed at MULTICALL3_ADDRESS once the node
    answers, before any block is mined, so every block of the chain has it.

    With `state` (a file path) the node starts from the chain saved there, if the file exists,
    and saves its chain there when stopped (anvil's `--state`: blocks, receipts, logs and
    hashes survive). With a fixed `port`, `stop` and `start` restart it where clients expect it.
    """

    def __init__(
        self,
        *,
        block_time: float | None = None,
        chain_id: int = 31337,
        port: int | None = None,
        accounts: int = 10,
        balance_eth: int = 10_000,
        multicall3: bool = True,
        state: Path | None = None,
    ) -> None:
        if block_time is not None and block_time <= 0:
            raise ValueError("block_time must be positive seconds, or None for automine")
        self.block_time = block_time
        self.chain_id = chain_id
        self.port = port
        self._requested_port = port
        self.n_accounts = accounts
        self.balance_eth = balance_eth
        self.multicall3 = multicall3
        self.state = state
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._session: requests.Session | None = None
        self._w3: Web3 | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Anvil {self.port if self.port else '?'} {state}>"

    @property
    def url(self) -> str:
        """Return the node's JSON-RPC URL, "http://127.0.0.1:PORT"."""
        if self.port is None:
            raise RuntimeError("Anvil has no port yet: call start() first")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Return True while the anvil process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path | None:
        """Return the path of anvil's log file while started (it is deleted by stop())."""
        return self._log_path

    def start(self) -> Anvil:
        """Spawn anvil and wait (30 s at most) until it answers eth_chainId; return self.

        Raises RuntimeError, with the tail of anvil's log, if it exits or does not answer in time.
        """
        if self._process is not None:
            raise RuntimeError("Anvil is already started")
        self.port = requested_port = self._requested_port  # a restart picks a new free port
        args = [
            anvil_path(),
            "--host",
            "127.0.0.1",
            "--port",
            str(requested_port if requested_port is not None else 0),
            "--chain-id",
            str(self.chain_id),
            "--accounts",
            str(self.n_accounts),
            "--balance",
            str(self.balance_eth),
            "--mnemonic",
            DEV_MNEMONIC,
            "--color",
            "never",
        ]
        if self.block_time is not None:
            args += ["--block-time", f"{self.block_time:g}"]
        if self.state is not None:
            # keep the state of past blocks too (as an archive node does): the watcher reads
            # balances at past blocks, which a node that only has its latest state refuses
            args += ["--state", str(self.state), "--preserve-historical-states"]
        fd, log_name = tempfile.mkstemp(prefix="relay-anvil-", suffix=".log")
        self._log_path = Path(log_name)
        try:
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT
            )
        except BaseException:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None
            raise
        finally:
            os.close(fd)
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
            if self.multicall3:
                install_multicall3(self.w3)
            install_collector_factory(self.w3)
        except BaseException:
            self.stop()
            self.port = requested_port
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        process = self._process
        assert process is not None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"anvil exited with code {process.returncode} during startup:\n"
                    + self._log_tail()
                )
            # Wait for our own anvil to say where it listens: with a fixed port, another node
            # already there would otherwise answer eth_chainId in its place.
            match = _LISTENING_RE.search(self._log_head())
            if match is not None:
                listening = int(match.group(1))
                if self.port is not None and listening != self.port:
                    raise RuntimeError(f"anvil listens on port {listening}, not {self.port}")
                self.port = listening
                if self._chain_id_answers():
                    return
            time.sleep(0.05)
        raise RuntimeError(
            f"anvil did not answer eth_chainId within {STARTUP_TIMEOUT_S:g} s:\n" + self._log_tail()
        )

    def _chain_id_answers(self) -> bool:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
        request = urllib.request.Request(
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with _NO_PROXY_OPENER.open(request, timeout=1) as response:
                reply = json.loads(response.read())
        except (OSError, ValueError):
            return False
        result = reply.get("result") if isinstance(reply, dict) else None
        if not isinstance(result, str):
            return False
        if int(result, 16) != self.chain_id:
            raise RuntimeError(f"port {self.port} answers chain id {result}, not {self.chain_id}")
        return True

    def _log_head(self) -> str:
        if self._log_path is None:
            return ""
        try:
            with self._log_path.open("rb") as log:
                return log.read(_LOG_HEAD_CHARS).decode("utf-8", "replace")
        except OSError:
            return ""

    def _log_tail(self) -> str:
        if self._log_path is None:
            return ""
        try:
            with self._log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - _LOG_TAIL_CHARS))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate anvil (kill it after 5 s), close the Web3 session, delete the log.

        Idempotent: does nothing when not started.
        """
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            else:
                process.wait()
        if self._session is not None:
            self._session.close()
        self._session = None
        self._w3 = None
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def w3(self) -> Web3:
        """Return a Web3 client on `url` (HTTP, 30 s request timeout), created on first use."""
        if self._w3 is None:
            if not self.running:
                raise RuntimeError("Anvil is not running: call start() first")
            self._session = requests.Session()
            self._session.trust_env = False  # loopback: ignore proxy settings from the environment
            provider = Web3.HTTPProvider(
                self.url, request_kwargs={"timeout": 30}, session=self._session
            )
            self._w3 = Web3(provider)
        return self._w3

    @property
    def accounts(self) -> list[str]:
        """Return the node's unlocked, funded dev accounts as checksum addresses."""
        return [Web3.to_checksum_address(a) for a in self.w3.eth.accounts]

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Call a JSON-RPC method on the node and return its result; raise RuntimeError on error."""
        return rpc(self.w3, method, params)

    def mine(self, blocks: int = 1) -> None:
        """Mine `blocks` blocks at once (anvil_mine), with or without pending transactions."""
        if blocks < 1:
            raise ValueError("blocks must be >= 1")
        self.rpc("anvil_mine", [hex(blocks)])

    def snapshot(self) -> str:
        """Snapshot the chain state (evm_snapshot) and return the snapshot id, e.g. "0x0"."""
        snapshot_id = self.rpc("evm_snapshot")
        return str(snapshot_id)

    def revert(self, snapshot_id: str) -> bool:
        """Roll the chain back to a snapshot (evm_revert); return False if the id is unknown.

        A snapshot is consumed by reverting to it: take a new one to revert there again.
        """
        return bool(self.rpc("evm_revert", [snapshot_id]))

    def reorg(self, depth: int, txs: Sequence[tuple[Any, int]] | None = None) -> None:
        """Replace the last `depth` blocks by as many new ones (anvil_reorg).

        `txs` are (transaction, block_offset) pairs to include in the new blocks: offset 0 is the
        first replacement block (height latest - depth + 1). A transaction is a dict such as
        {"from": ..., "to": ..., "value": wei} (sent from an unlocked account; ints may be given
        as int) or a raw signed transaction (bytes or "0x" hex). Transactions of the replaced
        blocks are dropped, not re-mined.
        """
        if depth < 1:
            raise ValueError("depth must be >= 1")
        pairs = [[_reorg_tx(tx), int(offset)] for tx, offset in (txs or [])]
        self.rpc("anvil_reorg", [depth, pairs])

    def set_automine(self, enabled: bool) -> None:
        """Turn mining of one block per transaction on or off (evm_setAutomine)."""
        self.rpc("evm_setAutomine", [enabled])

    def set_interval_mining(self, seconds: int) -> None:
        """Mine a block every `seconds` seconds (evm_setIntervalMining); 0 turns it off."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        self.rpc("evm_setIntervalMining", [int(seconds)])


def install_multicall3(w3: Web3, address: str = MULTICALL3_ADDRESS) -> None:
    """Put Multicall3's runtime code at `address` on an anvil node (anvil_setCode).

    The code comes from the committed artifact `Multicall3.json` (`deployed_bytecode`). The
    change applies to the node's current state without mining a block; on a node at block 0 the
    genesis block then holds it too. Raises RuntimeError if the node refuses the call.
    """
    code = load_artifact("Multicall3")["deployed_bytecode"]
    rpc(w3, "anvil_setCode", [Web3.to_checksum_address(address), code])


def install_collector_factory(w3: Web3) -> None:
    """Put the collector factory's runtime code at `relay.collectors.COLLECTOR_FACTORY` with
    anvil_setCode, where the deterministic deployment proxy would deploy it (as Multicall3)."""
    code = "0x" + factory_artifact().runtime_code.hex()
    rpc(w3, "anvil_setCode", [COLLECTOR_FACTORY, code])


def _reorg_tx(tx: Any) -> Any:
    if isinstance(tx, bytes | bytearray):
        return HexBytes(tx).to_0x_hex()
    if isinstance(tx, str):
        return tx
    if isinstance(tx, Mapping):
        return {k: hex(v) if isinstance(v, int) else v for k, v in tx.items()}
    raise TypeError(f"unsupported reorg transaction: {tx!r}")
