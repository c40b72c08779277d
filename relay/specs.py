"""Load and validate platform specs (`plugin_specs/<platform>.toml`) into PlatformSpec objects.

A spec says how to verify a platform's webhooks, where the order's fields sit in its payload, which
orders get an invoice, and what to do to the storefront order for each invoice event. Specs ship as
package data (importlib.resources) and are validated when first loaded; errors name file and key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from relay.errors import SpecError
from relay.events import EVENT_TYPES

SPEC_PACKAGE = "relay.plugin_specs"
VERIFICATIONS = ("hmac-sha256-base64",)
AUTH_SCHEMES = ("woocommerce",)
PINGS = ("form:webhook_id", "")
REQUIRED_FIELDS = ("order_id", "status", "currency", "total", "payment_method")
OPTIONAL_FIELDS = ("order_number", "order_key", "customer_email")
PLACEHOLDERS = frozenset(
    [
        "invoice_id",
        "payment_url",
        "amount",
        "currency",
        "asset",
        "chain",
        "asset_amount",
        "paid_amount",
        "remaining_amount",
        "tx_hash",
        "tx_hashes",
        "confirmations",
        "required_confirmations",
        "status",
        "exception",
        "expires_at",
    ]
)
EXCEPTIONS = ("paid_partial", "paid_over", "paid_late")
INBOUND_KEYS = frozenset(
    [
        "verification",
        "signature_header",
        "topic_header",
        "ping",
        "topics",
        "open_statuses",
        "fields",
    ]
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class OrderAction:
    """What to do to the storefront order for one invoice event.

    from_statuses: order statuses the relay may move from; status: the target status (or None);
    meta: order meta key → text template; note / customer_note: note templates.
    """

    from_statuses: tuple[str, ...] = ()
    status: str | None = None
    transaction_id: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    customer_note: str | None = None


@dataclass(frozen=True)
class PlatformSpec:
    """One validated platform spec."""

    name: str
    title: str
    verification: str
    signature_header: str
    topic_header: str
    ping: str
    topics: tuple[str, ...]
    open_statuses: tuple[str, ...]
    fields: Mapping[str, str]
    auth: str
    api_base: str
    protected_statuses: tuple[str, ...]
    actions: Mapping[str, OrderAction]  # "invoice.expired" or "invoice.expired.paid_partial"

    def action_for(self, event: str, exception: str) -> OrderAction | None:
        """Return the action for an event, preferring the one specific to the exception flag."""
        return self.actions.get(f"{event}.{exception}") or self.actions.get(event)


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill `{name}` placeholders from `values` (names are checked when the spec loads)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def read_path(payload: Any, path: str) -> Any:
    """Return the value at a dotted path in a JSON document, or None when absent."""
    value = payload
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def available_platforms() -> tuple[str, ...]:
    """Return the names of the shipped specs."""
    files = resources.files(SPEC_PACKAGE).iterdir()
    return tuple(sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml")))


def check_platform(platform: str, spec_path: str | None) -> list[tuple[str, str]]:
    """Return (config key, message) problems with a store's platform and spec; [] when fine."""
    if spec_path is not None:
        return [("spec", "a store's own spec file is not supported yet")]
    if platform not in available_platforms():
        shipped = ", ".join(available_platforms())
        return [("platform", f"unknown platform {platform!r}; shipped: {shipped}")]
    try:
        load_spec(platform)
    except SpecError as exc:
        return [("platform", exc.message)]
    return []


@cache
def load_spec(platform: str) -> PlatformSpec:
    """Load and validate the shipped spec for `platform`; raise SpecError naming file and key."""
    if platform not in available_platforms():
        raise SpecError(f"no plugin spec named {platform!r}")
    source = f"plugin_specs/{platform}.toml"
    text = resources.files(SPEC_PACKAGE).joinpath(f"{platform}.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}") from None
    return parse_spec(data, source)


