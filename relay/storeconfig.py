"""Read one `[stores.<name>]` table of the config into StoreSettings (relay/config.py calls it).

Two kinds of WooCommerce store (DESIGN.md): a *REST store* gives `api_key` and `api_secret` (the
relay reads and moves its orders through WooCommerce's REST API, webhooks bring the orders in),
a *plugin store* gives `api_token` and no REST keys (the relay-payments plugin opens invoices at
checkout with that token and is told of every change at `{base_url}/?wc-api=relay`; its spec is
plugin_specs/woocommerce-plugin.toml). A plugin store's `webhook_secret` is optional and its
`payment_methods` default to `["relay"]` (the plugin's gateway id); it has no REST
reconciliation (`reconcile_seconds` is 0: the plugin's own scheduled pass takes that role).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from relay.addresses import validate_xpub
from relay.events import EVENT_TYPES
from relay.settings import PLUGIN_SPEC, ChainSettings, StoreSettings, WebhookSettings
from relay.specs import check_platform, load_spec
from relay.tomlcheck import Checker

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STORE_KEYS = frozenset(
    [
        "platform",
        "base_url",
        "webhook_secret",
        "api_key",
        "api_secret",
        "payment_methods",
        "xpub",
        "accept",
        "invoice_expiry_minutes",
        "monitoring_minutes",
        "webhooks",
        "payment_tolerance_percent",
        "reconcile_seconds",
        "spec",
        "api_token",
        "renewal_invoice_expiry_minutes",
        "first_address_index",
        "check_deposit_addresses",
    ]
)
PLUGIN_PAYMENT_METHODS = ("relay",)  # the plugin's gateway id
WOOCOMMERCE_KINDS = (
    "a WooCommerce store needs either api_token (with the relay-payments plugin: the same token "
    "goes in the plugin's settings; no REST keys or webhooks) or api_key and api_secret (without "
    "the plugin: REST API keys with Read/Write access, and the two webhooks)"
)


def read_webhooks(
    reader: Checker, table: Mapping[str, Any], path: str
) -> tuple[WebhookSettings, ...]:
    """Read a store's `[[stores.<name>.webhooks]]` status webhook endpoints."""
    hooks = table.get("webhooks", [])
    if not isinstance(hooks, list):
        reader.problem(f"{path}.webhooks", "must be an array of tables [[…webhooks]]")
        return ()
    result = []
    for i, hook in enumerate(hooks):
        hpath = f"{path}.webhooks[{i}]"
        if not isinstance(hook, dict):
            reader.problem(hpath, "must be a table")
            continue
        reader.unknown(hook, {"url", "secret", "events"}, hpath)
        url = reader.string(hook, "url", hpath)
        reader.check_url(f"{hpath}.url", url)
        secrets = reader.strings(hook, "secret", hpath, None)
        for j, secret in enumerate(secrets):
            if secret and not secret.startswith("whsec_"):
                reader.problem(f"{hpath}.secret[{j}]", "must be a Standard Webhooks whsec_… secret")
        events = reader.strings(hook, "events", hpath, tuple(EVENT_TYPES))
        for j, event in enumerate(events):
            if event not in EVENT_TYPES:
                reader.problem(f"{hpath}.events[{j}]", f"unknown event {event!r}")
        result.append(WebhookSettings(url=url, secrets=secrets, events=events))
    return tuple(result)


def store_kind(platform: str, spec: str | None, table: Mapping[str, Any]) -> str:
    """Return the shipped spec a store reads instead of its platform's ("" for its own):
    PLUGIN_SPEC for a WooCommerce store with api_token and neither api_key nor api_secret."""
    keys = "api_key" in table or "api_secret" in table
    if platform == "woocommerce" and spec is None and "api_token" in table and not keys:
        return PLUGIN_SPEC
    return ""


