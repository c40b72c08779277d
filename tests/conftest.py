"""Shared fixtures: settings builders, a database per test, merchant keys, samples, and the
interval-mining chain with USDC that end-to-end modules share (a module needing another chain
defines its own `chain`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins

from devkit.devchain import Anvil, deploy_token, mint
from devkit.harness import free_port as free_port  # the tests import it from here
from relay.config import parse_settings
from relay.db import Database
from relay.models import Base
from relay.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "samples"
# The BIP-39 test mnemonic: the merchant's wallet in tests. Only its xpub reaches the relay.
MERCHANT_MNEMONIC = "abandon " * 11 + "about"
SECRET_KEY = "test-secret-key-0123456789"
ADMIN_TOKEN = "test-admin-token-0123456789"
WEBHOOK_SECRET = "wc-webhook-secret"


def merchant_account_key() -> Any:
    """Return the merchant wallet's account node m/44'/60'/0' (bip-utils), for tests only."""
    seed = Bip39SeedGenerator(MERCHANT_MNEMONIC).Generate()
    return Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(0)


MERCHANT_XPUB: str = merchant_account_key().PublicKey().ToExtended()


def config_dict(
    *,
    rpc_url: str = "http://127.0.0.1:8545",
    chain_id: int = 31337,
    token: str = "0x" + "11" * 20,
    store_url: str = "http://127.0.0.1:9",
    database_url: str = "sqlite://",
    public_url: str = "http://127.0.0.1:8080",
    listen: str = "127.0.0.1:8080",
    confirmations: int = 2,
    expiry_minutes: int = 30,
    eth_rate: str = "fixed:USD:2000.00",
    **store_extra: Any,
) -> dict[str, Any]:
    """Return a complete config document (as parsed TOML) for one dev chain and one store."""
    store: dict[str, Any] = {
        "platform": "woocommerce",
        "base_url": store_url,
        "webhook_secret": WEBHOOK_SECRET,
        "api_key": "ck_test",
        "api_secret": "cs_test",
        "payment_methods": ["cheque"],
        "xpub": MERCHANT_XPUB,
        "accept": ["dev:USDC", "dev:ETH"],
        "invoice_expiry_minutes": expiry_minutes,
        "monitoring_minutes": 60,
        # tests run without a node unless they start one: tests/test_address_checks.py checks
        "check_deposit_addresses": False,
    }
    store.update(store_extra)
    return {
        "relay": {
            "public_url": public_url,
            "listen": listen,
            "database_url": database_url,
            "secret_key": SECRET_KEY,
            "admin_token": ADMIN_TOKEN,
            "delivery_retry_seconds": [0, 1, 1, 2, 2, 5],
        },
        "chains": {
            "dev": {
                "rpc_urls": [rpc_url],
                "chain_id": chain_id,
                "confirmations": confirmations,
                "poll_seconds": 0.5,
                "max_block_range": 500,
                "assets": {
                    "USDC": {"contract": token, "decimals": 6, "rate": "peg:USD"},
                    "ETH": {"native": True, "decimals": 18, "rate": eth_rate},
                },
            }
        },
        "stores": {"shop": store},
    }


def make_settings(**kwargs: Any) -> Settings:
    """Return validated Settings from `config_dict(**kwargs)`."""
    return parse_settings(config_dict(**kwargs), env={})


def database_url_for(tmp_path: Path) -> str:
    """Return the database URL for a test: $RELAY_TEST_DATABASE_URL or a fresh SQLite file."""
    return os.environ.get("RELAY_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'relay.db'}"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """Yield an empty database with the schema (SQLite file, or PostgreSQL when configured)."""
    database = Database(database_url_for(tmp_path))
    if not database.is_sqlite:
        Base.metadata.drop_all(database.engine)
    database.create_schema()
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def chain() -> Iterator[Anvil]:
    """Yield an anvil node mining a block every second, one per test module."""
    with Anvil(block_time=1) as node:
        yield node


@pytest.fixture(scope="module")
def usdc(chain: Anvil) -> str:
    """Return a 6-decimal USDC contract on `chain`, with 10,000 USDC minted to account 1."""
    token = deploy_token(chain.w3, name="USD Coin", symbol="USDC", decimals=6)
    mint(chain.w3, token, chain.accounts[1], 10_000 * 10**6)
    return token


@pytest.fixture
def wc_deliveries() -> dict[str, Any]:
    """Return the real WooCommerce 7.4.1 deliveries sample."""
    data: dict[str, Any] = json.loads(
        (SAMPLES / "woocommerce_7.4.1_real_deliveries.json").read_text()
    )
    return data
