"""Work out, from the spec alone, the order API calls an invoice event makes (no I/O here).

relay/storefront.py sends what this module plans. `plan_push` is its one entry point for a
push: the delivery names the spec action its event resolved to when it was queued
(relay/outbox.py), and the `Push` it returns gives the calls in order — read the order back, the
writes it still needs, the notes it does not carry yet. These rules make a repeated delivery
change nothing: an order in a protected status is never moved, a move happens only from the
statuses the action lists, a setter value (WooCommerce order meta) is written only when the order
shows another one, a note the order already carries is not added again; writes to the same
method and path are merged into one request (one WooCommerce PUT carries status and meta).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from relay.specs.model import CallSpec, OrderAction, PlatformSpec
from relay.specs.paths import as_text, read_path
from relay.specs.templates import merge_bodies, render, render_tree

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One order API call ready to send.

    path: under the store's base URL (the spec's api_base and path, values URL-quoted); query:
    rendered parameters or None; body: the rendered JSON body or None; call: the spec call it
    came from, which says how to read its answer.
    """

    method: str
    path: str
    query: Mapping[str, str] | None
    body: Any
    call: CallSpec

    def result(self, answer: Any) -> Any:
        """Return what the call yields from its JSON answer (the spec's `result` path)."""
        return answer if self.call.result == "@" else read_path(answer, self.call.result)

    def errors(self, answer: Any) -> Any:
        """Return the errors a 2xx answer still reports (the spec's `errors` path), or None."""
        return read_path(answer, self.call.errors) if self.call.errors else None

    def retryable(self, answer: Any) -> bool:
        """Tell whether the errors of an answer are worth retrying (the spec's `retry_errors`)."""
        return bool(self.call.retry_errors and read_path(answer, self.call.retry_errors))


def prepare(
    spec: PlatformSpec, call: CallSpec, values: Mapping[str, str], body: Any = None
) -> Request:
    """Fill a spec call's templates from `values`; `body` (already rendered) replaces its own."""
    quoted = {k: quote(v, safe="") for k, v in values.items()}
    if body is None and call.body is not None:
        body = render_tree(call.body, values)
    query = {k: render(v, values) for k, v in call.query.items()} or None
    return Request(call.method, f"{spec.api_base}{render(call.path, quoted)}", query, body, call)


def order_status(spec: PlatformSpec, order: Any) -> str:
    """Return a raw order's status as text ("" when the spec reads no status)."""
    status_path = spec.fields.get("status")
    return as_text(read_path(order, status_path)) if order and status_path else ""


def open_orders(spec: PlatformSpec, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the raw orders whose status opens invoices (all of them without `open_statuses`)."""
    if not spec.fields.get("status") or not spec.open_statuses:
        return orders
    return [o for o in orders if order_status(spec, o) in spec.open_statuses]


def plan_push(spec: PlatformSpec, payload: Mapping[str, Any], action_key: str = "") -> Push | None:
    """Return the push for an outbox payload, or None when the spec has nothing to do.

    payload: {"event", "exception", "variants", "order_id", "values": {placeholder: text}}
    (relay/outbox.py); action_key: the spec action the delivery carries. A delivery queued by an
    older relay carries none: its action is found from the payload's `variants` (most specific
    first; older payloads have only `exception`).
    """
    event = str(payload["event"])
    if not action_key:
        variants = payload.get("variants") or [payload.get("exception", "")]
        action_key = spec.action_key(event, *(str(v) for v in variants)) or ""
    action = spec.actions.get(action_key)
    if action is None:
        if action_key:
            log.info("spec %s has no action %s any more; nothing to do", spec.name, action_key)
        return None
    return Push(spec, action, event, str(payload["order_id"]), payload["values"])


class Push:
    """The calls one invoice event's action makes to its order; see the module docstring."""

    def __init__(
        self,
        spec: PlatformSpec,
        action: OrderAction,
        event: str,
        order_id: str,
        values: Mapping[str, str],
    ) -> None:
        self.spec = spec
        self.action = action
        self.event = event
        self.order_id = order_id
        self.values = {**values, "order_id": order_id}
        texts = ((action.note, False), (action.customer_note, True))
        self._notes = [(render(text, self.values), customer) for text, customer in texts if text]

    def writes(self, order: dict[str, Any] | None) -> list[Request]:
        """Return the writes the action needs given the order read back, merged by target."""
        spec, action, values = self.spec, self.action, self.values
        writes: list[tuple[CallSpec, Any]] = []
        current = order_status(spec, order)
        if action.status and action.move is not None:
            target = render(action.status, values)
            movable = current in action.from_statuses and current not in spec.protected_statuses
            if movable and current != target:
                body = render_tree(action.move.body, values | {"new_status": target})
                writes.append((action.move, body))
            elif current != target:
                log.info("order %s is %s; left as it is (%s)", self.order_id, current, self.event)
        for kind, entries in action.set.items():
            setter = spec.setters[kind]
            for key, template in entries.items():
                value = render(template, values)
                shown = as_text(read_path(order, render(setter.current, {"key": key})))
                if setter.call is not None and shown != value:
                    body = render_tree(setter.body, values | {"key": key, "value": value})
                    writes.append((setter.call, body))
        merged: dict[tuple[str, str], tuple[CallSpec, Any]] = {}
        for call, body in writes:
            target_key = (call.method, render(call.path, values))
            if target_key in merged:
                first, so_far = merged[target_key]
                merged[target_key] = (first, merge_bodies(so_far, body))
            else:
                merged[target_key] = (call, body)
        return [prepare(spec, call, values, body) for call, body in merged.values()]

    @property
    def notes_list(self) -> Request | None:
        """Return the call listing the order's notes, when the action adds notes and the spec
        lists them with a call (else the notes are read from the order, or none are added)."""
        listing = self.spec.notes.list
        return prepare(self.spec, listing, self.values) if self._notes and listing else None

    def notes(self, order: dict[str, Any] | None, listed: Any = None) -> list[Request]:
        """Return the note additions the order still needs, in order.

        order: the order read back (or None); listed: what `notes_list` yielded (or None).
        """
        notes = self.spec.notes
        if not self._notes:
            return []
        have: Any = None
        if notes.list is not None:
            have = listed
        elif notes.existing:
            have = read_path(order, notes.existing)
        existing = [as_text(n) for n in have] if isinstance(have, list) else []
        joined = as_text(have) if not isinstance(have, list) else "\n".join(existing)
        requests = []
        for text, customer in self._notes:
            if text in existing or (not isinstance(have, list) and text in joined):
                continue
            call = notes.add_customer if customer and notes.add_customer else notes.add
            if call is None:
                continue
            joined = f"{joined}\n{text}" if joined else text
            values = self.values | {"note": text, "notes_with_note": joined}
            requests.append(prepare(self.spec, call, values))
            existing.append(text)
        return requests
