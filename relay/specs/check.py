"""Check a spec document's values: the format's vocabulary and a Checker for its value kinds.

`SpecChecker` is relay/tomlcheck.py's Checker (tables, strings, choices; every problem kept with
its key path) plus what only specs have: text templates with known placeholders, JMESPath
expressions, body templates, and order API call tables. relay/specs/parse.py reads the sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jmespath.exceptions import JMESPathError

from relay.specs.model import CallSpec
from relay.specs.paths import compile_path
from relay.specs.templates import merge_bodies, placeholders
from relay.tomlcheck import Checker, join

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
    "return_url",  # where the payment page's "back to the store" link goes (the store's host)
)
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
    "closed",  # an invoice closed because another invoice of its order paid it
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
        "callback",
    ]
)
CALL_KEYS = frozenset(
    ["method", "path", "query", "body", "result", "errors", "retry_errors", "pagination"]
)
ACTION_KEYS = frozenset(["from", "status", "move", "set", "note", "customer_note"])


class SpecChecker(Checker):
    """Read typed values out of a spec document while collecting every problem by key path."""

    def template(
        self, data: Mapping[str, Any], key: str, where: str, allowed: frozenset[str]
    ) -> str | None:
        """Return the text template at `key` (None when absent), its placeholders checked."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(join(where, key), "must be a string")
            return None
        self.placeholders(value, join(where, key), allowed)
        return value

    def placeholders(self, text: str, where: str, allowed: frozenset[str]) -> None:
        """Report every placeholder of a text template that is not in `allowed`."""
        for name in placeholders(text):
            if name not in allowed:
                self.problem(where, f"unknown placeholder {{{name}}}")

    def tree(self, value: Any, where: str, allowed: frozenset[str]) -> None:
        """Check every string of a body template for placeholders."""
        if isinstance(value, str):
            self.placeholders(value, where, allowed)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.placeholders(str(key), where, allowed)
                self.tree(item, join(where, str(key)), allowed)
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
        """Check the JMESPath expression at `key` when present; return it ("" when absent)."""
        return self.path(data[key], join(where, key)) if key in data else ""

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
            self.problem(join(where, "method"), f"must be one of {', '.join(METHODS)}")
        path = self.template(data, "path", where, allowed) or (base.path if base else "")
        if not path.startswith("/"):
            self.problem(join(where, "path"), "must be a path template starting with '/'")
        query = self.table(data, "query", where)
        for key, value in query.items():
            if not isinstance(value, str):
                self.problem(join(where, f"query.{key}"), "must be a string template")
            else:
                self.placeholders(value, join(where, f"query.{key}"), allowed)
        body = data.get("body")
        self.tree(body, join(where, "body"), allowed)
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
