"""Tests of relay.collectors and contracts/CollectorFactory.sol on a real anvil node.

The factory is the one `Anvil.start` installs at COLLECTOR_FACTORY (its committed runtime code);
one test deploys it through the deterministic deployment proxy on a node of its own instead.
Payments are real ERC-20 transfers and ETH sends to collector addresses; collections are real
`collect` transactions sent by a third party.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from eth_abi.abi import decode
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD
from web3.types import TxParams, TxReceipt, Wei

from devkit.devchain import (
    Anvil,
    deploy_token,
    load_artifact,
    mint,
    send_eth,
    token_balance,
)
from relay import collectors
from relay.collectors import COLLECTOR_FACTORY, DEPLOYMENT_PROXY

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
def usdc(w3: Web3) -> str:
    return deploy_token(w3, name="USD Coin", symbol="USDC", decimals=6)


@pytest.fixture(scope="module")
def usdt(w3: Web3) -> str:
    """A token whose transfer returns no bool, as USDT on Ethereum."""
    return _deploy(w3, "TestTokenNoBool", ["Tether USD", "USDT", 6])


@pytest.fixture(scope="module")
def pausable(w3: Web3) -> str:
    """A token whose transfers revert while paused (as USDC's when paused or blocklisted)."""
    return _deploy(w3, "TestTokenPausable", ["Paused Dollar", "PUSD", 6])


@pytest.fixture(scope="module")
def factory(w3: Web3) -> Contract:
    address = Web3.to_checksum_address(COLLECTOR_FACTORY)
    return w3.eth.contract(address=address, abi=collectors.factory_artifact().abi)


@pytest.fixture(scope="module")
def collector_caller(anvil: Anvil) -> str:
    """A third party that pays the gas of collections: neither payer nor payout."""
    return anvil.accounts[7]


def fresh_address() -> str:
    return Web3.to_checksum_address("0x" + secrets.token_hex(20))


def fresh_salts(count: int) -> list[bytes]:
    return [secrets.token_bytes(32) for _ in range(count)]


def _deploy(w3: Web3, name: str, args: Sequence[Any]) -> str:
    artifact = load_artifact(name)
    contract = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx_hash = contract.constructor(*args).transact({"from": w3.eth.accounts[0]})
    address = w3.eth.wait_for_transaction_receipt(tx_hash)["contractAddress"]
    assert address is not None
    return Web3.to_checksum_address(address)


def send_collect(
    w3: Web3,
    sender: str,
    payout: str,
    salts: Sequence[bytes],
    tokens: Sequence[str],
    gas: int | None = None,
) -> TxReceipt:
    """Send collect(payout, salts, tokens) to the factory from `sender`; return the receipt,
    whatever its status."""
    call = collectors.collect_transaction(COLLECTOR_FACTORY, payout, salts, tokens)
    tx: TxParams = {"from": Web3.to_checksum_address(sender), "to": call.to, "data": call.data}
    if gas is not None:
        tx["gas"] = gas
    return w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))


def code_at(w3: Web3, address: str) -> bytes:
    return bytes(w3.eth.get_code(Web3.to_checksum_address(address)))


def eth_balance(w3: Web3, address: str) -> int:
    return int(w3.eth.get_balance(Web3.to_checksum_address(address)))


def collected_events(factory: Contract, receipt: TxReceipt) -> list[tuple[str, str]]:
    events = factory.events.Collected().process_receipt(receipt, errors=DISCARD)
    return [(e["args"]["payout"], e["args"]["collector"]) for e in events]


# --- off chain ------------------------------------------------------------------------------------


def test_create2_address_matches_the_eip_1014_examples() -> None:
    zero = bytes(32)
    one_byte_code = keccak(b"\x00")
    assert (
        collectors.create2_address("0x" + "00" * 20, zero, one_byte_code)
        == "0x4D1A2e2bB4F88F0250f26Ffff098B0b30B26BF38"
    )
    assert (
        collectors.create2_address(
            "0xdeadbeef00000000000000000000000000000000", zero, one_byte_code
        )
        == "0xB928f69Bb1D91Cd65274e3c79d8986362984fDA3"
    )
    salt = bytes.fromhex("000000000000000000000000feed000000000000000000000000000000000000")
    assert (
        collectors.create2_address(
            "0xdeadbeef00000000000000000000000000000000", salt, one_byte_code
        )
        == "0xD04116cDd17beBE565EB2422F2497E06cC1C9833"
    )


