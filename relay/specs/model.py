"""The platform spec's data model: what a validated `plugin_specs/<platform>.toml` says.

A spec is data: how to verify a platform's webhooks (a named scheme), where the order's fields sit
in its payload (JMESPath expressions), which orders get an invoice, and which order API calls
answer each invoice event (method, path and body templates, a named auth scheme). The placeholder
sets name the values each kind of template may use. See plugin_specs/README.md for the format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from relay.errors import SpecError

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
        "closed_by",  # the invoice that paid the order, when it closed this one (else "")
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
    # `[outbound.callback]`: every invoice event is POSTed to this call as its Standard Webhooks
    # event body (relay/delivery.py); the platform re-reads the invoice, so no actions are needed
    callback: CallSpec | None = None

    def action_key(self, event: str, *variants: str) -> str | None:
        """Return the key of the action for an event (`invoice.expired.paid_partial`): the first
        variant's that has one, else the plain event's; None when the spec has no action.

        variants: the exception flag and other variants, most specific first ("" is skipped).
        """
        for variant in variants:
            if variant and f"{event}.{variant}" in self.actions:
                return f"{event}.{variant}"
        return event if event in self.actions else None

    def action_for(self, event: str, *variants: str) -> OrderAction | None:
        """Return the action for an event (see `action_key`), or None."""
        key = self.action_key(event, *variants)
        return None if key is None else self.actions[key]

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
    """What load_spec needs of a store: StoreSettings fits. `spec_platform`, when not "", names
    the shipped spec read instead of `platform`'s (a WooCommerce plugin store)."""

    @property
    def platform(self) -> str: ...

    @property
    def spec_platform(self) -> str: ...

    @property
    def spec(self) -> str | None: ...
