"""Load and validate platform specs (`plugin_specs/<platform>.toml`) into PlatformSpec objects.

A spec is data: how to verify a platform's webhooks (a named scheme), where the order's fields sit
in its payload (JMESPath expressions, https://jmespath.org/specification.html), which orders get an
invoice, and which order API calls answer each invoice event (method, path and body templates, a
named auth scheme). Python exists only for the named schemes, so a platform that fits them needs
none. Shipped specs are package data (`relay.plugin_specs`, read with importlib.resources); a store
may name a spec file of its own. Every problem is reported with the file and its key path.
See plugin_specs/README.md for the format.
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from relay.errors import SpecError
from relay.events import EVENT_TYPES

SPEC_PACKAGE = "relay.plugin_specs"
VERIFICATIONS = ("hmac-sha256-base64", "standard-webhooks", "none-refetch")
AUTH_SCHEMES = ("woocommerce", "basic", "oauth1", "header-token", "bearer", "none")
PAGINATIONS = ("none", "link", "page")
PINGS = ("form:webhook_id", "")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REQUIRED_FIELDS = ("order_id", "currency", "total")
OPTIONAL_FIELDS = (
    "status",
    "payment_method",
    "order_number",
    "order_key",
    "customer_email",
    "subscription_id",  # a renewal order's subscription (its invoices get the `renewal` variant)
)
REFUND_PLACEHOLDERS = (
    "refund_id",
    "refund_external_id",
    "refund_reason",
    "refund_amount",
    "refund_asset_amount",
    "refund_address",
    "refund_address_url",
    "refund_uri",
    "refund_contract_note",
    "refund_tx_hash",
    "refund_paid_amount",
)
# Values computed for every invoice event by relay/outbox.py template_values().
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
        "unavailable_options",
        # the payment an invoice.payment_received / invoice.payment_removed event is about
        "payment_tx_hash",
        "payment_amount",
        "payment_asset",
        "payment_chain",
        "payment_state",
        "subscription_id",  # "" unless the order renews a subscription
        # the refund an invoice.refund_* event is about (relay/refunds.py refund_values)
        *REFUND_PLACEHOLDERS,
    ]
)
# Added by the storefront client: the order, the status an order moves to, the note being added
# (and the order's existing note text with it appended, for platforms with one note per order),
# a setter's key and value, and the reconciliation query's values.
ORDER_PLACEHOLDERS = PLACEHOLDERS | {"order_id", "new_status"}
NOTE_PLACEHOLDERS = ORDER_PLACEHOLDERS | {"note", "notes_with_note"}
SETTER_PLACEHOLDERS = ORDER_PLACEHOLDERS | {"key", "value"}
LIST_PLACEHOLDERS = frozenset({"modified_after", "open_statuses", "page"})
# action variants: the invoice's exception flag, a payment's state on invoice.payment_received,
# options_unavailable on invoice.created, or renewal for a subscription renewal order's invoice
# (relay/outbox.py action_variants; the first variant with an action wins, then the plain event)
EXCEPTIONS = (
    "paid_partial",
    "paid_over",
    "paid_late",
    "after_monitoring",
    "other_asset",
    "options_unavailable",
    "renewal",
)
INBOUND_KEYS = frozenset(
    [
        "verification",
        "signature_header",
        "topic_header",
        "topic_path",
        "order_path",
        "refetch_id",
        "ping",
        "topics",
        "open_statuses",
        "conditions",
        "fields",
        "refunds",
    ]
)
REFUND_KEYS = frozenset(["topics", "list", "order_id", "id", "amount", "reason"])
OUTBOUND_KEYS = frozenset(
    [
        "auth",
        "auth_header",
        "api_base",
        "protected_statuses",
        "errors",
        "retry_errors",
        "read_order",
        "list_orders",
        "update",
        "move",
        "setters",
        "notes",
        "events",
    ]
)
CALL_KEYS = frozenset(
    ["method", "path", "query", "body", "result", "errors", "retry_errors", "pagination"]
)
ACTION_KEYS = frozenset(["from", "status", "move", "set", "note", "customer_note"])
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)\}")
_ESCAPES = {"{{": "{", "}}": "}"}


@dataclass(frozen=True)
class CallSpec:
    """One order API call: method, path template (appended to base URL + api_base), templates.

    query: parameter → text template; body: a JSON-like template whose strings (keys and values)
    are rendered; result: JMESPath to what the call yields in its JSON answer; errors: JMESPath
    that is truthy when a 2xx answer still reports a failure (GraphQL `errors`/`userErrors`);
    retry_errors: JMESPath truthy when that failure is worth retrying (GraphQL `THROTTLED`);
    pagination (list calls): "none", "link" (follow `Link: <…>; rel="next"`) or "page".
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    result: str = "@"
    errors: str = ""
    retry_errors: str = ""
    pagination: str = "none"