def test_invoice_salt_is_keccak_of_the_utf8_id() -> None:
    assert collectors.invoice_salt("inv_1") == keccak(b"inv_1")
    assert collectors.invoice_salt("fac-tür-7") == keccak("fac-tür-7".encode())
    assert len(collectors.invoice_salt("")) == 32
    assert collectors.invoice_salt("a") != collectors.invoice_salt("b")


def test_the_committed_factory_address_is_where_the_deployment_lands() -> None:
    assert collectors.factory_address() == COLLECTOR_FACTORY
    deployment = collectors.deployment_transaction()
    assert deployment.to == DEPLOYMENT_PROXY
    assert deployment.data[:32] == collectors.FACTORY_DEPLOYMENT_SALT
    assert deployment.data[32:] == collectors.factory_artifact().init_code
    # Another salt, another address: the salt is part of the address.
    assert collectors.factory_address(b"\x01" * 32) != COLLECTOR_FACTORY


def test_collect_calldata_encodes_the_call() -> None:
    payout, token = fresh_address(), fresh_address()
    salts = fresh_salts(2)
    data = collectors.collect_calldata(payout, salts, [token])
    assert data[:4] == keccak(b"collect(address,bytes32[],address[])")[:4]
    decoded = decode(["address", "bytes32[]", "address[]"], data[4:])
    assert decoded == (payout.lower(), tuple(salts), (token.lower(),))


