"""Web3Chain's native balance reads on a real anvil: Multicall3, its fallback, RPC items counted."""

from __future__ import annotations

import json
import logging
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from eth_abi.abi import encode
from requests.adapters import HTTPAdapter
from web3 import HTTPProvider, Web3

from devkit.devchain import (
    Anvil,
    deploy_router,
    deploy_token,
    forward_eth,
    install_multicall3,
    load_artifact,
    send_eth,
)
from relay.chain import MULTICALL3_ADDRESS, ChainUnavailable
from relay.chain.multicall import aggregate3_balances
from relay.chain.rpc import Web3Chain
from relay.config import parse_settings
from relay.settings import ChainSettings
from tests.conftest import config_dict

ETH = 10**18  # one ether, in wei


class RpcCounter(HTTPAdapter):
    """Count the HTTP requests and the JSON-RPC items (by method) a chain client sends."""

    def __init__(self) -> None:
        super().__init__()
        self.http = 0
        self.methods: Counter[str] = Counter()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        body = json.loads(request.body or b"[]")
        items = body if isinstance(body, list) else [body]
        self.http += 1
        self.methods.update(item["method"] for item in items)
        return super().send(request, *args, **kwargs)

    @property
    def items(self) -> int:
        return sum(self.methods.values())


def counted(chain: Web3Chain) -> RpcCounter:
    """Mount an RpcCounter on the HTTP session of every RPC client of `chain`."""
    counter = RpcCounter()
    for client in chain._clients:
        provider = client.provider
        assert isinstance(provider, HTTPProvider) and provider.endpoint_uri
        session = provider._request_session_manager.cache_and_return_session(provider.endpoint_uri)
        session.mount("http://", counter)
    return counter


@pytest.fixture(scope="module")
def node() -> Iterator[Anvil]:
    with Anvil() as anvil:  # automine: a block per transaction
        yield anvil


@pytest.fixture
def chain_factory(node: Anvil) -> Iterator[Any]:
    made: list[Web3Chain] = []

    def make(**kwargs: Any) -> Web3Chain:
        made.append(Web3Chain([node.url], **kwargs))
        return made[-1]

    yield make
    for chain in made:
        chain.close()


def dev_chain(node: Anvil, multicall3: str) -> ChainSettings:
    """Return the dev chain's settings with `multicall3` set as a merchant would in the TOML."""
    data = config_dict(rpc_url=node.url)
    data["chains"]["dev"]["multicall3"] = multicall3
    return parse_settings(data, env={}).chains["dev"]


def fresh_address() -> str:
    return Web3.to_checksum_address("0x" + secrets.token_hex(20))


def node_balances(node: Anvil, addresses: list[str], block: int) -> dict[str, int]:
    return {
        a.lower(): node.w3.eth.get_balance(Web3.to_checksum_address(a), block) for a in addresses
    }


def test_every_dev_chain_has_multicall3_at_its_canonical_address(node: Anvil) -> None:
    code = load_artifact("Multicall3")["deployed_bytecode"]
    assert node.rpc("eth_getCode", [MULTICALL3_ADDRESS, "0x0"]) == code
    assert node.rpc("eth_getCode", [MULTICALL3_ADDRESS, "latest"]) == code
    with Anvil(multicall3=False) as bare:
        assert bare.rpc("eth_getCode", [MULTICALL3_ADDRESS, "latest"]) == "0x"


def test_calldata_is_the_abi_encoding_of_aggregate3(node: Anvil) -> None:
    addresses = [fresh_address() for _ in range(3)]
    selector = Web3.keccak(text="getEthBalance(address)")[:4]
    calls = [(MULTICALL3_ADDRESS, False, selector + encode(["address"], [a])) for a in addresses]
    expected = Web3.keccak(text="aggregate3((address,bool,bytes)[])")[:4] + encode(
        ["(address,bool,bytes)[]"], [calls]
    )
    assert aggregate3_balances(MULTICALL3_ADDRESS.lower(), addresses) == expected.hex()
    with pytest.raises(ValueError):
        aggregate3_balances(MULTICALL3_ADDRESS.lower(), ["0x1234"])