def read_store(
    reader: Checker,
    name: str,
    table: Mapping[str, Any],
    chains: Mapping[str, ChainSettings],
    base_dir: Path | None,
    warnings: list[str],
) -> StoreSettings:
    """Read one store table; problems go to `reader`, notices to `warnings`.

    base_dir: the config file's folder (a relative `spec` path is read from there).
    """
    path = f"stores.{name}"
    reader.unknown(table, STORE_KEYS, path)
    if not NAME.match(name):
        reader.problem(path, "store name must be lowercase letters, digits, '-' or '_'")
    platform = reader.string(table, "platform", path)
    spec = reader.string(table, "spec", path, "") or None
    if spec and base_dir is not None and not Path(spec).expanduser().is_absolute():
        spec = str(base_dir / spec)
    spec_platform = store_kind(platform, spec, table)
    plugin = spec_platform == PLUGIN_SPEC
    auth = ""
    if platform:
        problems = check_platform(platform, spec)
        for key, message in problems:
            reader.problem(f"{path}.{key}", message)
        if not problems:
            auth = load_spec(spec_platform or platform, spec).auth
    if platform == PLUGIN_SPEC:
        reader.problem(
            f"{path}.platform",
            'a store with the relay-payments plugin is platform = "woocommerce" with api_token',
        )
    if plugin:
        auth = "bearer"  # the plugin re-reads invoices with the store's api_token
    elif platform == "woocommerce" and spec is None and not ({"api_key", "api_secret"} & {*table}):
        reader.problem(path, WOOCOMMERCE_KINDS)
        auth = ""  # one message, not one per missing key
    needs_keys = auth in ("woocommerce", "basic", "oauth1")
    needs_token = auth in ("header-token", "bearer")
    base_url = reader.url(table, "base_url", path)
    xpub = reader.string(table, "xpub", path)
    if xpub:
        error = validate_xpub(xpub)
        if error:
            reader.problem(f"{path}.xpub", error)
    accept: list[tuple[str, str]] = []
    for i, item in enumerate(reader.strings(table, "accept", path, None)):
        chain, _, symbol = item.partition(":")
        if chain not in chains:
            reader.problem(f"{path}.accept[{i}]", f"unknown chain {chain!r} in {item!r}")
        elif symbol not in chains[chain].assets:
            reader.problem(f"{path}.accept[{i}]", f"chain {chain!r} has no asset {symbol!r}")
        else:
            accept.append((chain, symbol))
    if "accept" in table and not accept:
        reader.problem(f"{path}.accept", "needs at least one chain:ASSET")
    tolerance = reader.decimal(table, "payment_tolerance_percent", path, "0")
    if tolerance >= 100:
        reader.problem(f"{path}.payment_tolerance_percent", "must be below 100")
    methods = reader.strings(
        table, "payment_methods", path, PLUGIN_PAYMENT_METHODS if plugin else None
    )
    if "payment_methods" in table and not methods:
        reader.problem(f"{path}.payment_methods", "needs at least one payment method id")
    expiry = reader.number(table, "invoice_expiry_minutes", path, 30.0)
    reconcile = reader.integer(table, "reconcile_seconds", path, 300, 0)
    if plugin and reconcile and "reconcile_seconds" in table:
        warnings.append(
            f"{path}.reconcile_seconds: a plugin store has no REST reconciliation "
            "(the plugin re-reads its pending orders itself); ignored"
        )
    api_token = reader.string(table, "api_token", path, None if needs_token else "")
    check_addresses = table.get("check_deposit_addresses", True)
    if not isinstance(check_addresses, bool):
        reader.problem(f"{path}.check_deposit_addresses", "must be true or false")
        check_addresses = True
    reported = any(key == f"{path}.api_token" for key, _ in reader.problems)
    if plugin and not api_token and not reported:
        reader.problem(f"{path}.api_token", "must not be empty (the plugin's settings hold it too)")
    return StoreSettings(
        name=name,
        platform=platform,
        base_url=base_url,
        webhook_secrets=reader.strings(table, "webhook_secret", path, () if plugin else None),
        api_key=reader.string(table, "api_key", path, None if needs_keys else ""),
        api_secret=reader.string(table, "api_secret", path, None if needs_keys else ""),
        payment_methods=methods,
        xpub=xpub,
        accept=tuple(accept),
        invoice_expiry_minutes=expiry,
        monitoring_minutes=reader.number(
            table, "monitoring_minutes", path, 1440.0, allow_zero=True
        ),
        payment_tolerance_percent=tolerance,
        reconcile_seconds=0 if plugin else reconcile,
        webhooks=read_webhooks(reader, table, path),
        spec=spec,
        api_token=api_token,
        renewal_invoice_expiry_minutes=reader.number(
            table, "renewal_invoice_expiry_minutes", path, expiry
        ),
        first_address_index=reader.integer(table, "first_address_index", path, 0, 0),
        check_deposit_addresses=check_addresses,
        spec_platform=spec_platform,
    )
