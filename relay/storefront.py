"""Call a store's own order API as its platform spec says: push invoice events, read orders back.

Every push reads the order first (when the spec says how): an order in a protected status is
never moved, a move happens only from the statuses the event's action lists, a setter value
(WooCommerce order meta) is written only when the order shows another one, and a note the order
already carries is not added again — so a repeated delivery changes nothing. Writes to the same
method and path are merged into one request (one WooCommerce PUT carries status and meta).

Auth schemes (the spec's `outbound.auth`): `woocommerce` (HTTP Basic over HTTPS, OAuth 1.0a
HMAC-SHA256 over plain HTTP, reference/protocols.md §2.4), `basic` and `oauth1` (store api_key and
api_secret), `header-token` (the spec's `auth_header` = store api_token, e.g. Shopify's
X-Shopify-Access-Token), `bearer` (`Authorization: Bearer <api_token>`), `none`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth
from requests_oauthlib import OAuth1

from relay.config import StoreSettings
from relay.errors import SpecError, StorefrontError
from relay.http import EXCERPT_CHARS, CallRecord, HttpClient, Outcome, is_retryable
from relay.specs import (
    CallSpec,
    OrderAction,
    PlatformSpec,
    as_text,
    merge_bodies,
    read_path,
    render,
    render_tree,
)

log = logging.getLogger(__name__)

MAX_PAGES = 100  # a reconciliation pass reads at most this many pages of recent orders


class CallFailed(Exception):
    """Raise inside a storefront push when a call did not succeed; carries its record."""

    def __init__(self, record: CallRecord, retryable: bool | None = None) -> None:
        super().__init__(record.error or f"HTTP {record.status_code}")
        self.record = record
        self.retryable = is_retryable(record.status_code) if retryable is None else retryable


class HeaderAuth(AuthBase):
    """Send a fixed header (a token) with every request."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.name] = self.value
        return request


def woocommerce_auth(store: StoreSettings) -> AuthBase:
    """Return WooCommerce's auth for the store URL: Basic over HTTPS, OAuth 1.0a over HTTP."""
    if store.base_url.startswith("https://"):
        return HTTPBasicAuth(store.api_key, store.api_secret)
    return oauth1_auth(store)


def oauth1_auth(store: StoreSettings) -> AuthBase:
    """Return one-legged OAuth 1.0a (HMAC-SHA256) with the store's api_key and api_secret."""
    auth: AuthBase = OAuth1(store.api_key, store.api_secret, signature_method="HMAC-SHA256")
    return auth


def auth_for(store: StoreSettings, spec: PlatformSpec) -> AuthBase | None:
    """Return the requests auth of the spec's named scheme for a store (None for "none")."""
    if spec.auth == "woocommerce":
        return woocommerce_auth(store)
    if spec.auth == "basic":
        return HTTPBasicAuth(store.api_key, store.api_secret)
    if spec.auth == "oauth1":
        return oauth1_auth(store)
    if spec.auth == "header-token":
        return HeaderAuth(spec.auth_header, store.api_token)
    if spec.auth == "bearer":
        return HeaderAuth("Authorization", f"Bearer {store.api_token}")
    return None


