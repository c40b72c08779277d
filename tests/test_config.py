"""Config: ${VAR} interpolation, every problem named by key path, the example file valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from relay.config import load_settings, parse_settings
from relay.errors import ConfigError
from tests.conftest import MERCHANT_XPUB, config_dict
from tests.support import write_config

ROOT = Path(__file__).resolve().parents[1]


def problems_of(data: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(data, env=env or {})
    return dict(info.value.problems)


def test_valid_config_has_typed_frozen_values() -> None:
    settings = parse_settings(config_dict(), env={})
    store = settings.stores["shop"]
    assert store.accept == (("dev", "USDC"), ("dev", "ETH"))
    assert settings.chains["dev"].assets["ETH"].native
    assert settings.chains["dev"].assets["USDC"].rate == ("peg:USD",)
    with pytest.raises(AttributeError):
        store.xpub = "x"  # type: ignore[misc]


def test_env_interpolation_and_missing_variable_names_the_key() -> None:
    data = config_dict()
    data["stores"]["shop"]["api_secret"] = "${WC_SECRET}"
    data["relay"]["secret_key"] = "${RELAY_SECRET_KEY}"
    settings = parse_settings(data, env={"WC_SECRET": "cs_env", "RELAY_SECRET_KEY": "k" * 20})
    assert settings.stores["shop"].api_secret == "cs_env"
    assert "relay.secret_key" not in " ".join(settings.warnings)
    problems = problems_of(data, env={"RELAY_SECRET_KEY": "k" * 20})
    assert problems == {"stores.shop.api_secret": "environment variable WC_SECRET is not set"}


def test_secret_in_clear_is_a_warning() -> None:
    settings = parse_settings(config_dict(), env={})
    assert any(w.startswith("stores.shop.webhook_secret[0]") for w in settings.warnings)


def test_every_problem_is_reported_with_its_key_path() -> None:
    data = config_dict()
    data["relay"]["listen"] = "nowhere"
    data["relay"]["colour"] = "blue"
    data["chains"]["dev"]["confirmations"] = 0
    data["chains"]["dev"]["assets"]["USDC"]["contract"] = "0x1234"
    data["chains"]["dev"]["assets"]["ETH"]["rate"] = ["magic:1"]
    data["stores"]["shop"]["xpub"] = "xpub-nonsense"
    data["stores"]["shop"]["accept"] = ["dev:USDT", "mars:ETH"]
    data["stores"]["other"] = dict(data["stores"]["shop"], platform="magento")
    del data["stores"]["shop"]["api_key"]
    problems = problems_of(data)
    assert set(problems) >= {
        "relay.listen",
        "relay.colour",
        "chains.dev.confirmations",
        "chains.dev.assets.USDC.contract",
        "chains.dev.assets.ETH.rate[0]",
        "stores.shop.xpub",
        "stores.shop.accept[0]",
        "stores.shop.accept[1]",
        "stores.other.platform",
        "stores.shop.api_key",
    }


def test_example_config_is_valid() -> None:
    env = {
        "RELAY_SECRET_KEY": "s" * 32,
        "RELAY_ADMIN_TOKEN": "a" * 32,
        "ETH_RPC_URL": "https://rpc.example",
        "WC_WEBHOOK_SECRET": "w",
        "WC_CONSUMER_KEY": "ck_x",
        "WC_CONSUMER_SECRET": "cs_x",
        "STORE_XPUB": MERCHANT_XPUB,
    }
    settings = load_settings(ROOT / "config.example.toml", env=env)
    assert settings.warnings == ()
    assert settings.relay.delivery_retry_seconds == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_check_config_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[relay]\nlisten = "x"\n[stores.a]\nplatform = "nope"\n')
    result = run_cli("check-config", "--config", str(bad))
    assert result.returncode == 2
    assert "relay.listen" in result.stderr and "stores.a.platform" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_cli("check-config", "--config", str(tmp_path / "missing.toml"))
    assert missing.returncode == 2 and "file not found" in missing.stderr
    env = {
        "PATH": "/usr/bin:/bin",
        "RELAY_SECRET_KEY": "s" * 32,
        "RELAY_ADMIN_TOKEN": "a" * 32,
        "ETH_RPC_URL": "https://rpc.example",
        "WC_WEBHOOK_SECRET": "w",
        "WC_CONSUMER_KEY": "ck",
        "WC_CONSUMER_SECRET": "cs",
        "STORE_XPUB": MERCHANT_XPUB,
    }
    good = run_cli("check-config", "--config", str(ROOT / "config.example.toml"), env=env)
    assert good.returncode == 0, good.stderr
    assert "store main (woocommerce" in good.stdout and "chain ethereum" in good.stdout


def test_credentials_follow_the_platform_auth_scheme() -> None:
    data = config_dict()
    data["stores"]["api"] = dict(data["stores"]["shop"], platform="shopify")
    for key in ("api_key", "api_secret"):
        del data["stores"]["api"][key]  # Shopify's Admin API takes an access token instead
    assert problems_of(data) == {"stores.api.api_token": "is required"}


def test_relative_spec_path_is_read_from_the_config_folder(tmp_path: Path) -> None:
    shipped = (ROOT / "plugin_specs" / "woocommerce.toml").read_text()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "myshop.toml").write_text(
        shipped.replace('name = "woocommerce"', 'name = "myshop"')
    )
    data = config_dict()
    data["stores"]["shop"].update(platform="myshop", spec="specs/myshop.toml")
    config = write_config(data, tmp_path / "relay.toml")
    settings = load_settings(config, env={})
    assert settings.stores["shop"].spec == str(tmp_path / "specs" / "myshop.toml")


def test_multicall3_defaults_to_the_canonical_address_and_is_validated() -> None:
    settings = parse_settings(config_dict(), env={})
    assert settings.chains["dev"].multicall3 == "0xcA11bde05977b3631167028862bE2a173976CA11"
    data = config_dict()
    data["chains"]["dev"]["multicall3"] = ""
    assert parse_settings(data, env={}).chains["dev"].multicall3 == ""
    data["chains"]["dev"]["multicall3"] = "0xca11"
    assert problems_of(data) == {
        "chains.dev.multicall3": "must be a 0x-prefixed 20-byte address or \"\": '0xca11'"
    }
    data["chains"]["dev"]["multicall3"] = 7
    assert problems_of(data) == {"chains.dev.multicall3": "must be a string"}


@pytest.mark.parametrize(
    ("database_url", "spool_dir", "expected"),
    [
        ("sqlite:////var/lib/relay/relay.db", "", "/var/lib/relay/relay.db-spool"),
        ("sqlite:///relay.db", "", "relay.db-spool"),
        ("sqlite://", "", "relay-spool"),
        ("postgresql+psycopg://relay@127.0.0.1:5432/relay", "", "relay-spool"),
        ("postgresql+psycopg://relay@127.0.0.1:5432/relay", "/srv/spool", "/srv/spool"),
        ("not a url", "", "relay-spool"),
    ],
)
def test_the_spool_lives_beside_a_sqlite_file_unless_spool_dir_says(
    database_url: str, spool_dir: str, expected: str
) -> None:
    data = config_dict(database_url=database_url)
    if spool_dir:
        data["relay"]["spool_dir"] = spool_dir
    settings = parse_settings(data, env={})
    assert settings.relay.spool_directory() == Path(expected)
    data["relay"]["spool_dir"] = 7
    assert list(problems_of(data)) == ["relay.spool_dir"]


def test_web_server_keys_have_safe_defaults_and_are_checked() -> None:
    relay = parse_settings(config_dict(), env={}).relay
    assert (relay.threads, relay.connection_limit, relay.channel_timeout_seconds) == (8, 1000, 30)
    assert relay.trusted_proxy == ""
    data = config_dict()
    data["relay"].update(
        threads=16, connection_limit=5000, channel_timeout_seconds=60, trusted_proxy="::0001"
    )
    relay = parse_settings(data, env={}).relay
    assert (relay.threads, relay.connection_limit, relay.channel_timeout_seconds) == (16, 5000, 60)
    assert relay.trusted_proxy == "::1"  # as the socket reports the proxy's address
    data["relay"].update(
        threads=0,
        connection_limit=1_000_000,
        channel_timeout_seconds="30",
        trusted_proxy="proxy.local",
    )
    problems = problems_of(data)
    assert problems["relay.threads"] == "must be at least 1"
    assert problems["relay.connection_limit"] == "must be at most 100000"
    assert problems["relay.channel_timeout_seconds"] == "must be an integer"
    assert "IP address of your reverse proxy" in problems["relay.trusted_proxy"]
    assert "'proxy.local'" in problems["relay.trusted_proxy"]
