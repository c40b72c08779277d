"""relay/serialize.py: decimal strings in plain notation, as relay/web/openapi.json describes."""

from __future__ import annotations

from decimal import Decimal

from relay.pricing import from_base_units
from relay.serialize import decimal_text


def test_decimal_strings_never_use_an_exponent() -> None:
    assert str(from_base_units(5, 18)) == "5E-18"  # what str() would have answered
    assert decimal_text(from_base_units(5, 18)) == "0.000000000000000005"
    assert decimal_text(from_base_units(123456, 18)) == "0.000000000000123456"
    assert decimal_text(from_base_units(10**18, 18)) == "1"
    assert decimal_text(Decimal("1E+2")) == "100"
    assert decimal_text(Decimal("12.50")) == "12.50"
