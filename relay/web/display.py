"""Format what the customer's pages show: chain names customers know, countdowns, QR codes.

Amounts, numbers and dates in the customer's language are relay/web/languages.py's.

Shared by the payment page (relay/web/pay.py) and the refund page (relay/web/refund.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from markupsafe import Markup

from relay.settings import ChainSettings

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


# What a browser wallet needs to add a chain it does not know (EIP-3085 wallet_addEthereumChain):
# the native coin and a public RPC endpoint, as each chain's own documentation gives them. The
# relay's own rpc_urls are never shown to customers (they often carry an API key). Ethereum and
# Sepolia are built into every wallet. Chain id → (native coin name, symbol, public RPC URL).
WALLET_CHAINS = {
    10: ("Ether", "ETH", "https://mainnet.optimism.io"),
    56: ("BNB", "BNB", "https://bsc-dataseed.bnbchain.org"),
    137: ("POL", "POL", "https://polygon-rpc.com"),
    8453: ("Ether", "ETH", "https://mainnet.base.org"),
    42161: ("Ether", "ETH", "https://arb1.arbitrum.io/rpc"),
    43114: ("Avalanche", "AVAX", "https://api.avax.network/ext/bc/C/rpc"),
}


@dataclass(frozen=True)
class WalletChain:
    """A chain as the payment page's wallet button asks a wallet for it (EIP-3326 / EIP-3085).

    chain_id: hex string ("0x2105"); rpc_url: "" when the wallet cannot be offered to add it;
    native_decimals: the native coin's decimals (18).
    """

    chain_id: str
    native_name: str
    native_symbol: str
    native_decimals: int
    rpc_url: str


def wallet_chain(chain_id: int, chain: ChainSettings | None) -> WalletChain:
    """Return the wallet's view of a chain: known public parameters, else the config's coin."""
    native = next((a for a in chain.assets.values() if a.native), None) if chain else None
    name, symbol, rpc_url = WALLET_CHAINS.get(chain_id, ("", "", ""))
    symbol = symbol or (native.symbol if native else "ETH")
    return WalletChain(
        chain_id=hex(chain_id),
        native_name=name or symbol,
        native_symbol=symbol,
        native_decimals=native.decimals if native else 18,
        rpc_url=rpc_url,
    )


def chain_name(chain_id: int, chain: str) -> str:
    """Return the name customers know for a chain, else its config name in title case."""
    return CHAIN_NAMES.get(chain_id, chain.replace("_", " ").title())


def countdown(seconds: float) -> str:
    """Write seconds left as `m:ss`, or `h:mm:ss` from an hour on; never negative."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def qr_svg(data: str, title: str) -> Markup:
    """Return an inline, size-free SVG QR code of `data` (segno), titled for screen readers."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(
        buffer, kind="svg", xmldecl=False, svgns=True, omitsize=True, title=title, svgclass="qr"
    )
    return Markup(buffer.getvalue().decode())
