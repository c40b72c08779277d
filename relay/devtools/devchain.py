"""Run a local anvil dev chain and drive real ERC-20 payments on it.

The tests and `relay demo` need a real JSON-RPC node rather than mocks, so that the payment
watcher meets real receipts, logs, reorgs and failed transactions. This module starts anvil (from
the pinned npm package `@foundry-rs/anvil`, installed by `npm ci`) on a loopback port, and deploys
and exercises the contracts whose compiled artifacts are committed in
`relay/devtools/contracts/` (see `relay.devtools.compile_contracts`):

- `TestToken`: a minimal ERC-20 whose `mint` is open to anyone;
- `PaymentRouter`: awkward payment shapes (several transfers in one transaction, ETH sent by an
  internal call, transactions that move value and then revert);
- `Multicall3` (github.com/mds1/multicall3): installed by `Anvil.start` at its canonical address
  `relay.config.MULTICALL3_ADDRESS` with `anvil_setCode`, as most real chains have it, so the
  relay's balance reads (one aggregate3 `eth_call` per address chunk) run as in production;
- the collector factory (contracts/CollectorFactory.sol, `relay.collectors`): installed by
  `Anvil.start` at `relay.collectors.COLLECTOR_FACTORY` the same way, where the deterministic
  deployment proxy (in anvil's genesis) would put it.

Every transaction is sent from one of anvil's unlocked dev accounts (derived from DEV_MNEMONIC)
with `eth_sendTransaction`, so no private key appears in code. Helpers wait for the receipt
(30 s at most) and return the transaction hash as a lowercase "0x"-prefixed hex string. Amounts
are integers in base units: wei for ETH, 10**-decimals of a token for tokens.

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
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import requests
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint, TxParams, TxReceipt, Wei

from relay.collectors import COLLECTOR_FACTORY, factory_artifact
from relay.config import MULTICALL3_ADDRESS

__all__ = [
    "DEV_MNEMONIC",
    "Anvil",
    "anvil_path",
    "batch_transfer",
    "deploy_router",
    "deploy_token",
    "forward_eth",
    "install_collector_factory",
    "install_multicall3",
    "load_artifact",
    "mint",
    "send_eth",
    "token_balance",
    "transfer_then_revert",
    "transfer_token",
]

DEV_MNEMONIC: Final[str] = "test test test test test test test test test test test junk"
"""Anvil's default mnemonic: its dev accounts are derived from it (m/44'/60'/0'/0/i)."""

RECEIPT_TIMEOUT_S: Final[float] = 30.0
"""How long a helper waits for its transaction to be mined, in seconds."""

STARTUP_TIMEOUT_S: Final[float] = 30.0
"""How long Anvil.start waits for the node to answer eth_chainId, in seconds."""

REVERTING_TX_GAS: Final[int] = 300_000
"""Explicit gas limit for transactions meant to fail, so they are mined instead of being
rejected by gas estimation."""

_REPO_ROOT: Final[Path] = Path(__file__).resolve().parent.parent.parent
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
    node_modules = _REPO_ROOT / "node_modules"
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
        f"anvil not found: run `npm ci` in {_REPO_ROOT} (installs @foundry-rs/anvil), "
        "or set $RELAY_ANVIL to an anvil executable"
    )


def load_artifact(name: str) -> dict[str, Any]:
    """Load the committed compiled artifact `<name>.json` (abi, bytecode, compiler, source_sha256).

    Raises FileNotFoundError for an unknown contract name, ValueError for one that is not an
    identifier.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"invalid contract name: {name!r}")
    resource = resources.files("relay.devtools").joinpath("contracts", f"{name}.json")
    if not resource.is_file():
        raise FileNotFoundError(f"no compiled artifact for contract {name!r}")
    artifact: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return artifact