@dataclass(frozen=True)
class Setter:
    """How one kind of order value is read back and written (e.g. WooCommerce order meta).

    current: JMESPath template (with `{key}`) into the read order; body: fragment merged into the
    `call` (by default `[outbound.update]`) when the order shows another value.
    """

    current: str
    body: Any
    call: CallSpec | None


@dataclass(frozen=True)
class OrderAction:
    """What to do to the storefront order for one invoice event.

    from_statuses: order statuses the relay may move from; status: the target status (or None);
    move: the call that moves the order (body may use `{new_status}`); set: setter kind → key →
    value template, each written only when the order shows another value; note / customer_note:
    note templates, added only when the order does not carry the same text already.
    """

    from_statuses: tuple[str, ...] = ()
    status: str | None = None
    move: CallSpec | None = None
    set: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    note: str | None = None
    customer_note: str | None = None


@dataclass(frozen=True)
class NotesSpec:
    """How notes are read and added: `list` call (or `existing`, a JMESPath into the read order)."""

    list: CallSpec | None = None
    existing: str = ""
    add: CallSpec | None = None
    add_customer: CallSpec | None = None


@dataclass(frozen=True)
class RefundsSpec:
    """Where a platform's webhooks report refunds recorded on an order (`[inbound.refunds]`).

    topics: the topics whose webhooks carry refunds (default: `inbound.topics`); a topic listed
    here but not in `inbound.topics` only reports refunds and never opens an invoice. The
    document is the webhook's order object (after `order_path`); `list` is a JMESPath from it to
    the refund entries, `order_id` to the order id (default `inbound.fields.order_id`); `id`,
    `amount` (a decimal; its absolute value is taken, WooCommerce refund totals are negative) and
    `reason` are JMESPaths into one entry.
    """

    topics: tuple[str, ...]
    list: str
    id: str
    amount: str
    order_id: str = ""
    reason: str = ""


@dataclass(frozen=True)
class PlatformSpec:
    """One validated platform spec; `source` is the file it came from."""

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
    source: str = ""
    topic_path: str = ""
    order_path: str = ""
    refetch_id: str = ""
    conditions: tuple[str, ...] = ()
    auth_header: str = ""
    read_order: CallSpec | None = None
    list_orders: CallSpec | None = None
    update: CallSpec | None = None
    setters: Mapping[str, Setter] = field(default_factory=dict)
    notes: NotesSpec = field(default_factory=NotesSpec)
    refunds: RefundsSpec | None = None

    def action_for(self, event: str, *variants: str) -> OrderAction | None:
        """Return the action for an event: the first variant's that has one, else the plain one.

        variants: the exception flag and other variants, most specific first ("" is skipped).
        """
        for variant in variants:
            if variant and (action := self.actions.get(f"{event}.{variant}")) is not None:
                return action
        return self.actions.get(event)

    @property
    def refund_topics(self) -> tuple[str, ...]:
        """Return the topics whose webhooks may report refunds (none without `inbound.refunds`)."""
        return self.refunds.topics if self.refunds is not None else ()

    @property
    def can_read_orders(self) -> bool:
        """Tell whether the spec says how to read one order back from the store's API."""
        return self.read_order is not None

    @property
    def can_list_orders(self) -> bool:
        """Tell whether the spec says how to list recent orders (for reconciliation)."""
        return self.list_orders is not None


