"""The relay's validated configuration as frozen dataclasses: `Settings` and its tables.

relay/config.py builds them from the TOML file (with `${VAR}` from the environment); every other
module receives them. Money settings are exact (`payment_tolerance_percent` a Decimal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from relay.chain.constants import MULTICALL3_ADDRESS

# a WooCommerce store with the relay-payments plugin reads plugin_specs/woocommerce-plugin.toml
PLUGIN_SPEC = "woocommerce-plugin"


@dataclass(frozen=True)
class RelaySettings:
    """The `[relay]` table."""

    public_url: str
    listen: str
    database_url: str
    secret_key: str
    admin_token: str
    delivery_retry_seconds: tuple[int, ...]
    delivery_timeout_seconds: int = 15
    delivery_concurrency: int = 4
    coingecko_url: str = "https://api.coingecko.com/api/v3"
    rate_max_age_seconds: int = 3600
    fiat_rates: tuple[str, ...] = ()
    spool_dir: str = ""
    admin_session_minutes: int = 480  # how long a /admin sign-in lasts
    inbox_retry_seconds: tuple[int, ...] = (5, 30, 120, 300, 600, 1800, 3600)
    # the web server (waitress; relay/server.py)
    threads: int = 8
    connection_limit: int = 1000
    channel_timeout_seconds: int = 30
    trusted_proxy: str = ""

    def spool_directory(self) -> Path:
        """Return where `relay serve` spools accepted webhooks (relay/spool.py): `spool_dir`,
        or beside a SQLite database file (`relay.db` → `relay.db-spool`), or `relay-spool` in
        the working directory."""
        if self.spool_dir:
            return Path(self.spool_dir)
        try:
            url = make_url(self.database_url)
        except ArgumentError:  # not a URL: the database itself will say so
            return Path("relay-spool")
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(f"{url.database}-spool")
        return Path("relay-spool")


@dataclass(frozen=True)
class AssetSettings:
    """One `[chains.<chain>.assets.<SYMBOL>]` table; `contract` is None for the native coin."""

    symbol: str
    decimals: int
    rate: tuple[str, ...]
    contract: str | None = None

    @property
    def native(self) -> bool:
        """Tell whether this is the chain's native coin (ETH)."""
        return self.contract is None


@dataclass(frozen=True)
class ChainSettings:
    """One `[chains.<name>]` table; `confirmations` counts the payment's own block (1 = mined).

    `multicall3` is the Multicall3 contract's address, "" when balance reads must not use it.
    """

    name: str
    rpc_urls: tuple[str, ...]
    chain_id: int
    confirmations: int
    finality: str | None
    poll_seconds: float
    max_block_range: int
    address_chunk_size: int
    reorg_depth: int
    assets: Mapping[str, AssetSettings]
    multicall3: str = MULTICALL3_ADDRESS
    explorer_url: str = ""  # block explorer base, e.g. https://etherscan.io ("" = no links)
    # blocks back from the head searched for token transfers to an xpub address before it is
    # handed out (relay/address_checks.py); 0 skips that search (balances and nonce still count)
    address_check_blocks: int = 100_000


@dataclass(frozen=True)
class WebhookSettings:
    """One `[[stores.<name>.webhooks]]` endpoint, signed per Standard Webhooks."""

    url: str
    secrets: tuple[str, ...]
    events: tuple[str, ...]


@dataclass(frozen=True)
class StoreSettings:
    """One `[stores.<name>]` table."""

    name: str
    platform: str
    base_url: str
    webhook_secrets: tuple[str, ...]
    api_key: str
    api_secret: str
    payment_methods: tuple[str, ...]
    xpub: str
    accept: tuple[tuple[str, str], ...]  # (chain, asset symbol)
    invoice_expiry_minutes: float
    monitoring_minutes: float
    payment_tolerance_percent: Decimal
    reconcile_seconds: int
    webhooks: tuple[WebhookSettings, ...] = ()
    spec: str | None = None  # a spec file of the store's own instead of the shipped `platform`
    api_token: str = ""  # token-auth platforms (Shopify Admin API access token, bearer tokens)
    # minutes a subscription renewal's customer has to pay (a renewal link waits in an e-mail)
    renewal_invoice_expiry_minutes: float = 30.0
    # the lowest xpub derivation index handed out: a floor kept outside the database
    first_address_index: int = 0
    # check each xpub address unused on chain before handing it out (relay/address_checks.py)
    check_deposit_addresses: bool = True
    # the shipped spec the store reads instead of its `platform`'s own: relay/config.py gives a
    # WooCommerce store with api_token and no REST keys "woocommerce-plugin" (a plugin store)
    spec_platform: str = ""

    @property
    def is_plugin_store(self) -> bool:
        """Tell whether this is a WooCommerce store served through the relay-payments plugin."""
        return self.spec_platform == PLUGIN_SPEC


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration."""

    relay: RelaySettings
    chains: Mapping[str, ChainSettings]
    stores: Mapping[str, StoreSettings]
    warnings: tuple[str, ...] = field(default=())
    source: str = "<memory>"