class Anvil:
    """A local anvil node in a child process, listening on 127.0.0.1.

    Use it as a context manager, or call start() and stop(). With port=None anvil picks a free
    port itself, so `url` is known only once started. With block_time (seconds, may be
    fractional) blocks are mined on that interval instead of one per transaction (automine).
    Accounts are derived from DEV_MNEMONIC, each funded with balance_eth ether. With
    multicall3=True (the default) Multicall3 is installed at MULTICALL3_ADDRESS once the node
    answers, before any block is mined, so every block of the chain has it.
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
        return _rpc(self.w3, method, params)

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
    _rpc(w3, "anvil_setCode", [_checksum(address), code])


def install_collector_factory(w3: Web3) -> None:
    """Put the collector factory's runtime code at `relay.collectors.COLLECTOR_FACTORY` with
    anvil_setCode, where the deterministic deployment proxy would deploy it (as Multicall3)."""
    code = "0x" + factory_artifact().runtime_code.hex()
    _rpc(w3, "anvil_setCode", [COLLECTOR_FACTORY, code])


def _reorg_tx(tx: Any) -> Any:
    if isinstance(tx, bytes | bytearray):
        return HexBytes(tx).to_0x_hex()
    if isinstance(tx, str):
        return tx
    if isinstance(tx, Mapping):
        return {k: hex(v) if isinstance(v, int) else v for k, v in tx.items()}
    raise TypeError(f"unsupported reorg transaction: {tx!r}")


def _rpc(w3: Web3, method: str, params: Sequence[Any] = ()) -> Any:
    response = w3.provider.make_request(RPCEndpoint(method), list(params))
    error = response.get("error")
    if error is not None:
        raise RuntimeError(f"{method} failed: {error}")
    return response.get("result")


def _checksum(address: str) -> ChecksumAddress:
    return Web3.to_checksum_address(address)


def _default_account(w3: Web3) -> ChecksumAddress:
    accounts = w3.eth.accounts
    if not accounts:
        raise RuntimeError("the node has no unlocked accounts")
    return _checksum(accounts[0])


def _mine_if_manual(w3: Web3) -> None:
    """Mine one block if the node mines neither per transaction nor on an interval.

    Otherwise a helper would wait for a receipt that never comes. Nodes without the anvil
    methods are left alone.
    """
    try:
        if _rpc(w3, "anvil_getAutomine") is not False:
            return
        # None when interval mining is off; 0 for a sub-second --block-time.
        if _rpc(w3, "anvil_getIntervalMining") is not None:
            return
    except RuntimeError:
        return
    _rpc(w3, "evm_mine")


def _wait(w3: Web3, tx_hash: HexBytes, *, expect_success: bool = True) -> TxReceipt:
    _mine_if_manual(w3)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
    succeeded = receipt["status"] == 1
    if succeeded != expect_success:
        outcome = "reverted" if expect_success else "unexpectedly succeeded"
        raise RuntimeError(f"transaction {tx_hash.to_0x_hex()} {outcome}")
    return receipt


def _token(w3: Web3, token: str) -> Contract:
    return w3.eth.contract(address=_checksum(token), abi=load_artifact("TestToken")["abi"])


def _router(w3: Web3, router: str) -> Contract:
    return w3.eth.contract(address=_checksum(router), abi=load_artifact("PaymentRouter")["abi"])


def _deploy(w3: Web3, name: str, args: Sequence[Any], deployer: str | None) -> ChecksumAddress:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    sender = _checksum(deployer) if deployer is not None else _default_account(w3)
    tx_hash = factory.constructor(*args).transact({"from": sender})
    address = _wait(w3, tx_hash)["contractAddress"]
    if address is None:
        raise RuntimeError(f"deployment of {name} produced no contract address")
    return _checksum(address)


def deploy_token(
    w3: Web3,
    *,
    name: str = "USD Coin",
    symbol: str = "USDC",
    decimals: int = 6,
    deployer: str | None = None,
) -> ChecksumAddress:
    """Deploy a TestToken and return its checksum address once mined.

    `decimals` is the number of decimal places of one token (0..255). `deployer` defaults to the
    node's first unlocked account.
    """
    if not 0 <= decimals <= 255:
        raise ValueError("decimals must be in 0..255")
    return _deploy(w3, "TestToken", [name, symbol, decimals], deployer)


def mint(w3: Web3, token: str, to: str, amount: int) -> HexStr:
    """Mint `amount` base units of `token` to `to` (from the first account); return the tx hash."""
    sender = _default_account(w3)
    tx_hash = _token(w3, token).functions.mint(_checksum(to), amount).transact({"from": sender})
    _wait(w3, tx_hash)
    return HexStr(tx_hash.to_0x_hex())


def transfer_token(w3: Web3, token: str, sender: str, to: str, amount: int) -> HexStr:
    """Transfer `amount` base units of `token` from unlocked `sender` to `to`; return tx hash."""
    call = _token(w3, token).functions.transfer(_checksum(to), amount)
    tx_hash = call.transact({"from": _checksum(sender)})
    _wait(w3, tx_hash)
    return HexStr(tx_hash.to_0x_hex())


def token_balance(w3: Web3, token: str, owner: str) -> int:
    """Return `owner`'s balance of `token` in base units, at the latest block."""
    balance = _token(w3, token).functions.balanceOf(_checksum(owner)).call()
    return int(balance)


