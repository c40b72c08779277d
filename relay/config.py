"""Read the relay's TOML file into settings (relay/settings.py); report every problem by key path.

Order of work: `tomllib` → interpolate `${VAR}` from the environment → validate (a
relay/tomlcheck.py Checker) → frozen `Settings`. `load_settings` raises `ConfigError` listing every
problem, not only the first; secrets in clear are accepted and listed in `Settings.warnings`.
`summarize` is what `relay check-config` prints for a valid file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from relay.chain.constants import MULTICALL3_ADDRESS
from relay.errors import ConfigError
from relay.settings import (
    AssetSettings,
    ChainSettings,
    RelaySettings,
    Settings,
)
from relay.storeconfig import NAME, read_store
from relay.tomlcheck import Checker

DEFAULT_RETRY_SECONDS = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)  # Svix's schedule
SECRET_KEYS = {"secret_key", "admin_token", "webhook_secret", "api_key", "api_secret", "secret"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SYMBOL = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
RATE_KINDS = ("peg", "fixed", "chainlink", "coingecko")  # see relay/pricing.py


class _Reader(Checker):
    """Read the config's tables; every string is interpolated from the environment first."""

    def __init__(self, env: Mapping[str, str], base_dir: Path | None = None) -> None:
        super().__init__(lone_strings=True)
        self.env = env
        self.base_dir = base_dir  # relative file paths in the config are read from here
        self.warnings: list[str] = []

    def text(self, key: str, value: str) -> str:
        """Replace `${VAR}` by the environment's value; a missing variable is a problem."""
        missing = [name for name in _VAR.findall(value) if name not in self.env]
        for name in missing:
            self.problem(key, f"environment variable {name} is not set")
        if missing:
            return ""
        last = key.rsplit(".", 1)[-1].split("[", 1)[0]
        if last in SECRET_KEYS and value and not _VAR.search(value):
            self.warnings.append(f"{key}: secret written in clear; prefer ${{VAR}}")
        return _VAR.sub(lambda m: self.env[m.group(1)], value)


def _read_relay(reader: _Reader, data: Mapping[str, Any]) -> RelaySettings:
    path = "relay"
    table = reader.table(data, "relay", "")
    reader.unknown(table, {f.name for f in fields(RelaySettings)}, path)  # keys are the fields
    public_url = reader.url(table, "public_url", path, "http://127.0.0.1:8080")
    listen = reader.string(table, "listen", path, "127.0.0.1:8080")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        reader.problem(f"{path}.listen", f"must be host:port, got {listen!r}")
    secret_key = reader.string(table, "secret_key", path)
    if secret_key and len(secret_key) < 16:
        reader.problem(f"{path}.secret_key", "must be at least 16 characters")
    admin_token = reader.string(table, "admin_token", path)
    if admin_token and len(admin_token) < 16:
        reader.problem(f"{path}.admin_token", "must be at least 16 characters")
    retry = table.get("delivery_retry_seconds", list(DEFAULT_RETRY_SECONDS))
    if (
        not isinstance(retry, list)
        or not retry
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in retry)
    ):
        reader.problem(f"{path}.delivery_retry_seconds", "must be a non-empty list of seconds ≥ 0")
        retry = list(DEFAULT_RETRY_SECONDS)
    inbox_retry = table.get("inbox_retry_seconds", list(RelaySettings.inbox_retry_seconds))
    if not isinstance(inbox_retry, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in inbox_retry
    ):
        reader.problem(f"{path}.inbox_retry_seconds", "must be a list of seconds ≥ 0")
        inbox_retry = list(RelaySettings.inbox_retry_seconds)
    return RelaySettings(
        public_url=public_url,
        listen=listen,
        database_url=reader.string(table, "database_url", path, "sqlite:///relay.db"),
        secret_key=secret_key,
        admin_token=admin_token,
        delivery_retry_seconds=tuple(retry),
        delivery_timeout_seconds=reader.integer(table, "delivery_timeout_seconds", path, 15, 1),
        delivery_concurrency=reader.integer(table, "delivery_concurrency", path, 4, 1),
        coingecko_url=reader.url(table, "coingecko_url", path, RelaySettings.coingecko_url),
        rate_max_age_seconds=reader.integer(table, "rate_max_age_seconds", path, 3600, 1),
        fiat_rates=_read_fiat_rates(reader, table, path),
        spool_dir=reader.string(table, "spool_dir", path, ""),
        admin_session_minutes=reader.integer(table, "admin_session_minutes", path, 480, 1),
        inbox_retry_seconds=tuple(inbox_retry),
        threads=_at_most(reader, table, "threads", path, RelaySettings.threads, 1, 256),
        connection_limit=_at_most(
            reader, table, "connection_limit", path, RelaySettings.connection_limit, 10, 100_000
        ),
        channel_timeout_seconds=_at_most(
            reader,
            table,
            "channel_timeout_seconds",
            path,
            RelaySettings.channel_timeout_seconds,
            1,
            86_400,
        ),
        trusted_proxy=_read_trusted_proxy(reader, table, path),
    )