def test_multicall_balances_equal_eth_get_balance_at_past_and_latest_blocks(
    node: Anvil, chain_factory: Any
) -> None:
    chain = chain_factory()
    payee, empty = fresh_address(), fresh_address()
    addresses = [*node.accounts[:3], payee, empty]
    before = node.w3.eth.block_number
    send_eth(node.w3, node.accounts[1], payee, 3 * ETH + 7)
    router = deploy_router(node.w3)
    forward_eth(node.w3, router, node.accounts[2], payee, 5)  # sent from inside a contract
    head = node.w3.eth.block_number
    past = chain.balances(addresses, before)
    now = chain.balances(addresses, head)
    assert chain._multicall3_deployed is True
    assert past == node_balances(node, addresses, before)
    assert now == node_balances(node, addresses, head)
    assert (past[payee.lower()], now[payee.lower()]) == (0, 3 * ETH + 12)
    assert now[empty.lower()] == 0 and now[node.accounts[0].lower()] > 0


def test_one_http_request_and_one_item_per_address_chunk(node: Anvil, chain_factory: Any) -> None:
    chain = chain_factory(address_chunk_size=2)
    counter = counted(chain)
    addresses = [*node.accounts[:3], fresh_address(), fresh_address()]
    head = node.w3.eth.block_number
    first = chain.balances(addresses, head)
    # the code check rides in the first chunk's HTTP request, once per client
    assert (counter.http, chain.calls) == (3, 3)
    assert counter.methods == {"eth_call": 3, "eth_getCode": 1}
    counter.methods.clear()
    counter.http = 0
    many = [fresh_address() for _ in range(40)]
    chain.address_chunk_size = 1000
    again = chain.balances([*addresses, *many], head)
    assert (counter.http, counter.items) == (1, 1)  # 45 addresses, one chunk: one eth_call
    assert counter.methods == {"eth_call": 1}
    assert first == node_balances(node, addresses, head)
    assert again == {**first, **dict.fromkeys((a.lower() for a in many), 0)}


def test_fallback_without_code_at_the_configured_address(
    node: Anvil, chain_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    empty_contract = "0x" + secrets.token_hex(20)  # nothing deployed there
    settings = dev_chain(node, empty_contract)
    chain = chain_factory(address_chunk_size=2, multicall3=settings.multicall3)
    counter = counted(chain)
    addresses = [*node.accounts[:2], fresh_address()]
    head = node.w3.eth.block_number
    with caplog.at_level(logging.INFO, logger="relay.chain"):
        first = chain.balances(addresses, head)
        second = chain.balances(addresses, head - 1)
    assert first == node_balances(node, addresses, head)
    assert second == node_balances(node, addresses, head - 1)
    assert chain._multicall3_deployed is False
    assert counter.methods["eth_getCode"] == 1  # checked once, remembered
    assert counter.methods["eth_getBalance"] == 6
    notes = [r.getMessage() for r in caplog.records if "no Multicall3 code" in r.getMessage()]
    assert len(notes) == 1 and empty_contract in notes[0]


def test_multicall_turned_off_reads_eth_get_balance(node: Anvil, chain_factory: Any) -> None:
    chain = chain_factory(address_chunk_size=2, multicall3=dev_chain(node, "").multicall3)
    counter = counted(chain)
    addresses = [*node.accounts[:3], fresh_address()]
    head = node.w3.eth.block_number
    assert chain.balances(addresses, head) == node_balances(node, addresses, head)
    assert counter.methods == {"eth_getBalance": 4} and counter.http == 2


def test_a_failed_or_malformed_multicall_answer_fails_the_read(
    node: Anvil, chain_factory: Any
) -> None:
    # code that is not Multicall3: aggregate3 reverts
    token = deploy_token(node.w3)
    with pytest.raises(ChainUnavailable, match="balance multicall failed"):
        chain_factory(multicall3=token).balances([node.accounts[0]], node.w3.eth.block_number)
    # Multicall3 installed only now: a block before it answers empty data, not zero balances
    late = fresh_address()
    before = node.w3.eth.block_number
    node.mine()
    install_multicall3(node.w3, late)
    node.mine()
    chain = chain_factory(multicall3=late)
    head = node.w3.eth.block_number
    assert chain.balances([node.accounts[0]], head) == node_balances(node, [node.accounts[0]], head)
    with pytest.raises(ChainUnavailable, match="malformed balance multicall answer"):
        chain.balances([node.accounts[0]], before)
