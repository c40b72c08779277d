"""Compute collector addresses and the collector factory's transactions, off chain (pure).

A store with a `payout_address` gets, per invoice and chain, a *collector* as deposit address:
the CREATE2 address (EIP-1014, https://eips.ethereum.org/EIPS/eip-1014) of the chain's collector
factory (contracts/CollectorFactory.sol) for (payout address, salt), with

    salt         = keccak256(invoice id as UTF-8)                       invoice_salt
    create2 salt = keccak256(abi.encode(address payout, bytes32 salt))  collector_create2_salt
    address      = keccak256(0xff ++ factory ++ create2 salt ++ keccak256(init code))[12:]

where the init code is the one fixed creation code of every collector, shipped in the compiled
artifact `relay/contracts/CollectorFactory.json` (`collector_init_code`). Nothing is deployed at a
collector until `collect(payout, salts, tokens)` creates it, moves its listed token balances and
all its ETH to the payout address, and removes it again in the same transaction (EIP-6780).

The factory itself is deployed at one address on every chain through the deterministic deployment
proxy (github.com/Arachnid/deterministic-deployment-proxy): a transaction to the proxy whose data
is a 32-byte salt followed by the factory's init code makes the proxy CREATE2 it, so its address
is the CREATE2 address of (proxy, FACTORY_DEPLOYMENT_SALT, factory init code): COLLECTOR_FACTORY.

Addresses are EIP-55 checksummed "0x" strings on the way out; on the way in, all lower or all
upper case hex, or mixed case with a correct EIP-55 checksum;
salts and calldata are bytes. Malformed input raises ValueError. Only eth-abi and eth-utils (both
dependencies of web3) are used: no node is asked anything here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final

from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import is_checksum_address, to_canonical_address, to_checksum_address
from eth_utils.crypto import keccak

DEPLOYMENT_PROXY: Final[str] = "0x4e59b44847b379578588920cA78FbF26c0B4956C"
"""The deterministic deployment proxy, at this address on every chain the relay presets (and on
anvil by default). Its code: CREATE2(value, data[32:], salt = data[:32]); returns the address."""

FACTORY_DEPLOYMENT_SALT: Final[bytes] = bytes(32)
"""The salt the factory is deployed with through the proxy (32 zero bytes), on every chain."""

COLLECTOR_FACTORY: Final[str] = "0x4bfc06E9d3b9EDBfe2aCf8Ed2903e78Ec820aEB6"
"""The collector factory's address on every chain: factory_address() of the committed artifact
(a test checks that they agree). The default of the chain key `collector_factory`."""

COLLECT_SIGNATURE: Final[str] = "collect(address,bytes32[],address[])"
"""The factory's collect function (DESIGN.md, "Collectors")."""

_ARTIFACT: Final[str] = "CollectorFactory.json"


@dataclass(frozen=True)
class FactoryArtifact:
    """The compiled collector factory (relay/contracts/CollectorFactory.json).

    `init_code` deploys the factory (no constructor arguments); `runtime_code` is what is then at
    its address; `collector_init_code` is the fixed creation code of every collector; `abi` is
    the factory's ABI as solc wrote it; `compiler` e.g. "solc 0.8.37+commit.f401782d...".
    """

    abi: list[dict[str, Any]]
    init_code: bytes
    runtime_code: bytes
    collector_init_code: bytes
    compiler: str


@dataclass(frozen=True)
class Transaction:
    """An unsigned call: `to` (EIP-55 address) and `data` (calldata bytes), no value."""

    to: str
    data: bytes


@lru_cache(maxsize=1)
def factory_artifact() -> FactoryArtifact:
    """Return the compiled collector factory shipped as package data of `relay`.

    Raises FileNotFoundError if the artifact is missing from the installation.
    """
    resource = resources.files("relay").joinpath("contracts", _ARTIFACT)
    raw: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return FactoryArtifact(
        abi=raw["abi"],
        init_code=bytes.fromhex(raw["bytecode"].removeprefix("0x")),
        runtime_code=bytes.fromhex(raw["deployed_bytecode"].removeprefix("0x")),
        collector_init_code=bytes.fromhex(raw["collector_init_code"].removeprefix("0x")),
        compiler=str(raw["compiler"]),
    )


