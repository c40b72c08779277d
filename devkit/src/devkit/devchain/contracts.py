"""Deploy and drive the dev chain's contracts: ERC-20 payments, awkward shapes, price feeds.

The contracts come from the committed artifacts in `devkit/contracts/` (see
`devkit.compile_contracts`):

- `TestToken`: a minimal ERC-20 whose `mint` is open to anyone;
- `PaymentRouter`: awkward payment shapes (several transfers in one transaction, ETH sent by an
  internal call, transactions that move value and then revert);
- `TestPriceFeed`: a Chainlink AggregatorV3-shaped feed whose answer a test sets.

Every transaction is sent from one of anvil's unlocked dev accounts with `eth_sendTransaction`,
so no private key appears in code. Helpers wait for the receipt (30 s at most) and return the
transaction hash as a lowercase "0x"-prefixed hex string. Amounts are integers in base units: wei
for ETH, 10**-decimals of a token for tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any, Final

from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint, TxParams, TxReceipt, Wei

RECEIPT_TIMEOUT_S: Final[float] = 30.0
"""How long a helper waits for its transaction to be mined, in seconds."""

REVERTING_TX_GAS: Final[int] = 300_000
"""Explicit gas limit for transactions meant to fail, so they are mined instead of being
rejected by gas estimation."""


def load_artifact(name: str) -> dict[str, Any]:
    """Load the committed compiled artifact `<name>.json` (abi, bytecode, compiler, source_sha256).

    Raises FileNotFoundError for an unknown contract name, ValueError for one that is not an
    identifier.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"invalid contract name: {name!r}")
    resource = resources.files("devkit").joinpath("contracts", f"{name}.json")
    if not resource.is_file():
        raise FileNotFoundError(f"no compiled artifact for contract {name!r}")
    artifact: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return artifact


def rpc(w3: Web3, method: str, params: Sequence[Any] = ()) -> Any:
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
        if rpc(w3, "anvil_getAutomine") is not False:
            return
        # None when interval mining is off; 0 for a sub-second --block-time.
        if rpc(w3, "anvil_getIntervalMining") is not None:
            return
    except RuntimeError:
        return
    rpc(w3, "evm_mine")


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