class StorefrontClient:
    """Call one store's order API with the spec's auth over the relay's HTTP client."""

    def __init__(self, store: StoreSettings, spec: PlatformSpec, http: HttpClient) -> None:
        self.store = store
        self.spec = spec
        self.http = http
        self.auth = auth_for(store, spec)
        self.calls: list[CallRecord] = []  # the calls of the current push or read, in order

    def request(
        self, method: str, url: str, body: Any = None, params: Mapping[str, str] | None = None
    ) -> tuple[Any, requests.Response]:
        """Make one HTTP call; return (parsed JSON or None, response); raise CallFailed."""
        response, record = self.http.call(
            method,
            url,
            path=url.removeprefix(self.store.base_url),
            json=body,
            params=params,
            auth=self.auth,
            headers={"User-Agent": "relay/0.1", "Accept": "application/json"},
        )
        self.calls.append(record)
        if response is None:
            raise CallFailed(record)
        if not 200 <= response.status_code < 300:
            record.error = f"HTTP {response.status_code}"
            raise CallFailed(record)
        if not response.content.strip():
            return None, response
        try:
            return response.json(), response
        except ValueError:
            record.error = "answer is not JSON"
            raise CallFailed(record) from None

    def send(
        self, call: CallSpec, values: Mapping[str, str], body: Any = None
    ) -> tuple[Any, requests.Response]:
        """Make a spec call with its templates filled from `values`; return (result, response).

        `body` replaces the call's own body template (already rendered). raises CallFailed, also
        for a 2xx answer that the call's `errors` path finds errors in.
        """
        quoted = {k: quote(v, safe="") for k, v in values.items()}
        url = f"{self.store.base_url}{self.spec.api_base}{render(call.path, quoted)}"
        if body is None and call.body is not None:
            body = render_tree(call.body, values)
        params = {k: render(v, values) for k, v in call.query.items()} or None
        answer, response = self.request(call.method, url, body, params)
        if call.errors and read_path(answer, call.errors):
            record = self.calls[-1]
            record.error = (
                "answer reports errors: "
                + json.dumps(read_path(answer, call.errors), default=str)[:EXCERPT_CHARS]
            )
            retry = bool(call.retry_errors and read_path(answer, call.retry_errors))
            raise CallFailed(record, retryable=retry)
        return (answer if call.result == "@" else read_path(answer, call.result)), response

    def read_order(self, order_id: str) -> dict[str, Any]:
        """Return the raw order (the platform's JSON, as its webhooks carry it) by id.

        raises SpecError when the spec cannot read orders, StorefrontError when the API fails.
        """
        self.calls = []
        try:
            return self._read(order_id)
        except CallFailed as failed:
            raise StorefrontError(_describe(failed.record)) from None

    def _read(self, order_id: str) -> dict[str, Any]:
        if self.spec.read_order is None:
            raise SpecError(f"platform {self.spec.name!r} has no outbound.read_order")
        order, _ = self.send(self.spec.read_order, {"order_id": order_id})
        if not isinstance(order, dict):
            record = self.calls[-1]
            record.error = f"answer has no order at {self.spec.read_order.result!r}"
            raise CallFailed(record, retryable=False)
        return order

    def list_open_orders(self, modified_after: datetime) -> list[dict[str, Any]]:
        """Return the raw orders modified after a time whose status opens invoices, all pages.

        `modified_after` is UTC (naive values are taken as UTC). raises SpecError when the spec
        cannot list orders, StorefrontError when the API fails or a next page leaves the store.
        """
        call = self.spec.list_orders
        if call is None:
            raise SpecError(f"platform {self.spec.name!r} has no outbound.list_orders")
        if modified_after.tzinfo is not None:
            modified_after = modified_after.astimezone(UTC).replace(tzinfo=None)
        values = {
            "modified_after": modified_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open_statuses": ",".join(self.spec.open_statuses),
        }
        self.calls = []
        orders: list[dict[str, Any]] = []
        next_url = ""
        try:
            for page in range(1, MAX_PAGES + 1):
                if next_url:
                    answer, response = self.request(call.method, next_url)
                    items = answer if call.result == "@" else read_path(answer, call.result)
                else:
                    items, response = self.send(call, values | {"page": str(page)})
                if not isinstance(items, list):
                    raise StorefrontError(f"order list answer has no list at {call.result!r}")
                orders.extend(item for item in items if isinstance(item, dict))
                if call.pagination == "link":
                    next_url = response.links.get("next", {}).get("url", "")
                    if not next_url:
                        break
                    if _origin(next_url) != _origin(self.store.base_url):
                        raise StorefrontError(f"next page is on another host: {next_url}")
                elif call.pagination == "none" or not items:
                    break
        except CallFailed as failed:
            raise StorefrontError(_describe(failed.record)) from None
        status = self.spec.fields.get("status")
        if status and self.spec.open_statuses:
            orders = [o for o in orders if as_text(read_path(o, status)) in self.spec.open_statuses]
        return orders

    def push(self, payload: dict[str, Any]) -> Outcome:
        """Apply the spec's action for an outbox payload to the order; never raises.

        payload: {"event", "exception", "variants", "order_id", "values": {placeholder: text}}
        (outbox.py; `variants` most specific first, older payloads carry only `exception`).
        """
        variants = payload.get("variants") or [payload.get("exception", "")]
        action = self.spec.action_for(str(payload["event"]), *(str(v) for v in variants))
        calls: list[CallRecord] = []
        self.calls = calls
        if action is None:
            return Outcome(ok=True)
        order_id = str(payload["order_id"])
        values = {**payload["values"], "order_id": order_id}
        try:
            order = self._read(order_id) if self.spec.read_order is not None else None
            for call, body in self._writes(action, order, values, payload):
                self.send(call, values, body)
            self._add_notes(action, order, values)
        except CallFailed as failed:
            record = failed.record
            return Outcome(
                ok=False,
                retry=failed.retryable,
                status_code=record.status_code,
                error=_describe(record),
                excerpt=record.excerpt,
                retry_after=record.retry_after,
                calls=calls,
            )
        last = calls[-1] if calls else None
        return Outcome(
            ok=True,
            status_code=last.status_code if last else None,
            excerpt=last.excerpt if last else "",
            calls=calls,
        )

    def _writes(
        self,
        action: OrderAction,
        order: dict[str, Any] | None,
        values: dict[str, str],
        payload: Mapping[str, Any],
    ) -> list[tuple[CallSpec, Any]]:
        """Return the write calls an action needs given the order read back, merged by target."""
        writes: list[tuple[CallSpec, Any]] = []
        status_path = self.spec.fields.get("status")
        current = as_text(read_path(order, status_path)) if order and status_path else ""
        if action.status and action.move is not None:
            target = render(action.status, values)
            movable = (
                current in action.from_statuses and current not in self.spec.protected_statuses
            )
            if movable and current != target:
                body = render_tree(action.move.body, values | {"new_status": target})
                writes.append((action.move, body))
            elif current != target:
                log.info(
                    "order %s is %s; left as it is (%s)",
                    payload["order_id"],
                    current,
                    payload["event"],
                )
        for kind, entries in action.set.items():
            setter = self.spec.setters[kind]
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
        return list(merged.values())

    def _add_notes(
        self, action: OrderAction, order: dict[str, Any] | None, values: dict[str, str]
    ) -> None:
        """Add the action's notes that the order does not carry yet."""
        notes = self.spec.notes
        texts = ((action.note, False), (action.customer_note, True))
        wanted = [(render(text, values), customer) for text, customer in texts if text]
        if not wanted:
            return
        have: Any = None
        if notes.list is not None:
            have, _ = self.send(notes.list, values)
        elif notes.existing:
            have = read_path(order, notes.existing)
        existing = [as_text(n) for n in have] if isinstance(have, list) else []
        joined = as_text(have) if not isinstance(have, list) else "\n".join(existing)
        for text, customer in wanted:
            if text in existing or (not isinstance(have, list) and text in joined):
                continue
            call = notes.add_customer if customer and notes.add_customer else notes.add
            if call is None:
                continue
            joined = f"{joined}\n{text}" if joined else text
            self.send(call, values | {"note": text, "notes_with_note": joined})
            existing.append(text)


def _describe(record: CallRecord) -> str:
    return f"{record.method} {record.path}: {record.error or f'HTTP {record.status_code}'}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
