"""Format what the customer's pages show: chain names customers know, amounts, times, QR codes.

Shared by the payment page (relay/web/pay.py) and the refund page (relay/web/refund.py).
"""

from __future__ import annotations

import io
from datetime import datetime

import segno
from markupsafe import Markup

from relay.models import PaymentOption
from relay.pricing import from_base_units

# Names customers know, by chain id; a chain not listed shows its config name.
CHAIN_NAMES = {
    1: "Ethereum",
    10: "OP Mainnet",
    56: "BNB Smart Chain",
    137: "Polygon",
    8453: "Base",
    42161: "Arbitrum One",
    43114: "Avalanche C-Chain",
    11155111: "Sepolia",
}


def chain_name(chain_id: int, chain: str) -> str:
    """Return the name customers know for a chain, else its config name in title case."""
    return CHAIN_NAMES.get(chain_id, chain.replace("_", " ").title())


def option_amount(base_units: int, option: PaymentOption) -> str:
    """Return base units of an option's asset as whole units with its symbol, e.g. "12.5 USDC"."""
    return f"{from_base_units(base_units, option.decimals)} {option.asset}"


def minute(moment: datetime) -> str:
    """Return a UTC time to the minute, e.g. "2025-01-31 14:05"."""
    return moment.strftime("%Y-%m-%d %H:%M")


def qr_svg(data: str, title: str) -> Markup:
    """Return an inline, size-free SVG QR code of `data` (segno), titled for screen readers."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(
        buffer, kind="svg", xmldecl=False, svgns=True, omitsize=True, title=title, svgclass="qr"
    )
    return Markup(buffer.getvalue().decode())
