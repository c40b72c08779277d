"""EIP-681 URIs: ERC-20 transfer and native value forms, amounts as exact integers."""

from __future__ import annotations

import pytest

from relay.eip681 import format_number, payment_uri

TO = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
TOKEN = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0, "0"),
        (1, "1"),
        (100, "100"),
        (1000, "1e3"),
        (44_980_000, "4498e4"),
        (2_014_000_000_000_000_000, "2014e15"),
        (123_456_789, "123456789"),
    ],
)
def test_numbers_are_exact(amount: int, text: str) -> None:
    assert format_number(amount) == text
    mantissa, _, exponent = text.partition("e")
    assert int(mantissa) * 10 ** int(exponent or 0) == amount


def test_erc20_uri() -> None:
    uri = payment_uri(chain_id=1, to=TO, amount=44_980_000, token=TOKEN)
    assert uri == f"ethereum:{TOKEN}@1/transfer?address={TO}&uint256=4498e4"


def test_native_uri() -> None:
    uri = payment_uri(chain_id=8453, to=TO, amount=10**16)
    assert uri == f"ethereum:{TO}@8453?value=1e16"
