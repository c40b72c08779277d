"""The refund state machine and the refund address checks (pure: no database, no chain)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from relay.addresses import checksum_address
from relay.errors import AddressError, TransitionError
from relay.refund_lifecycle import (
    RefundStatus,
    check_refund_address,
    check_refund_transition,
    is_contract_code,
    refund_base_units,
)

# EIP-55's own test vectors (ethereum/EIPs EIPS/eip-55.md)
EIP55 = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
DEPOSIT = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
TOKEN = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
OWN = {DEPOSIT.lower(): "This is the store's own deposit address.", TOKEN.lower(): "token"}


@pytest.mark.parametrize("address", EIP55)
def test_eip55_vectors(address: str) -> None:
    assert checksum_address(address.lower()) == address
    assert checksum_address("0X" + address[2:].upper()) == address
    assert check_refund_address(f"  {address}\n", OWN) == address


@pytest.mark.parametrize("address", [EIP55[0].lower(), "0x" + EIP55[0][2:].upper()])
def test_an_address_without_a_checksum_is_taken_and_checksummed(address: str) -> None:
    assert check_refund_address(address, OWN) == EIP55[0]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "not_an_address"),
        ("vitalik.eth", "not_an_address"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "not_an_address"),  # 39 digits
        ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "not_an_address"),  # no 0x
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "not_an_address"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAEd", "bad_checksum"),  # one letter's case
        ("0x" + "0" * 40, "zero_address"),
        (DEPOSIT, "own_address"),
        (DEPOSIT.lower(), "own_address"),
        (TOKEN, "own_address"),
    ],
)
def test_refused_addresses_name_the_reason(text: str, code: str) -> None:
    with pytest.raises(AddressError) as caught:
        check_refund_address(text, OWN)
    assert caught.value.code == code
    assert caught.value.http_status == 422
    assert caught.value.message


def test_transitions() -> None:
    s = RefundStatus
    check_refund_transition(s.AWAITING_ADDRESS, s.AWAITING_PAYMENT)
    check_refund_transition(s.AWAITING_PAYMENT, s.CONFIRMING)
    check_refund_transition(s.CONFIRMING, s.AWAITING_PAYMENT)  # the transfer left the chain
    check_refund_transition(s.CONFIRMING, s.REFUNDED)
    check_refund_transition(s.AWAITING_PAYMENT, s.CANCELLED)
    for final in (s.REFUNDED, s.CANCELLED):
        for target in s:
            if target != final:
                with pytest.raises(TransitionError):
                    check_refund_transition(final, target)
    with pytest.raises(TransitionError):
        check_refund_transition(s.CONFIRMING, s.CANCELLED)  # money is already on its way
    with pytest.raises(TransitionError):
        check_refund_transition(s.AWAITING_ADDRESS, s.CONFIRMING)


def test_amount_at_the_locked_rate_matches_the_invoice_rounding() -> None:
    # a full refund of a 10.00 USD order paid in ETH at 2000 USD/ETH is exactly what was asked
    assert refund_base_units(Decimal("10.00"), Decimal("2000"), 18) == 5 * 10**15
    assert refund_base_units(Decimal("2.50"), Decimal("1"), 6) == 2_500_000
    # an amount that does not divide evenly rounds up to 1e-8 units, as invoices do
    assert refund_base_units(Decimal("1"), Decimal("3"), 18) == 333_333_340_000_000_000


def test_contract_code_but_not_an_eip7702_delegation() -> None:
    assert not is_contract_code(b"")
    assert is_contract_code(bytes.fromhex("6080604052"))
    assert not is_contract_code(bytes.fromhex("ef0100") + b"\x11" * 20)
