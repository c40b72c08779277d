"""Call a store's own order API as its platform spec says: push invoice events, read orders back.

What a push does is planned by relay/specs/plan.py (read the order first, write only what
differs, never move a protected order, never add a note twice, merge writes to one target);
this module sends those calls with the store's auth and records each one.

Auth schemes (the spec's `outbound.auth`): `woocommerce` (HTTP Basic over HTTPS, OAuth 1.0a
HMAC-SHA256 over plain HTTP, reference/protocols.md §2.4), `basic` and `oauth1` (store api_key and
api_secret), `header-token` (the spec's `auth_header` = store api_token, e.g. Shopify's
X-Shopify-Access-Token), `bearer` (`Authorization: Bearer <api_token>`), `none`.

A spec with `outbound.callback` (a WooCommerce plugin store) is told of every invoice event by
`callback`: one POST of the Standard Webhooks-shaped event, signed per Standard Webhooks with
the store's whsec_ `webhook_secret` when it has one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth
from requests_oauthlib import OAuth1

from relay.errors import SpecError, StorefrontError
from relay.http import EXCERPT_CHARS, USER_AGENT, CallRecord, HttpClient, Outcome, is_retryable
from relay.settings import StoreSettings
from relay.signing import sign_standard_webhook
from relay.specs import OrderAction, PlatformSpec, Push, Request, open_orders, plan_push, prepare

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

    def send(self, prepared: Request) -> tuple[Any, requests.Response]:
        """Make a planned call; return (what it yields by its `result` path, response).

        raises CallFailed, also for a 2xx answer that the call's `errors` path finds errors in.
        """
        url = f"{self.store.base_url}{prepared.path}"
        answer, response = self.request(prepared.method, url, prepared.body, prepared.query)
        errors = prepared.errors(answer)
        if errors:
            record = self.calls[-1]
            record.error = (
                "answer reports errors: " + json.dumps(errors, default=str)[:EXCERPT_CHARS]
            )
            raise CallFailed(record, retryable=prepared.retryable(answer))
        return prepared.result(answer), response

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
        order, _ = self.send(prepare(self.spec, self.spec.read_order, {"order_id": order_id}))
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
                prepared = prepare(self.spec, call, values | {"page": str(page)})
                if next_url:
                    answer, response = self.request(call.method, next_url)
                    items = prepared.result(answer)
                else:
                    items, response = self.send(prepared)
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
        return open_orders(self.spec, orders)

    def push(self, payload: Mapping[str, Any], action: str = "") -> Outcome:
        """Apply the spec's action for an outbox payload to the order; never raises.

        payload: {"event", "exception", "variants", "order_id", "values": {placeholder: text}}
        (relay/outbox.py); action: the spec action the delivery carries ("" for a delivery queued
        before deliveries carried one: then it is found from the payload, relay/specs/plan.py).
        """
        plan = plan_push(self.spec, payload, action)
        if plan is None:
            self.calls = []
            return Outcome(ok=True)
        return self._run(plan)

    def _run(self, plan: Push) -> Outcome:
        """Make a push's calls: read the order back, its writes, its notes; never raises."""
        calls: list[CallRecord] = []
        self.calls = calls
        try:
            order = self._read(plan.order_id) if self.spec.read_order is not None else None
            for write in plan.writes(order):
                self.send(write)
            listing = plan.notes_list
            listed = self.send(listing)[0] if listing is not None else None
            for note in plan.notes(order, listed):
                self.send(note)
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

    def add_note(self, order_id: str, text: str) -> Outcome:
        """Add a private note for the merchant to an order (not when the order carries it
        already) through the spec's `outbound.notes`; never raises. A spec without notes adds
        nothing (ok). relay/inbox.py tells of a dead letter this way (no invoice: no outbox)."""
        action = OrderAction(note=text.replace("{", "{{").replace("}", "}}"))
        return self._run(Push(self.spec, action, "note", order_id, {}))

    def callback(self, event: Mapping[str, Any], event_id: str) -> Outcome:
        """POST an invoice event to the spec's `outbound.callback`; never raises.

        event: `{"type", "timestamp", "data": <invoice JSON>}` (relay/outbox.py); event_id: the
        delivery's, sent as `webhook-id` on every try. Signed (`webhook-signature`) with each
        whsec_ secret of the store's `webhook_secret`; unsigned without one (the plugin re-reads
        the invoice with its token, so it trusts no body anyway). Any 2xx acknowledges it;
        redirects are not followed and fail it, like a status webhook's.
        """
        call = self.spec.callback
        if call is None:
            return Outcome(ok=False, error=f"platform {self.spec.name!r} has no outbound.callback")
        prepared = prepare(self.spec, call, {})
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        moment = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": event_id,
            "webhook-timestamp": str(moment),
        }
        secrets = [s for s in self.store.webhook_secrets if s.startswith("whsec_")]
        if secrets:
            headers["webhook-signature"] = " ".join(
                sign_standard_webhook(secret, event_id, moment, body) for secret in secrets
            )
        target = prepared.path + (f"?{urlencode(prepared.query)}" if prepared.query else "")
        response, record = self.http.call(
            call.method, f"{self.store.base_url}{target}", path=target, data=body, headers=headers
        )
        self.calls = [record]
        if response is None:
            return Outcome(ok=False, retry=True, error=_describe(record), calls=[record])
        ok = 200 <= response.status_code < 300
        return Outcome(
            ok=ok,
            retry=not ok and is_retryable(response.status_code),
            status_code=response.status_code,
            error="" if ok else _describe(record),
            excerpt=record.excerpt,
            retry_after=record.retry_after,
            calls=[record],
        )


def _describe(record: CallRecord) -> str:
    return f"{record.method} {record.path}: {record.error or f'HTTP {record.status_code}'}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