def create2_address(deployer: str, salt: bytes, init_code_hash: bytes) -> str:
    """Return the EIP-1014 address keccak256(0xff ++ deployer ++ salt ++ init_code_hash)[12:].

    `salt` and `init_code_hash` are 32 bytes each. Raises ValueError on a malformed deployer,
    salt or hash.
    """
    _require_32("salt", salt)
    _require_32("init_code_hash", init_code_hash)
    digest = keccak(b"\xff" + _address_bytes(deployer) + salt + init_code_hash)
    return to_checksum_address(digest[12:])


def invoice_salt(invoice_id: str) -> bytes:
    """Return an invoice's collector salt: keccak256 of its id encoded as UTF-8 (32 bytes)."""
    return keccak(invoice_id.encode("utf-8"))


def collector_create2_salt(payout: str, salt: bytes) -> bytes:
    """Return the CREATE2 salt of the collector of (`payout`, `salt`): keccak256(abi.encode(
    address payout, bytes32 salt)). Binding the payout address into it is what makes a collector
    payable only to `payout`."""
    _require_32("salt", salt)
    return keccak(encode(["address", "bytes32"], [_address_bytes(payout), salt]))


def collector_init_code_hash() -> bytes:
    """Return keccak256 of the collectors' fixed init code (the factory's collectorInitCodeHash)."""
    return keccak(factory_artifact().collector_init_code)


def collector_address(factory: str, payout: str, salt: bytes) -> str:
    """Return the collector address of (`payout`, `salt`) under `factory`, as the factory's own
    `collectorAddress(payout, salt)` computes it on chain (EIP-1014)."""
    return create2_address(
        factory, collector_create2_salt(payout, salt), collector_init_code_hash()
    )


def invoice_collector(factory: str, payout: str, invoice_id: str) -> str:
    """Return an invoice's deposit address on a chain whose factory is `factory`."""
    return collector_address(factory, payout, invoice_salt(invoice_id))


def collect_calldata(payout: str, salts: Sequence[bytes], tokens: Sequence[str]) -> bytes:
    """Return the calldata of `collect(payout, salts, tokens)` (ABI-encoded, with its selector).

    `salts` are the collectors' 32-byte salts (distinct: a salt repeated in one transaction makes
    the whole call revert); `tokens` the ERC-20 contracts whose balances to move (ETH always
    moves). Raises ValueError on a malformed address or salt, or a repeated salt.
    """
    for salt in salts:
        _require_32("salt", salt)
    if len(set(salts)) != len(salts):
        raise ValueError("salts must be distinct: a repeated salt reverts the whole collect")
    arguments = encode(
        ["address", "bytes32[]", "address[]"],
        [_address_bytes(payout), list(salts), [_address_bytes(t) for t in tokens]],
    )
    return function_signature_to_4byte_selector(COLLECT_SIGNATURE) + arguments


def collect_transaction(
    factory: str, payout: str, salts: Sequence[bytes], tokens: Sequence[str]
) -> Transaction:
    """Return the unsigned `collect` call to `factory` (see collect_calldata)."""
    return Transaction(
        to=to_checksum_address(factory), data=collect_calldata(payout, salts, tokens)
    )


def factory_address(salt: bytes = FACTORY_DEPLOYMENT_SALT) -> str:
    """Return where the deployment transaction puts the factory: the CREATE2 address of
    (DEPLOYMENT_PROXY, `salt`, factory init code)."""
    return create2_address(DEPLOYMENT_PROXY, salt, keccak(factory_artifact().init_code))


def deployment_transaction(salt: bytes = FACTORY_DEPLOYMENT_SALT) -> Transaction:
    """Return the transaction that deploys the factory through the deterministic deployment
    proxy: to DEPLOYMENT_PROXY, data = `salt` (32 bytes) ++ factory init code, no value.

    Anyone may send it, on any chain that has the proxy; it fails (the proxy reverts) once the
    factory is there. It lands at factory_address(`salt`).
    """
    _require_32("salt", salt)
    return Transaction(to=DEPLOYMENT_PROXY, data=salt + factory_artifact().init_code)


def _address_bytes(address: str) -> bytes:
    if not isinstance(address, str) or len(address) != 42 or address[:2] not in ("0x", "0X"):
        raise ValueError(f"not a 0x-prefixed 20-byte hex address: {address!r}")
    try:
        canonical = to_canonical_address(address)
    except ValueError as exc:  # eth-utils raises ValueError for bad hex
        raise ValueError(f"not a valid address: {address!r} ({exc})") from None
    body = address[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(address):
        raise ValueError(f"address has a wrong EIP-55 checksum (a typo?): {address!r}")
    return canonical


def _require_32(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ValueError(f"{name} must be 32 bytes, got {value!r}")
