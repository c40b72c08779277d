"""Build EIP-681 payment request URIs (ethereum/EIPs EIPS/eip-681.md).

ERC-20: `ethereum:<token>@<chainId>/transfer?address=<to>&uint256=<base units>`;
native: `ethereum:<to>@<chainId>?value=<wei>`. Amounts are integers in base units, written in
scientific notation when exact (MetaMask Mobile expects `…e18` for `value`).
"""

from __future__ import annotations


def format_number(amount: int) -> str:
    """Write a non-negative integer as EIP-681 allows: `2014e15` style when exact, else digits."""
    if amount < 0:
        raise ValueError("amount must be ≥ 0")
    digits = str(amount)
    stripped = digits.rstrip("0")
    zeros = len(digits) - len(stripped)
    if amount == 0 or zeros < 3:
        return digits
    return f"{stripped}e{zeros}"


def payment_uri(*, chain_id: int, to: str, amount: int, token: str | None = None) -> str:
    """Return the EIP-681 URI paying `amount` base units to `to`; `token` is the ERC-20 contract."""
    if token is None:
        return f"ethereum:{to}@{chain_id}?value={format_number(amount)}"
    return f"ethereum:{token}@{chain_id}/transfer?address={to}&uint256={format_number(amount)}"