def _strings(data: Mapping[str, Any], key: str, where: str, problems: list[str]) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}.{key}: must be a list of strings")
        return ()
    return tuple(value)


def _text(data: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(f"{where}.{key}: must be a string")
        return None
    for name in _PLACEHOLDER.findall(value):
        if name not in PLACEHOLDERS:
            problems.append(f"{where}.{key}: unknown placeholder {{{name}}}")
    return value


def _parse_action(data: Any, where: str, problems: list[str]) -> OrderAction:
    if not isinstance(data, dict):
        problems.append(f"{where}: must be a table")
        return OrderAction()
    for key in data:
        if key not in ("from", "status", "transaction_id", "meta", "note", "customer_note"):
            problems.append(f"{where}.{key}: unknown key")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        problems.append(f"{where}.meta: must be a table")
        meta = {}
    return OrderAction(
        from_statuses=_strings(data, "from", where, problems),
        status=_text(data, "status", where, problems),
        transaction_id=_text(data, "transaction_id", where, problems),
        meta={str(k): _text(meta, k, f"{where}.meta", problems) or "" for k in meta},
        note=_text(data, "note", where, problems),
        customer_note=_text(data, "customer_note", where, problems),
    )


def parse_spec(data: Mapping[str, Any], source: str) -> PlatformSpec:
    """Validate a parsed spec document; raise SpecError listing every problem with its key path."""
    problems: list[str] = []

    def table(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            problems.append(f"{where}{key}: must be a table")
            return {}
        return value

    for key in data:
        if key not in ("platform", "inbound", "outbound"):
            problems.append(f"{key}: unknown key")
    platform = table(data, "platform", "")
    inbound = table(data, "inbound", "")
    outbound = table(data, "outbound", "")
    fields = table(inbound, "fields", "inbound.")
    for key in inbound:
        if key not in INBOUND_KEYS:
            problems.append(f"inbound.{key}: unknown key")
    if inbound.get("verification") not in VERIFICATIONS:
        problems.append(f"inbound.verification: must be one of {', '.join(VERIFICATIONS)}")
    if inbound.get("ping", "") not in PINGS:
        problems.append(f"inbound.ping: must be one of {', '.join(repr(p) for p in PINGS)}")
    for name in REQUIRED_FIELDS:
        if not isinstance(fields.get(name), str):
            problems.append(f"inbound.fields.{name}: required (a dotted path)")
    for name in fields:
        if name not in REQUIRED_FIELDS + OPTIONAL_FIELDS:
            problems.append(f"inbound.fields.{name}: unknown field")
    if outbound.get("auth") not in AUTH_SCHEMES:
        problems.append(f"outbound.auth: must be one of {', '.join(AUTH_SCHEMES)}")
    events = table(outbound, "events", "outbound.")
    actions = {}
    for name, action in events.items():
        parts = name.split(".")
        event, suffix = ".".join(parts[:2]), ".".join(parts[2:])
        if event not in EVENT_TYPES or (suffix and suffix not in EXCEPTIONS):
            problems.append(f"outbound.events.{name!r}: unknown event (or event.exception)")
            continue
        actions[name] = _parse_action(action, f"outbound.events.{name!r}", problems)
    if problems:
        raise SpecError(f"{source}: " + "; ".join(problems))
    return PlatformSpec(
        name=str(platform.get("name", "")),
        title=str(platform.get("title", platform.get("name", ""))),
        verification=str(inbound["verification"]),
        signature_header=str(inbound.get("signature_header", "")),
        topic_header=str(inbound.get("topic_header", "")),
        ping=str(inbound.get("ping", "")),
        topics=_strings(inbound, "topics", "inbound", problems),
        open_statuses=_strings(inbound, "open_statuses", "inbound", problems),
        fields={str(k): str(v) for k, v in fields.items()},
        auth=str(outbound["auth"]),
        api_base=str(outbound.get("api_base", "")),
        protected_statuses=_strings(outbound, "protected_statuses", "outbound", problems),
        actions=actions,
    )