def send_eth(w3: Web3, sender: str, to: str, wei: int) -> HexStr:
    """Send `wei` wei from unlocked `sender` to `to` in a plain transaction; return the tx hash."""
    tx: TxParams = {"from": _checksum(sender), "to": _checksum(to), "value": Wei(wei)}
    tx_hash = w3.eth.send_transaction(tx)
    _wait(w3, tx_hash)
    return HexStr(tx_hash.to_0x_hex())


def deploy_router(w3: Web3, deployer: str | None = None) -> ChecksumAddress:
    """Deploy a PaymentRouter and return its checksum address once mined."""
    return _deploy(w3, "PaymentRouter", [], deployer)


def _approve(w3: Web3, token: str, owner: str, spender: str, amount: int) -> None:
    call = _token(w3, token).functions.approve(_checksum(spender), amount)
    _wait(w3, call.transact({"from": _checksum(owner)}))


def batch_transfer(
    w3: Web3, router: str, token: str, sender: str, payments: Sequence[tuple[str, int]]
) -> HexStr:
    """Pay several (recipient, amount in base units) pairs of `token` from `sender` in one tx.

    Approves `router` for the total first (a separate transaction), then calls batchTransfer,
    whose receipt holds one Transfer log per payment. Returns the batch transaction's hash.
    """
    if not payments:
        raise ValueError("payments must not be empty")
    recipients = [_checksum(to) for to, _ in payments]
    amounts = [int(amount) for _, amount in payments]
    _approve(w3, token, sender, router, sum(amounts))
    call = _router(w3, router).functions.batchTransfer(_checksum(token), recipients, amounts)
    tx_hash = call.transact({"from": _checksum(sender)})
    _wait(w3, tx_hash)
    return HexStr(tx_hash.to_0x_hex())


def forward_eth(
    w3: Web3, router: str, sender: str, to: str, wei: int, *, revert: bool = False
) -> HexStr:
    """Send `wei` wei from `sender` through `router` to `to` by an internal call; return the hash.

    The transaction goes to the router, so `to` receives ETH without any transaction addressed
    to it. With revert=True the router forwards and then reverts: the transaction is mined with
    status 0 (it carries an explicit gas limit) and no ETH moves.
    """
    functions = _router(w3, router).functions
    call = functions.forwardEthThenRevert if revert else functions.forwardEth
    tx: TxParams = {"from": _checksum(sender), "value": Wei(wei)}
    if revert:
        tx["gas"] = REVERTING_TX_GAS
    tx_hash = call(_checksum(to)).transact(tx)
    _wait(w3, tx_hash, expect_success=not revert)
    return HexStr(tx_hash.to_0x_hex())


def transfer_then_revert(
    w3: Web3, router: str, token: str, sender: str, to: str, amount: int
) -> HexStr:
    """Send a token transfer that executes and then reverts; return the failed tx's hash.

    Approves `router` for `amount` first (that approval stays in place), so the transfer inside
    succeeds and only the final revert undoes it: the receipt has status 0 and no logs.
    """
    _approve(w3, token, sender, router, amount)
    call = _router(w3, router).functions.transferThenRevert(_checksum(token), _checksum(to), amount)
    tx_hash = call.transact({"from": _checksum(sender), "gas": REVERTING_TX_GAS})
    _wait(w3, tx_hash, expect_success=False)
    return HexStr(tx_hash.to_0x_hex())


def deploy_price_feed(
    w3: Web3, *, decimals: int = 8, answer: int, description: str = "ETH / USD"
) -> ChecksumAddress:
    """Deploy a TestPriceFeed (Chainlink AggregatorV3 shape) answering `answer` (scaled by
    10**decimals), updated now; return its checksum address."""
    return _deploy(w3, "TestPriceFeed", [decimals, description, answer], None)


def set_feed_answer(w3: Web3, feed: str, answer: int, updated_at: int) -> HexStr:
    """Publish a new round on a TestPriceFeed: `answer` updated at `updated_at` (unix seconds)."""
    abi = load_artifact("TestPriceFeed")["abi"]
    contract = w3.eth.contract(address=_checksum(feed), abi=abi)
    tx_hash = contract.functions.setAnswer(answer, updated_at).transact(
        {"from": _default_account(w3)}
    )
    _wait(w3, tx_hash)
    return HexStr(tx_hash.to_0x_hex())