@pytest.mark.parametrize(
    ("payout", "salts", "message"),
    [
        ("0x1234", [bytes(32)], "20-byte"),
        ("0x" + "zz" * 20, [bytes(32)], "valid address"),
        ("0x" + "11" * 20, [b"short"], "32 bytes"),
        ("0x" + "11" * 20, [bytes(32), bytes(32)], "distinct"),
    ],
)
def test_collect_calldata_refuses_malformed_input(
    payout: str, salts: list[bytes], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        collectors.collect_calldata(payout, salts, [])


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused() -> None:
    good = "0x4e59b44847b379578588920cA78FbF26c0B4956C"
    bad = good[:-1] + "c"  # one letter's case flipped
    with pytest.raises(ValueError, match="checksum"):
        collectors.collector_address(COLLECTOR_FACTORY, bad, bytes(32))
    assert collectors.collector_address(COLLECTOR_FACTORY, good.lower(), bytes(32)) == (
        collectors.collector_address(COLLECTOR_FACTORY, good, bytes(32))
    )


# --- on chain -------------------------------------------------------------------------------------


def test_the_dev_chain_has_the_factory_and_the_proxy(w3: Web3) -> None:
    assert code_at(w3, COLLECTOR_FACTORY) == collectors.factory_artifact().runtime_code
    assert len(code_at(w3, DEPLOYMENT_PROXY)) > 0


def test_off_chain_address_equals_the_factory_collector_address(
    w3: Web3, factory: Contract
) -> None:
    pairs = [(fresh_address(), salt) for salt in fresh_salts(4)]
    pairs.append((fresh_address(), collectors.invoice_salt("inv_42")))
    for payout, salt in pairs:
        on_chain = factory.functions.collectorAddress(payout, salt).call()
        assert collectors.collector_address(COLLECTOR_FACTORY, payout, salt) == on_chain
    assert factory.functions.collectorInitCodeHash().call() == (
        collectors.collector_init_code_hash()
    )
    assert collectors.invoice_collector(COLLECTOR_FACTORY, pairs[-1][0], "inv_42") == (
        factory.functions.collectorAddress(*pairs[-1]).call()
    )
    # The same salt for two payouts gives two addresses: the payout is bound into it.
    payout_a, payout_b, salt = fresh_address(), fresh_address(), bytes(32)
    assert collectors.collector_address(COLLECTOR_FACTORY, payout_a, salt) != (
        collectors.collector_address(COLLECTOR_FACTORY, payout_b, salt)
    )


def test_a_third_party_collect_moves_usdc_and_eth_exactly_to_the_payout(
    anvil: Anvil, w3: Web3, usdc: str, factory: Contract, collector_caller: str
) -> None:
    payer, payout = anvil.accounts[1], fresh_address()
    mint(w3, usdc, payer, 1_000 * USDC)
    salts = fresh_salts(2)
    first, second = (collectors.collector_address(COLLECTOR_FACTORY, payout, s) for s in salts)
    w3.eth.wait_for_transaction_receipt(
        w3.eth.contract(
            address=Web3.to_checksum_address(usdc), abi=load_artifact("TestToken")["abi"]
        )
        .functions.transfer(first, 12_345_678)
        .transact({"from": payer})
    )
    send_eth(w3, payer, second, ETH // 2)
    assert code_at(w3, first) == b"" and code_at(w3, second) == b""
    caller_eth = eth_balance(w3, collector_caller)

    receipt = send_collect(w3, collector_caller, payout, salts, [usdc])

    assert receipt["status"] == 1
    assert token_balance(w3, usdc, payout) == 12_345_678
    assert eth_balance(w3, payout) == ETH // 2
    for collector in (first, second):
        assert token_balance(w3, usdc, collector) == 0
        assert eth_balance(w3, collector) == 0
        assert code_at(w3, collector) == b""
    # The third party paid the gas and got nothing.
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert eth_balance(w3, collector_caller) == caller_eth - fee
    assert token_balance(w3, usdc, collector_caller) == 0
    assert collected_events(factory, receipt) == [(payout, first), (payout, second)]


def test_collecting_with_your_own_payout_gets_nothing_and_moves_nothing(
    anvil: Anvil, w3: Web3, usdc: str, factory: Contract
) -> None:
    payout, thief = fresh_address(), anvil.accounts[8]
    salts = fresh_salts(2)
    victims = [collectors.collector_address(COLLECTOR_FACTORY, payout, s) for s in salts]
    for collector in victims:
        mint(w3, usdc, collector, 50 * USDC)
        send_eth(w3, anvil.accounts[0], collector, ETH // 10)
    thief_usdc, thief_eth = token_balance(w3, usdc, thief), eth_balance(w3, thief)

    receipt = send_collect(w3, thief, thief, salts, [usdc])

    # It "works", on the thief's own (empty) collectors: other addresses than the victims'.
    assert receipt["status"] == 1
    created = [collector for _, collector in collected_events(factory, receipt)]
    assert created and not set(created) & set(victims)
    for collector in victims:
        assert token_balance(w3, usdc, collector) == 50 * USDC
        assert eth_balance(w3, collector) == ETH // 10
    assert token_balance(w3, usdc, thief) == thief_usdc
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert eth_balance(w3, thief) == thief_eth - fee
    assert token_balance(w3, usdc, payout) == 0 and eth_balance(w3, payout) == 0


def test_one_batch_with_a_no_bool_token_a_reverting_token_and_an_empty_collector(
    anvil: Anvil,
    w3: Web3,
    usdc: str,
    usdt: str,
    pausable: str,
    collector_caller: str,
) -> None:
    payout = fresh_address()
    salts = fresh_salts(4)
    no_bool, reverting, empty, normal = (
        collectors.collector_address(COLLECTOR_FACTORY, payout, s) for s in salts
    )
    mint(w3, usdt, no_bool, 7 * USDC)
    mint(w3, usdc, no_bool, 3 * USDC)
    mint(w3, pausable, reverting, 9 * USDC)
    mint(w3, usdc, reverting, 4 * USDC)
    send_eth(w3, anvil.accounts[0], reverting, 3 * ETH)
    mint(w3, usdc, normal, 5 * USDC)
    pause = w3.eth.contract(
        address=Web3.to_checksum_address(pausable), abi=load_artifact("TestTokenPausable")["abi"]
    ).functions
    w3.eth.wait_for_transaction_receipt(pause.setPaused(True).transact({"from": anvil.accounts[0]}))
    tokens = [usdt, pausable, usdc]

    receipt = send_collect(w3, collector_caller, payout, salts, tokens)

    assert receipt["status"] == 1
    assert token_balance(w3, usdt, payout) == 7 * USDC
    assert token_balance(w3, usdc, payout) == (3 + 4 + 5) * USDC
    assert eth_balance(w3, payout) == 3 * ETH
    # The paused token stayed where it was; everything else of that collector moved.
    assert token_balance(w3, pausable, reverting) == 9 * USDC
    assert token_balance(w3, pausable, payout) == 0
    for collector in (no_bool, reverting, empty, normal):
        assert token_balance(w3, usdc, collector) == 0
        assert token_balance(w3, usdt, collector) == 0
        assert eth_balance(w3, collector) == 0
        assert code_at(w3, collector) == b""

    # Once the token works again, the same collector is collected again.
    w3.eth.wait_for_transaction_receipt(
        pause.setPaused(False).transact({"from": anvil.accounts[0]})
    )
    again = send_collect(w3, collector_caller, payout, [salts[1]], tokens)
    assert again["status"] == 1
    assert token_balance(w3, pausable, reverting) == 0
    assert token_balance(w3, pausable, payout) == 9 * USDC


def test_a_payment_after_a_collection_is_collectable_again(
    anvil: Anvil, w3: Web3, usdc: str, collector_caller: str
) -> None:
    payout, (salt,) = fresh_address(), fresh_salts(1)
    collector = collectors.collector_address(COLLECTOR_FACTORY, payout, salt)
    mint(w3, usdc, collector, 10 * USDC)
    assert send_collect(w3, collector_caller, payout, [salt], [usdc])["status"] == 1
    assert code_at(w3, collector) == b""
    assert w3.eth.get_transaction_count(Web3.to_checksum_address(collector)) == 0

    mint(w3, usdc, collector, 2 * USDC)
    send_eth(w3, anvil.accounts[0], collector, 1234)
    assert code_at(w3, collector) == b""
    assert send_collect(w3, collector_caller, payout, [salt], [usdc])["status"] == 1
    assert token_balance(w3, usdc, payout) == 12 * USDC
    assert eth_balance(w3, payout) == 1234
    assert code_at(w3, collector) == b""


def assert_all_or_nothing(
    w3: Web3, sender: str, payout: str, salts: Sequence[bytes], tokens: Sequence[str], step: int
) -> None:
    """Send the collect with gas limits rising towards what it needs (eth_estimateGas), then
    with that: each one below is mined with status 0 and moves nothing; the last moves all."""
    addresses = [collectors.collector_address(COLLECTOR_FACTORY, payout, s) for s in salts]

    def holdings() -> dict[tuple[str, str], int]:
        """(asset, owner) -> balance, for the payout and every collector; asset "ETH" or token."""
        owners = [payout, *addresses]
        held = {
            (token, owner): token_balance(w3, token, owner) for token in tokens for owner in owners
        }
        held.update({("ETH", owner): eth_balance(w3, owner) for owner in owners})
        return held

    before = holdings()
    call = collectors.collect_transaction(COLLECTOR_FACTORY, payout, salts, tokens)
    needed = w3.eth.estimate_gas({"from": sender, "to": call.to, "data": call.data})
    # Limits near the estimate are where a single token call would run out of gas (EIP-150
    # leaves the caller 1/64) while the collector and the factory could still finish.
    limits = [needed // 3, needed // 2, *range(needed - 40 * step, needed, step)]
    for limit in limits:
        receipt = send_collect(w3, sender, payout, salts, tokens, gas=limit)
        assert receipt["status"] == 0, (limit, needed)
        assert holdings() == before, (limit, needed)
    assert send_collect(w3, sender, payout, salts, tokens, gas=needed)["status"] == 1
    after = holdings()
    for (asset, owner), amount in after.items():
        if owner == payout:
            paid = sum(before[asset, collector] for collector in addresses)
            assert amount == before[asset, owner] + paid, asset
        else:
            assert amount == 0, (asset, owner)


def test_a_gas_limit_too_low_reverts_the_whole_collect(
    anvil: Anvil, w3: Web3, usdc: str, usdt: str, collector_caller: str
) -> None:
    payout = fresh_address()
    salts = fresh_salts(5)
    for salt in salts:
        collector = collectors.collector_address(COLLECTOR_FACTORY, payout, salt)
        mint(w3, usdc, collector, 1 * USDC)
        mint(w3, usdt, collector, 2 * USDC)
        send_eth(w3, anvil.accounts[0], collector, 10**9)
    assert_all_or_nothing(w3, collector_caller, payout, salts, [usdc, usdt], step=150)
    assert token_balance(w3, usdc, payout) == 5 * USDC
    assert token_balance(w3, usdt, payout) == 10 * USDC
    assert eth_balance(w3, payout) == 5 * 10**9


def test_a_token_call_out_of_gas_reverts_the_whole_collect(
    anvil: Anvil, w3: Web3, collector_caller: str
) -> None:
    """A token whose transfer costs 1,000,000 gas: with a limit a little too low its call runs
    out of gas while the collector still has 1/64 of that, enough to send the ETH on and
    finish. The collector must revert instead, and so the whole collect."""
    expensive = _deploy(w3, "TestTokenPausable", ["Expensive", "EXP", 6])
    token = w3.eth.contract(
        address=Web3.to_checksum_address(expensive), abi=load_artifact("TestTokenPausable")["abi"]
    )
    w3.eth.wait_for_transaction_receipt(
        token.functions.setTransferGas(1_000_000).transact({"from": anvil.accounts[0]})
    )
    payout = fresh_address()
    salts = fresh_salts(2)
    for salt in salts:
        collector = collectors.collector_address(COLLECTOR_FACTORY, payout, salt)
        mint(w3, expensive, collector, 3 * USDC)
        send_eth(w3, anvil.accounts[0], collector, 10**12)
    assert_all_or_nothing(w3, collector_caller, payout, salts, [expensive], step=1_000)
    assert token_balance(w3, expensive, payout) == 6 * USDC
    assert eth_balance(w3, payout) == 2 * 10**12


def test_a_repeated_salt_or_a_bad_payout_reverts(
    anvil: Anvil, w3: Web3, usdc: str, factory: Contract, collector_caller: str
) -> None:
    payout, (salt,) = fresh_address(), fresh_salts(1)
    collector = collectors.collector_address(COLLECTOR_FACTORY, payout, salt)
    mint(w3, usdc, collector, 1 * USDC)
    sender: TxParams = {"from": Web3.to_checksum_address(collector_caller), "gas": 500_000}
    for bad in (
        factory.functions.collect(payout, [salt, salt], [usdc]),  # the address is taken
        factory.functions.collect("0x" + "00" * 20, [salt], [usdc]),
        factory.functions.collect(COLLECTOR_FACTORY, [salt], [usdc]),
    ):
        receipt = w3.eth.wait_for_transaction_receipt(bad.transact(sender))
        assert receipt["status"] == 0
    assert token_balance(w3, usdc, collector) == 1 * USDC
    with pytest.raises(ContractCustomError):  # NotCollecting: only inside collect
        factory.functions.collection().call()


def test_the_factory_deployed_through_the_proxy_lands_at_the_computed_address() -> None:
    with Anvil(accounts=2) as node:
        w3 = node.w3
        node.rpc("anvil_setCode", [COLLECTOR_FACTORY, "0x"])  # as on a chain that lacks it
        assert code_at(w3, COLLECTOR_FACTORY) == b""
        deployment = collectors.deployment_transaction()
        tx: TxParams = {"from": node.accounts[0], "to": deployment.to, "data": deployment.data}
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
        assert receipt["status"] == 1
        assert code_at(w3, COLLECTOR_FACTORY) == collectors.factory_artifact().runtime_code
        # The proxy returns the new address (20 bytes) as its output.
        assert w3.eth.call(tx, receipt["blockNumber"] - 1) == bytes.fromhex(COLLECTOR_FACTORY[2:])
        # Deploying again fails: the address is taken; the code stays.
        tx["gas"] = Wei(3_000_000)
        again = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
        assert again["status"] == 0
        assert code_at(w3, COLLECTOR_FACTORY) == collectors.factory_artifact().runtime_code
