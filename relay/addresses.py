"""Derive deposit addresses from the merchant's extended public key (BIP-32/BIP-44, no private key).

The store's `xpub` is the account-level key at m/44'/60'/0' (what Ledger Live, Trezor Suite and
Sparrow-style wallets export); deposit address i is m/44'/60'/0'/0/i, the same address the
merchant's wallet shows as its i-th receiving account. Derivation by bip-utils.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from bip_utils import Bip32KeyError, Bip32Secp256k1, EthAddrEncoder, Kekkak256

ACCOUNT_DEPTH = 3  # m/44'/60'/0'
EXTERNAL_CHAIN = 0  # BIP-44 change level 0: receiving addresses


def validate_xpub(xpub: str) -> str | None:
    """Return why `xpub` cannot be used (a message), or None when it is an account-level xpub."""
    try:
        key = Bip32Secp256k1.FromExtendedKey(xpub)
    except (Bip32KeyError, ValueError) as exc:
        return f"not a valid extended public key ({exc})"
    if not key.IsPublicOnly():
        return "this is an extended PRIVATE key; the relay must only ever get the xpub"
    if key.Depth().ToInt() != ACCOUNT_DEPTH:
        return (
            f"expected the account-level key m/44'/60'/0' (depth {ACCOUNT_DEPTH}), "
            f"got depth {key.Depth().ToInt()}"
        )
    return None


@lru_cache(maxsize=64)
def _external_chain(xpub: str) -> Bip32Secp256k1:
    return Bip32Secp256k1.FromExtendedKey(xpub).ChildKey(EXTERNAL_CHAIN)


def derive_address(xpub: str, index: int) -> str:
    """Return the EIP-55 checksummed address at m/44'/60'/0'/0/<index> under the account `xpub`."""
    if not 0 <= index < 2**31:
        raise ValueError(f"address index out of range: {index}")
    child = _external_chain(xpub).ChildKey(index)
    address: str = EthAddrEncoder.EncodeKey(child.PublicKey().KeyObject())
    return address


def xpub_id(xpub: str) -> str:
    """Return a stable id for an xpub (SHA-256 hex), used to keep one index counter per key."""
    return hashlib.sha256(xpub.encode()).hexdigest()


def checksum_address(address: str) -> str:
    """Return a 0x-prefixed 20-byte hex address in EIP-55 mixed-case checksum form.

    raises ValueError when `address` is not 0x followed by 40 hex digits. (EIP-55: a hex digit
    is upper case when the matching nibble of keccak256(lowercase hex) is 8 or more.)
    """
    body = address[2:] if address[:2] in ("0x", "0X") else ""
    if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ValueError(f"not a 20-byte hex address: {address!r}")
    lower = body.lower()
    nibbles = Kekkak256.QuickDigest(lower.encode()).hex()[:40]
    return "0x" + "".join(
        c.upper() if int(h, 16) >= 8 else c for c, h in zip(lower, nibbles, strict=True)
    )
