"""Tests of devkit.devchain and compile_contracts against a real anvil node.

Needs `npm ci` (anvil and solc from node_modules). One anvil serves the whole module; tests that
need their own mining mode start a short-lived one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from devkit import REPO_ROOT, compile_contracts, devchain
from devkit.devchain import (
    Anvil,
    batch_transfer,
    deploy_router,
    deploy_token,
    forward_eth,
    load_artifact,
    mint,
    send_eth,
    token_balance,
    transfer_then_revert,
    transfer_token,
)

USDC = 10**6  # one 6-decimal token, in base units
ETH = 10**18  # one ether, in wei


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    with Anvil() as node:
        yield node


@pytest.fixture(scope="module")
def w3(anvil: Anvil) -> Web3:
    return anvil.w3


@pytest.fixture(scope="module")
def token(w3: Web3) -> str:
    return deploy_token(w3, name="USD Coin", symbol="USDC", decimals=6)


@pytest.fixture(scope="module")
def router(w3: Web3) -> str:
    return deploy_router(w3)


@pytest.fixture(scope="module")
def payer(anvil: Anvil, w3: Web3, token: str) -> ChecksumAddress:
    """Return a dev account holding 1,000,000 USDC of `token`."""
    account = Web3.to_checksum_address(anvil.accounts[1])
    mint(w3, token, account, 1_000_000 * USDC)
    return account


def fresh_address() -> ChecksumAddress:
    """Return a random checksum address that has never been used on the chain."""
    return Web3.to_checksum_address("0x" + secrets.token_hex(20))


def token_contract(w3: Web3, token: str) -> Contract:
    address = Web3.to_checksum_address(token)
    return w3.eth.contract(address=address, abi=load_artifact("TestToken")["abi"])


# --- artifacts -----------------------------------------------------------------------------------


def test_committed_artifacts_are_what_compile_contracts_produces(tmp_path: Path) -> None:
    written = compile_contracts.write_artifacts(out_dir=tmp_path)
    assert sorted(p.name for p in written) == [
        "CollectorFactory.json",
        "Multicall3.json",
        "PaymentRouter.json",
        "TestPriceFeed.json",
        "TestToken.json",
        "TestTokenNoBool.json",
        "TestTokenPausable.json",
    ]
    for build in compile_contracts.BUILDS:
        name = build.name
        fresh = json.loads((tmp_path / f"{name}.json").read_text())
        committed = json.loads(build.artifact.read_text())
        source = build.source.read_bytes()
        assert committed["source_sha256"] == hashlib.sha256(source).hexdigest(), name
        assert fresh["source_sha256"] == committed["source_sha256"], name
        assert fresh["abi"] == committed["abi"], name
        assert fresh["bytecode"] == committed["bytecode"], name
        assert fresh.get("deployed_bytecode") == committed.get("deployed_bytecode"), name
        assert fresh["compiler"] == committed["compiler"], name
        assert committed["compiler"].startswith("solc 0.8.37+"), name
        # Byte for byte, so that recompiling never produces a spurious diff.
        committed_text = build.artifact.read_text()
        assert (tmp_path / f"{name}.json").read_text() == committed_text, name


def test_the_collector_factory_artifact_is_relay_package_data() -> None:
    (build,) = [b for b in compile_contracts.BUILDS if b.name == "CollectorFactory"]
    root = REPO_ROOT
    assert build.source == root / "contracts" / "CollectorFactory.sol"
    assert build.artifact == root / "relay" / "contracts" / "CollectorFactory.json"
    committed = json.loads(build.artifact.read_text())
    assert set(committed) == {
        "abi",
        "bytecode",
        "collector_init_code",
        "compiler",
        "deployed_bytecode",
        "source_sha256",
    }
    # No metadata hash: the bytecode (so the factory's CREATE2 address) ignores comments.
    fresh = compile_contracts.compile_sources([build])["CollectorFactory"]
    assert fresh["bytecode"] == committed["bytecode"]
    assert "a264697066735822" not in committed["bytecode"]  # CBOR "ipfs" key of the metadata
    assert "a264697066735822" in load_artifact("TestToken")["bytecode"]


def test_load_artifact() -> None:
    assert load_artifact("Multicall3") == json.loads(
        (compile_contracts.CONTRACTS_DIR / "Multicall3.json").read_text()
    )
    artifact = load_artifact("TestToken")
    assert set(artifact) == {"abi", "bytecode", "compiler", "source_sha256"}
    assert artifact["bytecode"].startswith("0x")
    names = {item.get("name") for item in artifact["abi"]}
    assert {"transfer", "transferFrom", "approve", "allowance", "mint", "Transfer"} <= names
    with pytest.raises(FileNotFoundError):
        load_artifact("NoSuchContract")
    with pytest.raises(ValueError):
        load_artifact("../TestToken")


# --- node lifecycle -----------------------------------------------------------------------------


def test_anvil_path_honours_env(monkeypatch: pytest.MonkeyPatch) -> None:
    default = devchain.anvil_path()
    assert Path(default).is_file()
    monkeypatch.setenv("RELAY_ANVIL", default)
    assert devchain.anvil_path() == default
    monkeypatch.setenv("RELAY_ANVIL", "/nonexistent/anvil")
    with pytest.raises(FileNotFoundError, match="anvil not found"):
        devchain.anvil_path()


def test_anvil_basics(anvil: Anvil, w3: Web3) -> None:
    assert anvil.url.startswith("http://127.0.0.1:")
    assert anvil.running
    assert w3.eth.chain_id == 31337
    assert len(anvil.accounts) == 10
    # The first account of DEV_MNEMONIC, as every anvil/hardhat user knows it.
    assert anvil.accounts[0] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert all(Web3.is_checksum_address(a) for a in anvil.accounts)
    before = w3.eth.block_number
    anvil.mine(3)
    assert w3.eth.block_number == before + 3


def test_start_fails_with_log_when_port_taken(anvil: Anvil) -> None:
    clash = Anvil(port=anvil.port)
    with pytest.raises(RuntimeError, match="Address already in use"):
        clash.start()
    assert not clash.running
    clash.stop()  # idempotent
    assert anvil.running


def test_stop_is_idempotent_and_custom_chain_id() -> None:
    node = Anvil(chain_id=1337, accounts=2, balance_eth=5)
    with pytest.raises(RuntimeError):
        _ = node.url  # no port before start
    with node:
        assert node.w3.eth.chain_id == 1337
        assert len(node.accounts) == 2
        assert node.w3.eth.get_balance(Web3.to_checksum_address(node.accounts[0])) == 5 * ETH
        log = node.log_path
        assert log is not None and log.exists()
    assert not node.running
    assert not log.exists()
    node.stop()


# --- tokens ---------------------------------------------------------------------------------------


def test_token_mint_transfer_and_logs(anvil: Anvil, w3: Web3, token: str) -> None:
    contract = token_contract(w3, token)
    assert contract.functions.decimals().call() == 6
    assert contract.functions.symbol().call() == "USDC"
    assert contract.functions.name().call() == "USD Coin"
    alice, bob = anvil.accounts[2], fresh_address()

    minted = mint(w3, token, alice, 250 * USDC)
    assert minted.startswith("0x") and len(minted) == 66 and minted == minted.lower()
    assert token_balance(w3, token, alice) == 250 * USDC

    tx_hash = transfer_token(w3, token, alice, bob, 12_345_678)
    assert token_balance(w3, token, alice) == 250 * USDC - 12_345_678
    assert token_balance(w3, token, bob) == 12_345_678

    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    (event,) = contract.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert event["args"] == {"from": alice, "to": bob, "value": 12_345_678}
    assert event["address"] == token
    tx = w3.eth.get_transaction(tx_hash)
    assert tx["from"] == alice and tx["to"] == token


def test_batch_transfer_emits_several_transfer_logs(
    w3: Web3, token: str, router: str, payer: ChecksumAddress
) -> None:
    payments = [(fresh_address(), 1 * USDC), (fresh_address(), 2 * USDC), (fresh_address(), 3)]
    before = token_balance(w3, token, payer)
    tx_hash = batch_transfer(w3, router, token, payer, payments)

    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert w3.eth.get_transaction(tx_hash)["to"] == router
    events = token_contract(w3, token).events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["from"], e["args"]["to"], e["args"]["value"]) for e in events] == [
        (payer, to, amount) for to, amount in payments
    ]
    assert {e["transactionHash"].to_0x_hex() for e in events} == {tx_hash}
    for to, amount in payments:
        assert token_balance(w3, token, to) == amount
    assert token_balance(w3, token, payer) == before - sum(a for _, a in payments)


def test_forward_eth_is_an_internal_transfer(anvil: Anvil, w3: Web3, router: str) -> None:
    sender, recipient = anvil.accounts[3], fresh_address()
    tx_hash = forward_eth(w3, router, sender, recipient, 3 * ETH // 2)
    assert w3.eth.get_balance(Web3.to_checksum_address(recipient)) == 3 * ETH // 2
    assert w3.eth.get_balance(Web3.to_checksum_address(router)) == 0
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    sent = [tx["to"] for tx in block["transactions"] if not isinstance(tx, bytes)]
    assert sent == [router]  # none addressed to recipient


def test_revert_variants_are_mined_failed_and_move_nothing(
    anvil: Anvil, w3: Web3, token: str, router: str, payer: ChecksumAddress
) -> None:
    recipient = fresh_address()
    eth_before = w3.eth.get_balance(payer)
    tx_hash = forward_eth(w3, router, payer, recipient, ETH, revert=True)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    assert w3.eth.get_balance(recipient) == 0
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(payer) == eth_before - fee  # the value came back

    tokens_before = token_balance(w3, token, payer)
    tx_hash = transfer_then_revert(w3, router, token, payer, recipient, 5 * USDC)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    assert token_balance(w3, token, recipient) == 0
    assert token_balance(w3, token, payer) == tokens_before


def test_send_eth(anvil: Anvil, w3: Web3) -> None:
    recipient = fresh_address()
    tx_hash = send_eth(w3, anvil.accounts[4], recipient, 12_345)
    assert w3.eth.get_balance(recipient) == 12_345
    assert w3.eth.get_transaction(tx_hash)["to"] == recipient


# --- chain history ----------------------------------------------------------------------------


def test_snapshot_revert_changes_canonical_hash(anvil: Anvil, w3: Web3) -> None:
    recipient = fresh_address()
    snapshot = anvil.snapshot()
    tx_hash = send_eth(w3, anvil.accounts[5], recipient, 1_000)
    height = w3.eth.get_transaction_receipt(tx_hash)["blockNumber"]
    old_hash = w3.eth.get_block(height)["hash"]

    assert anvil.revert(snapshot) is True
    assert w3.eth.block_number == height - 1
    assert w3.eth.get_balance(recipient) == 0
    anvil.mine()
    assert w3.eth.get_block(height)["hash"] != old_hash
    assert anvil.revert(snapshot) is False  # reverting consumes the snapshot


def test_reorg_replaces_blocks(anvil: Anvil, w3: Web3) -> None:
    dropped_to, new_to = fresh_address(), fresh_address()
    tx_hash = send_eth(w3, anvil.accounts[6], dropped_to, 777)
    height = w3.eth.get_transaction_receipt(tx_hash)["blockNumber"]
    anvil.mine(2)
    latest = w3.eth.block_number
    old_hashes = [w3.eth.get_block(n)["hash"] for n in range(height, latest + 1)]

    replacement = {"from": anvil.accounts[6], "to": new_to, "value": 555}
    anvil.reorg(latest - height + 1, [(replacement, 0)])

    assert w3.eth.block_number == latest  # same length, different blocks
    new_blocks = [w3.eth.get_block(n) for n in range(height, latest + 1)]
    assert all(b["hash"] != h for b, h in zip(new_blocks, old_hashes, strict=True))
    assert w3.eth.get_block(height - 1)["hash"] == new_blocks[0]["parentHash"]
    assert len(new_blocks[0]["transactions"]) == 1
    assert w3.eth.get_balance(dropped_to) == 0  # the replaced tx is gone, not re-mined
    assert w3.eth.get_balance(new_to) == 555


def test_finalized_tag_lags_latest_by_64_blocks(anvil: Anvil, w3: Web3) -> None:
    # Pins anvil's behaviour that the watcher's tests rely on: "finalized" is latest - 64 (two
    # 32-slot epochs, clamped at genesis) and "safe" is latest - 32.
    anvil.mine(70)
    latest = w3.eth.block_number
    assert w3.eth.get_block("finalized")["number"] == latest - 64
    assert w3.eth.get_block("safe")["number"] == latest - 32


# --- mining modes ---------------------------------------------------------------------------------


def test_block_time_mode() -> None:
    with Anvil(block_time=0.5) as node:
        w3 = node.w3
        start = time.monotonic()
        while w3.eth.block_number < 2:  # blocks come by themselves
            assert time.monotonic() - start < 10
            time.sleep(0.1)
        token = deploy_token(w3, decimals=18, symbol="TT")
        alice, bob = node.accounts[0], node.accounts[1]
        mint(w3, token, alice, 10**18)
        tx_hash = transfer_token(w3, token, alice, bob, 10**17)
        assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
        assert token_balance(w3, token, bob) == 10**17


def test_helpers_mine_when_automine_is_off(anvil: Anvil, w3: Web3) -> None:
    recipient = fresh_address()
    anvil.set_automine(False)
    try:
        before = w3.eth.block_number
        send_eth(w3, anvil.accounts[7], recipient, 42)  # would wait forever without a block
        assert w3.eth.get_balance(recipient) == 42
        assert w3.eth.block_number == before + 1
    finally:
        anvil.set_automine(True)


def test_interval_mining(anvil: Anvil, w3: Web3) -> None:
    anvil.set_automine(False)
    anvil.set_interval_mining(1)
    try:
        before = w3.eth.block_number
        recipient = fresh_address()
        send_eth(w3, anvil.accounts[8], recipient, 1)
        assert w3.eth.get_balance(recipient) == 1
        assert w3.eth.block_number > before
    finally:
        anvil.set_interval_mining(0)
        anvil.set_automine(True)
    before = w3.eth.block_number
    send_eth(w3, anvil.accounts[8], fresh_address(), 1)
    assert w3.eth.block_number == before + 1  # automine again