def _at_most(
    reader: _Reader,
    table: Mapping[str, Any],
    key: str,
    path: str,
    default: int,
    minimum: int,
    maximum: int,
) -> int:
    """Read an integer in [minimum, maximum]."""
    value = reader.integer(table, key, path, default, minimum)
    if value > maximum:
        reader.problem(f"{path}.{key}", f"must be at most {maximum}")
        return default
    return value


def _read_trusted_proxy(reader: _Reader, table: Mapping[str, Any], path: str) -> str:
    """Read `trusted_proxy`: "" (none), or the one IP address whose X-Forwarded-* headers the
    web server believes, written as the socket reports it (`::0001` → `::1`)."""
    text = reader.string(table, "trusted_proxy", path, "").strip()
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        reader.problem(
            f"{path}.trusted_proxy",
            f'must be the IP address of your reverse proxy (such as 127.0.0.1), or "" for '
            f"none; got {text!r}",
        )
        return ""


def _positive(text: str) -> bool:
    """Tell whether a text is a decimal number above zero."""
    try:
        return Decimal(text) > 0
    except InvalidOperation:
        return False


def _read_fiat_rates(reader: _Reader, table: Mapping[str, Any], path: str) -> tuple[str, ...]:
    """Read fiat conversion sources: `frankfurter:<base URL>` or `fixed:<FROM>:<TO>:<rate>`."""
    sources = reader.strings(table, "fiat_rates", path, ())
    for i, source in enumerate(sources):
        kind, _, arg = source.partition(":")
        if kind == "frankfurter":
            reader.check_url(f"{path}.fiat_rates[{i}]", arg)
        elif kind == "fixed":
            parts = arg.split(":")
            if not (
                len(parts) == 3 and all(len(c) == 3 for c in parts[:2]) and _positive(parts[2])
            ):
                reader.problem(
                    f"{path}.fiat_rates[{i}]", "fixed fiat rate must look like fixed:USD:EUR:0.92"
                )
        else:
            reader.problem(
                f"{path}.fiat_rates[{i}]",
                f"unknown fiat rate source {source!r}; use frankfurter:<URL> or fixed:USD:EUR:0.92",
            )
    return sources


def _read_rate(reader: _Reader, table: Mapping[str, Any], path: str) -> tuple[str, ...]:
    rates = reader.strings(table, "rate", path, None)
    for i, rate in enumerate(rates):
        kind, _, arg = rate.partition(":")
        if kind not in RATE_KINDS or not arg:
            reader.problem(
                f"{path}.rate[{i}]",
                f"unknown rate source {rate!r}; use one of "
                + ", ".join(f"{k}:…" for k in RATE_KINDS),
            )
        elif kind == "fixed":
            currency, _, price = arg.partition(":")
            if not (len(currency) == 3 and _positive(price)):
                reader.problem(f"{path}.rate[{i}]", "fixed rate must look like fixed:USD:2500.00")
        elif kind == "chainlink" and not _ADDRESS.match(arg):
            reader.problem(f"{path}.rate[{i}]", "chainlink rate needs a feed address")
    return rates


def _read_asset(reader: _Reader, symbol: str, table: Mapping[str, Any], path: str) -> AssetSettings:
    reader.unknown(table, {"contract", "native", "decimals", "rate"}, path)
    if not _SYMBOL.match(symbol):
        reader.problem(path, "asset symbol must be 1-16 letters, digits, '_', '.' or '-'")
    native = table.get("native", False)
    if not isinstance(native, bool):
        reader.problem(f"{path}.native", "must be true or false")
        native = False
    contract: str | None = None
    if native:
        if "contract" in table:
            reader.problem(f"{path}.contract", "a native asset has no contract")
    else:
        contract = reader.string(table, "contract", path)
        if contract and not _ADDRESS.match(contract):
            reader.problem(
                f"{path}.contract", f"must be a 0x-prefixed 20-byte address: {contract!r}"
            )
    decimals = reader.integer(table, "decimals", path, None, 0)
    if decimals > 36:
        reader.problem(f"{path}.decimals", "must be at most 36")
    return AssetSettings(
        symbol=symbol,
        decimals=decimals,
        rate=_read_rate(reader, table, path),
        contract=contract,
    )