class SpecInvalid(SpecError):
    """Raise for a spec with problems; `problems` lists (key path, message), `source` the file."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        text = "; ".join(f"{key}: {msg}" if key else msg for key, msg in problems)
        super().__init__(f"{source}: {text}")


class StoreLike(Protocol):
    """What load_spec needs of a store: StoreSettings fits."""

    @property
    def platform(self) -> str: ...

    @property
    def spec(self) -> str | None: ...


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill `{name}` placeholders from `values`; `{{` and `}}` stand for literal braces."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return _ESCAPES[match.group(0)]
        return values.get(name, match.group(0))

    return _PLACEHOLDER.sub(fill, template)


def render_tree(template: Any, values: Mapping[str, str]) -> Any:
    """Render every string (table keys included) of a JSON-like template; keep other values."""
    if isinstance(template, str):
        return render(template, values)
    if isinstance(template, Mapping):
        return {render(str(k), values): render_tree(v, values) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return [render_tree(v, values) for v in template]
    return template


def merge_bodies(left: Any, right: Any) -> Any:
    """Merge two JSON bodies: tables key by key, arrays end to end, otherwise `right` wins."""
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        merged = dict(left)
        for key, value in right.items():
            merged[key] = merge_bodies(merged[key], value) if key in merged else value
        return merged
    if isinstance(left, list) and isinstance(right, list):
        return [*left, *right]
    return right if right is not None else left


@lru_cache(maxsize=512)
def compile_path(expression: str) -> ParsedResult:
    """Compile a JMESPath expression (cached); raise jmespath's ParseError when it is invalid."""
    return jmespath.compile(expression)


_FIELD_CHAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@lru_cache(maxsize=512)
def _field_chain(expression: str) -> tuple[str, ...] | None:
    """Return the keys of a plain field chain (`billing.email`), or None for other JMESPath."""
    return tuple(expression.split(".")) if _FIELD_CHAIN.fullmatch(expression) else None


def read_path(payload: Any, path: str) -> Any:
    """Return the value of a JMESPath expression over a JSON document (None when absent).

    A plain field chain is read with dict lookups (JMESPath's result, about 8 times faster: the
    webhook route reads a dozen fields per order; bench/README.md, ingest).
    """
    keys = _field_chain(path)
    if keys is not None:
        for key in keys:
            if not isinstance(payload, dict):
                return None
            payload = payload.get(key)
        return payload
    try:
        return compile_path(path).search(payload)
    except JMESPathError:
        return None  # e.g. a function applied to a value of the wrong type in this document


