"""Parse one spec document into a PlatformSpec, reporting every problem with its key path.

Sections: `[platform]` (name, title), `[inbound]` (webhook verification, topics, order fields,
refunds) and `[outbound]` (auth, order API calls, setters, notes, and the action for each invoice
event). Cross-checks tie them together: a status move needs `inbound.fields.status` and
`outbound.read_order`, a note needs `outbound.notes.add`, and so on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from relay.events import EVENT_TYPES
from relay.specs.check import (
    ACTION_KEYS,
    AUTH_SCHEMES,
    CALL_KEYS,
    EXCEPTIONS,
    INBOUND_KEYS,
    OPTIONAL_FIELDS,
    OUTBOUND_KEYS,
    PINGS,
    REFUND_KEYS,
    REQUIRED_FIELDS,
    VERIFICATIONS,
    SpecChecker,
)
from relay.specs.model import (
    LIST_PLACEHOLDERS,
    NOTE_PLACEHOLDERS,
    ORDER_PLACEHOLDERS,
    SETTER_PLACEHOLDERS,
    CallSpec,
    NotesSpec,
    OrderAction,
    PlatformSpec,
    RefundsSpec,
    Setter,
    SpecInvalid,
)
from relay.specs.templates import render


def parse_spec(data: Mapping[str, Any], source: str) -> PlatformSpec:
    """Validate a parsed spec document; raise SpecInvalid listing every problem by key path."""
    check = SpecChecker()
    check.unknown(data, frozenset(["platform", "inbound", "outbound"]), "")
    platform = check.table(data, "platform", "")
    check.unknown(platform, frozenset(["name", "title"]), "platform")
    name = check.string(platform, "name", "platform", "")
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


def _parse_inbound(check: SpecChecker, inbound: Mapping[str, Any]) -> dict[str, Any]:
    where = "inbound"
    check.unknown(inbound, INBOUND_KEYS, where)
    verification = check.choice(inbound, "verification", where, VERIFICATIONS)
    signature_header = check.string(inbound, "signature_header", where, "")
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
        "topic_header": check.string(inbound, "topic_header", where, ""),
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
    check: SpecChecker, table: Mapping[str, Any], topics: tuple[str, ...]
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
    check: SpecChecker, outbound: Mapping[str, Any], inbound: Mapping[str, Any]
) -> dict[str, Any]:
    where = "outbound"
    check.unknown(outbound, OUTBOUND_KEYS, where)
    auth = check.choice(outbound, "auth", where, AUTH_SCHEMES)
    auth_header = check.string(outbound, "auth_header", where, "")
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
    callback = call("callback", frozenset())
    if callback is not None and callback.body is not None:
        check.problem(f"{where}.callback.body", "the callback's body is the invoice event itself")
    if callback is not None and outbound.get("events"):
        check.problem(f"{where}.events", "a spec with a callback answers every event with it")
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
        "api_base": check.string(outbound, "api_base", where, "").rstrip("/"),
        "protected_statuses": check.strings(outbound, "protected_statuses", where),
        "read_order": read_order,
        "list_orders": list_orders,
        "update": update,
        "setters": setters,
        "notes": notes,
        "actions": actions,
        "callback": callback,
    }


def _parse_setters(
    check: SpecChecker,
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
    check: SpecChecker, notes: Mapping[str, Any], defaults: Mapping[str, str]
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
    check: SpecChecker,
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