def _read_chain(reader: _Reader, name: str, table: Mapping[str, Any]) -> ChainSettings:
    path = f"chains.{name}"
    reader.unknown(table, {f.name for f in fields(ChainSettings)} - {"name"}, path)
    if not NAME.match(name):
        reader.problem(path, "chain name must be lowercase letters, digits, '-' or '_'")
    rpc_urls = reader.strings(table, "rpc_urls", path, None)
    if not rpc_urls:
        reader.problem(f"{path}.rpc_urls", "needs at least one URL")
    for i, url in enumerate(rpc_urls):
        reader.check_url(f"{path}.rpc_urls[{i}]", url)
    finality = table.get("finality")
    if finality is not None and finality not in ("finalized", "safe"):
        reader.problem(f"{path}.finality", 'must be "finalized" or "safe"')
        finality = None
    assets_table = reader.table(table, "assets", path)
    assets = {
        symbol: _read_asset(reader, symbol, asset, f"{path}.assets.{symbol}")
        for symbol, asset in assets_table.items()
        if isinstance(asset, dict)
    }
    for symbol, asset in assets_table.items():
        if not isinstance(asset, dict):
            reader.problem(f"{path}.assets.{symbol}", "must be a table")
    if not assets:
        reader.problem(f"{path}.assets", "needs at least one asset")
    if sum(1 for a in assets.values() if a.native) > 1:
        reader.problem(f"{path}.assets", "at most one native asset per chain")
    multicall3 = reader.string(table, "multicall3", path, MULTICALL3_ADDRESS)
    if multicall3 and not _ADDRESS.match(multicall3):
        reader.problem(
            f"{path}.multicall3", f'must be a 0x-prefixed 20-byte address or "": {multicall3!r}'
        )
    return ChainSettings(
        name=name,
        rpc_urls=rpc_urls,
        chain_id=reader.integer(table, "chain_id", path, None, 1),
        confirmations=reader.integer(table, "confirmations", path, 12, 1),
        finality=finality,
        poll_seconds=reader.number(table, "poll_seconds", path, 12.0),
        max_block_range=reader.integer(table, "max_block_range", path, 500, 1),
        address_chunk_size=reader.integer(table, "address_chunk_size", path, 1000, 1),
        reorg_depth=reader.integer(table, "reorg_depth", path, 64, 1),
        assets=assets,
        multicall3=multicall3,
        explorer_url=reader.url(table, "explorer_url", path, ""),
        address_check_blocks=reader.integer(table, "address_check_blocks", path, 100_000, 0),
    )


def parse_settings(
    data: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    source: str = "<memory>",
    base_dir: Path | None = None,
) -> Settings:
    """Validate a parsed TOML document into `Settings`; raise ConfigError listing every problem.

    base_dir: the config file's folder; relative `spec` paths are read from there.
    """
    reader = _Reader(os.environ if env is None else env, base_dir)
    reader.unknown(data, {"relay", "chains", "stores"}, "")
    relay = _read_relay(reader, data)
    chains_table = reader.table(data, "chains", "")
    chains = {
        name: _read_chain(reader, name, table)
        for name, table in chains_table.items()
        if isinstance(table, dict)
    }
    stores_table = reader.table(data, "stores", "")
    stores = {
        name: read_store(reader, name, table, chains, reader.base_dir, reader.warnings)
        for name, table in stores_table.items()
        if isinstance(table, dict)
    }
    for name, table in [*chains_table.items(), *stores_table.items()]:
        if not isinstance(table, dict):
            reader.problem(name, "must be a table")
    if not stores:
        reader.problem("stores", "needs at least one [stores.<name>] table")
    if not chains:
        reader.problem("chains", "needs at least one [chains.<name>] table")
    ids = [c.chain_id for c in chains.values()]
    if len(ids) != len(set(ids)):
        reader.problem("chains", "two chains share a chain_id")
    if reader.problems:
        raise ConfigError(reader.problems)
    return Settings(
        relay=relay, chains=chains, stores=stores, warnings=tuple(reader.warnings), source=source
    )


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate a TOML config file; raise ConfigError naming each bad key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([(str(path), "file not found")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([(str(path), f"not valid TOML: {exc}")]) from None
    return parse_settings(data, env, source=str(path), base_dir=path.resolve().parent)


def summarize(settings: Settings) -> str:
    """Describe a valid configuration in a few lines (for `relay check-config`)."""
    lines = [f"config OK: {settings.source}"]
    lines.append(f"  webhooks spooled in {settings.relay.spool_directory()}")
    relay = settings.relay
    proxy = relay.trusted_proxy or "no proxy (X-Forwarded-* ignored)"
    lines.append(
        f"  web server on {relay.listen}: {relay.threads} threads, at most "
        f"{relay.connection_limit} connections, idle ones closed after "
        f"{relay.channel_timeout_seconds} s; forwarded headers trusted from {proxy}"
    )
    for chain in settings.chains.values():
        assets = ", ".join(chain.assets)
        rule = f"finality={chain.finality}" if chain.finality else f"{chain.confirmations} conf"
        lines.append(f"  chain {chain.name} (id {chain.chain_id}, {rule}): {assets}")
    for store in settings.stores.values():
        accept = ", ".join(f"{c}:{a}" for c, a in store.accept)
        kind = store.platform + (", relay-payments plugin" if store.is_plugin_store else "")
        lines.append(f"  store {store.name} ({kind}, {store.base_url}): {accept}")
    lines.extend(f"  warning: {w}" for w in settings.warnings)
    return "\n".join(lines)
