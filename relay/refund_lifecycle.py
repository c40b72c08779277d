"""Refund statuses, their one transition table, and the checks a refund address must pass: pure.

A refund is its own object beside the invoice (whose statuses never change for it):

    awaiting_address ──(customer gives an address)──► awaiting_payment ──(transfer seen)──►
    confirming ──(the chain's confirmation rule met)──► refunded
    confirming ──(the transfer's block left the chain)──► awaiting_payment
    awaiting_address / awaiting_payment ──(the merchant cancels)──► cancelled

`refunded` and `cancelled` are final. The relay holds no key, so "paid" always means a transfer
the merchant's own wallet made and the watcher saw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum

from relay.addresses import checksum_address
from relay.errors import AddressError, TransitionError
from relay.pricing import to_base_units

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# EIP-7702: an account whose code is this prefix + an address is an EOA delegating to code;
# it keeps its key and receives tokens like any EOA, so it needs no contract warning
DELEGATION_PREFIX = bytes.fromhex("ef0100")


class RefundStatus(StrEnum):
    """A refund's status; the value is the wire name."""

    AWAITING_ADDRESS = "awaiting_address"
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMING = "confirming"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.AWAITING_ADDRESS: frozenset(
        {RefundStatus.AWAITING_PAYMENT, RefundStatus.CANCELLED}
    ),
    RefundStatus.AWAITING_PAYMENT: frozenset({RefundStatus.CONFIRMING, RefundStatus.CANCELLED}),
    RefundStatus.CONFIRMING: frozenset({RefundStatus.REFUNDED, RefundStatus.AWAITING_PAYMENT}),
    RefundStatus.REFUNDED: frozenset(),
    RefundStatus.CANCELLED: frozenset(),
}
# the merchant may still cancel these, or choose another amount
OPEN = frozenset({RefundStatus.AWAITING_ADDRESS, RefundStatus.AWAITING_PAYMENT})


def check_refund_transition(current: RefundStatus, target: RefundStatus) -> None:
    """Allow `current → target` or raise TransitionError; staying put is always allowed."""
    if current != target and target not in TRANSITIONS[current]:
        raise TransitionError(f"refund cannot move from {current} to {target}")


def refund_base_units(amount: Decimal, rate: Decimal, decimals: int) -> int:
    """Return a fiat refund amount in base units at the invoice's locked rate (fiat per unit).

    Rounds as the invoice did, so refunding the whole order total gives back exactly the amount
    the invoice asked for. raises RateUnavailable for a rate that is not positive.
    """
    return to_base_units(amount, rate, decimals)


def check_refund_address(text: str, own: Mapping[str, str]) -> str:
    """Return a refund address in EIP-55 checksum form, or raise AddressError saying why not.

    text: what the customer typed (surrounding spaces are ignored). A mixed-case address must
    carry a valid EIP-55 checksum (a typo in it is caught); an all-lower or all-upper case one
    carries none and is accepted. own: lowercase address → message, the addresses the store must
    never send a refund to (its deposit addresses, the token contract).
    """
    value = text.strip()
    if not _HEX_ADDRESS.match(value):
        raise AddressError(
            "not_an_address",
            "This is not an Ethereum address: it must be 0x followed by 40 hexadecimal digits.",
        )
    body = value[2:]
    checksummed = checksum_address(value)
    if body not in (body.lower(), body.upper()) and value != checksummed:
        raise AddressError(
            "bad_checksum",
            "The address's upper and lower case letters do not match its EIP-55 checksum: it "
            "was probably mistyped. Copy it again from your wallet.",
        )
    if int(body, 16) == 0:
        raise AddressError("zero_address", "The zero address burns whatever is sent to it.")
    reason = own.get(value.lower())
    if reason is not None:
        raise AddressError("own_address", reason)
    return checksummed


def is_contract_code(code: bytes) -> bool:
    """Tell whether an address's code makes it a contract (an EIP-7702 delegating EOA is not)."""
    return bool(code) and not (len(code) == 23 and code.startswith(DELEGATION_PREFIX))
