"""Push invoice events to the storefront's own order API, as the platform spec says.

WooCommerce REST v3 (reference/protocols.md §2): HTTP Basic only over HTTPS, OAuth 1.0a one-legged
(HMAC-SHA256) over plain HTTP. Every push reads the order first: an order in a protected status
(`processing`, `completed`, `refunded`) is never moved, a move happens only from the statuses the
spec lists, and a note identical to one already on the order is not added again — so a repeated
delivery changes nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.auth import AuthBase, HTTPBasicAuth
from requests_oauthlib import OAuth1

from relay.config import StoreSettings
from relay.specs import PlatformSpec, render

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429})
EXCERPT_CHARS = 300


@dataclass
class CallRecord:
    """One HTTP call made while delivering: method, path, status code (None on no answer)."""

    method: str
    path: str
    status_code: int | None
    latency_ms: int
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None


@dataclass
class Outcome:
    """How one delivery attempt ended; `retry` false with `ok` false means give up."""

    ok: bool
    retry: bool = False
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    retry_after: float | None = None
    calls: list[CallRecord] = field(default_factory=list)

    @property
    def latency_ms(self) -> int:
        """Return the summed latency of the calls (ms)."""
        return sum(c.latency_ms for c in self.calls)


class CallFailed(Exception):
    """Raise inside a storefront push when a call did not succeed; carries its record."""

    def __init__(self, record: CallRecord) -> None:
        super().__init__(record.error or f"HTTP {record.status_code}")
        self.record = record


def parse_retry_after(value: str | None) -> float | None:
    """Return a Retry-After header's delay in seconds (delta-seconds form), or None."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def is_retryable(status_code: int | None) -> bool:
    """Tell whether an HTTP answer (None: no answer) is worth retrying."""
    return status_code is None or status_code in RETRYABLE_STATUS or status_code >= 500


def woocommerce_auth(store: StoreSettings) -> AuthBase:
    """Return WooCommerce's auth for the store URL: Basic over HTTPS, OAuth 1.0a over HTTP."""
    if store.base_url.startswith("https://"):
        return HTTPBasicAuth(store.api_key, store.api_secret)
    auth: AuthBase = OAuth1(store.api_key, store.api_secret, signature_method="HMAC-SHA256")
    return auth


class StorefrontClient:
    """Call one store's order API with the spec's auth over a shared requests.Session."""

    def __init__(
        self, store: StoreSettings, spec: PlatformSpec, http: requests.Session, timeout: float
    ) -> None:
        self.store = store
        self.spec = spec
        self.http = http
        self.timeout = timeout
        self.auth = woocommerce_auth(store)
        self.calls: list[CallRecord] = []  # the calls of the current push, in order

    def call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        """Make one API call; return the parsed JSON; raise CallFailed with its record otherwise."""
        url = f"{self.store.base_url}{self.spec.api_base}{path}"
        started = time.monotonic()
        try:
            response = self.http.request(
                method,
                url,
                json=body,
                params=params,
                auth=self.auth,
                timeout=self.timeout,
                allow_redirects=False,
                headers={"User-Agent": "relay/0.1", "Accept": "application/json"},
            )
        except requests.RequestException as exc:
            record = CallRecord(method, path, None, _ms(started), error=type(exc).__name__)
            self.calls.append(record)
            raise CallFailed(record) from exc
        record = CallRecord(
            method,
            path,
            response.status_code,
            _ms(started),
            excerpt=response.text[:EXCERPT_CHARS],
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
        self.calls.append(record)
        if not 200 <= response.status_code < 300:
            record.error = f"HTTP {response.status_code}"
            raise CallFailed(record)
        try:
            return response.json()
        except ValueError:
            record.error = "answer is not JSON"
            raise CallFailed(record) from None

    def push(self, payload: dict[str, Any]) -> Outcome:
        """Apply the spec's action for an outbox payload to the order; never raises."""
        action = self.spec.action_for(str(payload["event"]), str(payload.get("exception", "")))
        calls: list[CallRecord] = []
        self.calls = calls
        if action is None:
            return Outcome(ok=True)
        values: dict[str, str] = payload["values"]
        order_path = f"/orders/{payload['order_id']}"
        try:
            order = self.call("GET", order_path)
            current = str(order.get("status", ""))
            update: dict[str, Any] = {}
            existing_meta = {m.get("key"): m.get("value") for m in order.get("meta_data", [])}
            meta = [
                {"key": key, "value": render(template, values)}
                for key, template in action.meta.items()
                if existing_meta.get(key) != render(template, values)
            ]
            if meta:
                update["meta_data"] = meta
            movable = (
                current in action.from_statuses and current not in self.spec.protected_statuses
            )
            if action.status and movable and current != action.status:
                update["status"] = action.status
                if action.transaction_id:
                    update["transaction_id"] = render(action.transaction_id, values)
            elif action.status and current != action.status:
                log.info(
                    "order %s is %s; left as it is (%s)",
                    payload["order_id"],
                    current,
                    payload["event"],
                )
            if update:
                self.call("PUT", order_path, update)
            notes = [(action.note, False), (action.customer_note, True)]
            wanted = [(render(text, values), customer) for text, customer in notes if text]
            if wanted:
                existing = self.call("GET", f"{order_path}/notes")
                have = {str(n.get("note", "")) for n in existing if isinstance(n, dict)}
                for text, customer in wanted:
                    if text not in have:
                        note = {"note": text, "customer_note": customer}
                        self.call("POST", f"{order_path}/notes", note)
        except CallFailed as failed:
            record = failed.record
            return Outcome(
                ok=False,
                retry=is_retryable(record.status_code),
                status_code=record.status_code,
                error=f"{record.method} {record.path}: {record.error}",
                excerpt=record.excerpt,
                retry_after=record.retry_after,
                calls=calls,
            )
        last = calls[-1]
        return Outcome(ok=True, status_code=last.status_code, excerpt=last.excerpt, calls=calls)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