def as_text(value: Any) -> str:
    """Return a JSON value as the text the relay compares and stores ("" for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def available_platforms() -> tuple[str, ...]:
    """Return the names of the shipped specs."""
    files = resources.files(SPEC_PACKAGE).iterdir()
    return tuple(sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml")))


_lock = threading.Lock()
_cache: dict[tuple[str, str], PlatformSpec] = {}
_own_files: dict[str, str] = {}  # platform name → a store's own spec file that defines it


def clear_spec_cache() -> None:
    """Forget loaded specs and store spec files (tests, or a reload after editing a spec)."""
    with _lock:
        _cache.clear()
        _own_files.clear()


def load_spec(store: StoreLike | str, spec_path: str | None = None) -> PlatformSpec:
    """Return the validated spec for a store (or a platform name and an optional spec file).

    A spec file of the store's own is read from `spec_path` (relative paths from the working
    directory); a platform name alone finds a shipped spec, or the own file a store registered
    under that name. Results are cached. raises SpecError naming the file and key paths.
    """
    platform, path = (store, spec_path) if isinstance(store, str) else (store.platform, store.spec)
    with _lock:
        if path is None:
            path = _own_files.get(platform)
        resolved = str(Path(path).expanduser().resolve()) if path else ""
        cached = _cache.get((platform, resolved))
    if cached is not None:
        return cached
    spec = _read_spec(platform, resolved)
    with _lock:
        if resolved:
            _own_files.setdefault(platform, resolved)
        return _cache.setdefault((platform, resolved), spec)


def _read_spec(platform: str, path: str) -> PlatformSpec:
    if path:
        source = path
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecInvalid(
                source, [("", f"cannot read the spec file: {exc.strerror}")]
            ) from None
    else:
        if platform not in available_platforms():
            raise SpecError(f"no plugin spec named {platform!r}")
        source = f"plugin_specs/{platform}.toml"
        resource = resources.files(SPEC_PACKAGE).joinpath(f"{platform}.toml")
        text = resource.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecInvalid(source, [("", f"not valid TOML: {exc}")]) from None
    spec = parse_spec(data, source)
    if spec.name != platform:
        raise SpecInvalid(
            source, [("platform.name", f"is {spec.name!r}, the store says {platform!r}")]
        )
    return spec


def check_platform(platform: str, spec_path: str | None) -> list[tuple[str, str]]:
    """Return (config key, message) problems with a store's platform and spec; [] when fine.

    A store's own spec file registers its platform name, so a later `load_spec(platform)` finds it.
    """
    if spec_path is None:
        if platform not in available_platforms() and platform not in _own_files:
            shipped = ", ".join(available_platforms())
            return [("platform", f"unknown platform {platform!r}; shipped: {shipped}")]
    elif platform in available_platforms():
        return [("platform", f"{platform!r} is a shipped spec; name your own spec differently")]
    else:
        resolved = str(Path(spec_path).expanduser().resolve())
        with _lock:
            other = _own_files.get(platform)
        if other is not None and other != resolved:
            return [("platform", f"{platform!r} already names the spec file {other}")]
    try:
        load_spec(platform, spec_path)
    except SpecInvalid as exc:
        key = "spec" if spec_path else "platform"
        return [
            (key, f"{exc.source}: {k}: {m}" if k else f"{exc.source}: {m}") for k, m in exc.problems
        ]
    except SpecError as exc:
        return [("spec" if spec_path else "platform", exc.message)]
    return []


class _Checker:
    """Read typed values out of a spec document while collecting every problem by key path."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def table(self, data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem(_join(where, key), "must be a table")
            return {}
        return value

    def unknown(self, data: Mapping[str, Any], known: frozenset[str], where: str) -> None:
        for key in data:
            if key not in known:
                self.problem(_join(where, key), "unknown key")

    def strings(self, data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(_join(where, key), "must be a list of strings")
            return ()
        return tuple(value)

    def choice(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        choices: tuple[str, ...],
        default: str | None = None,
    ) -> str:
        value = data.get(key, default)
        if value not in choices:
            shown = ", ".join(repr(c) for c in choices)
            self.problem(_join(where, key), f"must be one of {shown}")
            return default or choices[0]
        return str(value)

    def string(self, data: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            self.problem(_join(where, key), "must be a string")
            return default
        return value

    def template(
        self, data: Mapping[str, Any], key: str, where: str, allowed: frozenset[str]
    ) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(_join(where, key), "must be a string")
            return None
        self.placeholders(value, _join(where, key), allowed)
        return value

    def placeholders(self, text: str, where: str, allowed: frozenset[str]) -> None:
        for match in _PLACEHOLDER.finditer(text):
            name = match.group(1)
            if name is not None and name not in allowed:
                self.problem(where, f"unknown placeholder {{{name}}}")

    def tree(self, value: Any, where: str, allowed: frozenset[str]) -> None:
        """Check every string of a body template for placeholders."""
        if isinstance(value, str):
            self.placeholders(value, where, allowed)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.placeholders(str(key), where, allowed)
                self.tree(item, _join(where, str(key)), allowed)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.tree(item, f"{where}[{i}]", allowed)

    def path(self, value: Any, where: str) -> str:
        """Check one JMESPath expression; return it ("" when invalid)."""
        if not isinstance(value, str) or not value.strip():
            self.problem(where, "must be a JMESPath expression (a string)")
            return ""
        try:
            compile_path(value)
        except JMESPathError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.problem(where, f"invalid JMESPath {value!r}: {first}")
            return ""
        return value

    def optional_path(self, data: Mapping[str, Any], key: str, where: str) -> str:
        return self.path(data[key], _join(where, key)) if key in data else ""

    def call(
        self,
        data: Any,
        where: str,
        allowed: frozenset[str],
        base: CallSpec | None = None,
        defaults: Mapping[str, str] | None = None,
    ) -> CallSpec | None:
        """Read a call table; keys it leaves out come from `base` (its body is merged over)."""
        if not isinstance(data, dict):
            self.problem(where, "must be a table")
            return None
        self.unknown(data, CALL_KEYS, where)
        defaults = defaults or {}
        method = self.string(data, "method", where, base.method if base else "").upper()
        if method not in METHODS:
            self.problem(_join(where, "method"), f"must be one of {', '.join(METHODS)}")
        path = self.template(data, "path", where, allowed) or (base.path if base else "")
        if not path.startswith("/"):
            self.problem(_join(where, "path"), "must be a path template starting with '/'")
        query = self.table(data, "query", where)
        for key, value in query.items():
            if not isinstance(value, str):
                self.problem(_join(where, f"query.{key}"), "must be a string template")
            else:
                self.placeholders(value, _join(where, f"query.{key}"), allowed)
        body = data.get("body")
        self.tree(body, _join(where, "body"), allowed)
        if base is not None and base.body is not None:
            body = merge_bodies(base.body, body)
        errors = self.optional_path(data, "errors", where)
        retry_errors = self.optional_path(data, "retry_errors", where)
        return CallSpec(
            method=method,
            path=path,
            query={str(k): str(v) for k, v in query.items()} or dict(base.query if base else {}),
            body=body,
            result=self.optional_path(data, "result", where) or (base.result if base else "@"),
            errors=errors or (base.errors if base else "") or defaults.get("errors", ""),
            retry_errors=retry_errors
            or (base.retry_errors if base else "")
            or defaults.get("retry_errors", ""),
            pagination=self.choice(data, "pagination", where, PAGINATIONS, "none"),
        )


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def parse_spec(data: Mapping[str, Any], source: str) -> PlatformSpec:
    """Validate a parsed spec document; raise SpecInvalid listing every problem by key path."""
    check = _Checker()
    check.unknown(data, frozenset(["platform", "inbound", "outbound"]), "")
    platform = check.table(data, "platform", "")
    check.unknown(platform, frozenset(["name", "title"]), "platform")
    name = check.string(platform, "name", "platform")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name):
        check.problem("platform.name", "required: lowercase letters, digits, '-' or '_'")
    inbound = _parse_inbound(check, check.table(data, "inbound", ""))
    outbound = check.table(data, "outbound", "")
    spec_out = _parse_outbound(check, outbound, inbound)
    if check.problems:
        raise SpecInvalid(source, check.problems)
    return PlatformSpec(
        name=name,
        title=check.string(platform, "title", "platform", name),
        source=source,
        **inbound,
        **spec_out,
    )


def _parse_inbound(check: _Checker, inbound: Mapping[str, Any]) -> dict[str, Any]:
    where = "inbound"
    check.unknown(inbound, INBOUND_KEYS, where)
    verification = check.choice(inbound, "verification", where, VERIFICATIONS)
    signature_header = check.string(inbound, "signature_header", where)
    if verification == "hmac-sha256-base64" and not signature_header:
        check.problem(f"{where}.signature_header", "required by hmac-sha256-base64")
    refetch_id = check.optional_path(inbound, "refetch_id", where)
    if verification == "none-refetch" and not refetch_id:
        check.problem(f"{where}.refetch_id", "required by none-refetch (JMESPath to the order id)")
    fields = check.table(inbound, "fields", where)
    for name in REQUIRED_FIELDS:
        if name not in fields:
            check.problem(f"{where}.fields.{name}", "required (a JMESPath expression)")
    for name, path in fields.items():
        if name not in REQUIRED_FIELDS + OPTIONAL_FIELDS:
            check.problem(f"{where}.fields.{name}", "unknown field")
        check.path(path, f"{where}.fields.{name}")
    conditions = check.strings(inbound, "conditions", where)
    for i, condition in enumerate(conditions):
        check.path(condition, f"{where}.conditions[{i}]")
    open_statuses = check.strings(inbound, "open_statuses", where)
    if open_statuses and "status" not in fields:
        check.problem(f"{where}.open_statuses", "needs inbound.fields.status")
    topics = check.strings(inbound, "topics", where)
    refunds = None
    if "refunds" in inbound:
        refunds = _parse_refunds(check, check.table(inbound, "refunds", where), topics)
    return {
        "verification": verification,
        "signature_header": signature_header,
        "topic_header": check.string(inbound, "topic_header", where),
        "topic_path": check.optional_path(inbound, "topic_path", where),
        "order_path": check.optional_path(inbound, "order_path", where),
        "refetch_id": refetch_id,
        "ping": check.choice(inbound, "ping", where, PINGS, ""),
        "topics": topics,
        "open_statuses": open_statuses,
        "conditions": conditions,
        "fields": {str(k): str(v) for k, v in fields.items()},
        "refunds": refunds,
    }


def _parse_refunds(
    check: _Checker, table: Mapping[str, Any], topics: tuple[str, ...]
) -> RefundsSpec:
    where = "inbound.refunds"
    check.unknown(table, REFUND_KEYS, where)
    for key in ("list", "id", "amount"):
        if key not in table:
            check.problem(f"{where}.{key}", "required (a JMESPath expression)")
    own_topics = check.strings(table, "topics", where)
    return RefundsSpec(
        topics=own_topics or topics,
        list=check.optional_path(table, "list", where),
        id=check.optional_path(table, "id", where),
        amount=check.optional_path(table, "amount", where),
        order_id=check.optional_path(table, "order_id", where),
        reason=check.optional_path(table, "reason", where),
    )


def _parse_outbound(
    check: _Checker, outbound: Mapping[str, Any], inbound: Mapping[str, Any]
) -> dict[str, Any]:
    where = "outbound"
    check.unknown(outbound, OUTBOUND_KEYS, where)
    auth = check.choice(outbound, "auth", where, AUTH_SCHEMES)
    auth_header = check.string(outbound, "auth_header", where)
    if auth == "header-token" and not auth_header:
        check.problem(f"{where}.auth_header", "required by header-token (the header's name)")
    defaults = {
        "errors": check.optional_path(outbound, "errors", where),
        "retry_errors": check.optional_path(outbound, "retry_errors", where),
    }
    order_only = frozenset({"order_id"})

    def call(key: str, allowed: frozenset[str]) -> CallSpec | None:
        if key not in outbound:
            return None
        return check.call(outbound[key], f"{where}.{key}", allowed, defaults=defaults)

    read_order = call("read_order", order_only)
    list_orders = call("list_orders", LIST_PLACEHOLDERS)
    update = call("update", ORDER_PLACEHOLDERS)
    move = call("move", ORDER_PLACEHOLDERS)
    if inbound["verification"] == "none-refetch" and read_order is None:
        check.problem(f"{where}.read_order", "required by inbound verification none-refetch")
    setters = _parse_setters(check, check.table(outbound, "setters", where), update, defaults)
    notes = _parse_notes(check, check.table(outbound, "notes", where), defaults)
    actions: dict[str, OrderAction] = {}
    events = check.table(outbound, "events", where)
    for name, table in events.items():
        key = f"{where}.events.{name!r}"
        parts = name.split(".")
        event, suffix = ".".join(parts[:2]), ".".join(parts[2:])
        if event not in EVENT_TYPES or (suffix and suffix not in EXCEPTIONS):
            check.problem(key, "unknown event (or event.exception)")
            continue
        action = _parse_action(check, table, key, move, setters, defaults)
        if action is None:
            continue
        if (action.status or action.set) and read_order is None:
            check.problem(key, "moves or sets order values, so outbound.read_order is required")
        if action.status and "status" not in inbound["fields"]:
            check.problem(key, "moves the order, so inbound.fields.status is required")
        if action.note and notes.add is None:
            check.problem(f"{key}.note", "needs outbound.notes.add")
        if action.customer_note and notes.add_customer is None and notes.add is None:
            check.problem(f"{key}.customer_note", "needs outbound.notes.add_customer")
        actions[name] = action
    return {
        "auth": auth,
        "auth_header": auth_header,
        "api_base": check.string(outbound, "api_base", where).rstrip("/"),
        "protected_statuses": check.strings(outbound, "protected_statuses", where),
        "read_order": read_order,
        "list_orders": list_orders,
        "update": update,
        "setters": setters,
        "notes": notes,
        "actions": actions,
    }


def _parse_setters(
    check: _Checker,
    setters: Mapping[str, Any],
    update: CallSpec | None,
    defaults: Mapping[str, str],
) -> dict[str, Setter]:
    result = {}
    for kind, table in setters.items():
        where = f"outbound.setters.{kind}"
        if not isinstance(table, dict):
            check.problem(where, "must be a table")
            continue
        check.unknown(table, CALL_KEYS | {"current"}, where)
        current = check.template(table, "current", where, frozenset({"key"}))
        if current is None:
            check.problem(f"{where}.current", "required (JMESPath template using {key})")
            continue
        check.tree(table.get("body"), f"{where}.body", SETTER_PLACEHOLDERS)
        own = {k: v for k, v in table.items() if k not in ("current", "body")}
        call = check.call(own, where, SETTER_PLACEHOLDERS, update, defaults) if own else None
        if call is None and update is None:
            check.problem(where, "needs its own method and path, or outbound.update")
        result[kind] = Setter(current=current, body=table.get("body"), call=call or update)
    return result


def _parse_notes(
    check: _Checker, notes: Mapping[str, Any], defaults: Mapping[str, str]
) -> NotesSpec:
    where = "outbound.notes"
    check.unknown(notes, frozenset(["list", "existing", "add", "add_customer"]), where)

    def call(key: str, allowed: frozenset[str]) -> CallSpec | None:
        if key not in notes:
            return None
        return check.call(notes[key], f"{where}.{key}", allowed, defaults=defaults)

    spec = NotesSpec(
        list=call("list", ORDER_PLACEHOLDERS),
        existing=check.optional_path(notes, "existing", where),
        add=call("add", NOTE_PLACEHOLDERS),
        add_customer=call("add_customer", NOTE_PLACEHOLDERS),
    )
    if (spec.add or spec.add_customer) and not (spec.list or spec.existing):
        # the relay never adds a note that is already there, so it must be able to see them
        check.problem(where, "adding notes needs `list` (a call) or `existing` (a JMESPath)")
    return spec


def _parse_action(
    check: _Checker,
    table: Any,
    where: str,
    move: CallSpec | None,
    setters: Mapping[str, Setter],
    defaults: Mapping[str, str],
) -> OrderAction | None:
    if not isinstance(table, dict):
        check.problem(where, "must be a table")
        return None
    check.unknown(table, ACTION_KEYS, where)
    status = check.template(table, "status", where, frozenset())
    action_move = move
    if "move" in table:
        action_move = check.call(table["move"], f"{where}.move", ORDER_PLACEHOLDERS, move, defaults)
    if status and action_move is None:
        check.problem(f"{where}.move", "a status move needs outbound.move or its own move call")
    values: dict[str, dict[str, str]] = {}
    for kind, entries in check.table(table, "set", where).items():
        key = f"{where}.set.{kind}"
        if kind not in setters:
            check.problem(key, "unknown setter (define it in outbound.setters)")
            continue
        if not isinstance(entries, dict):
            check.problem(key, "must be a table of key = value template")
            continue
        values[kind] = {}
        for name in entries:
            text = check.template(entries, name, key, ORDER_PLACEHOLDERS)
            if text is None:
                continue
            check.path(render(setters[kind].current, {"key": name}), f"{key}.{name}")
            values[kind][str(name)] = text
    return OrderAction(
        from_statuses=check.strings(table, "from", where),
        status=status,
        move=action_move if status else None,
        set=values,
        note=check.template(table, "note", where, ORDER_PLACEHOLDERS),
        customer_note=check.template(table, "customer_note", where, ORDER_PLACEHOLDERS),
    )
