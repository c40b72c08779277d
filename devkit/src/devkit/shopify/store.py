"""`ShopifyStore`: one emulated Shopify shop on loopback (see the package docstring)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from wsgiref.types import StartResponse, WSGIEnvironment

from werkzeug.wrappers import Request, Response

from devkit.serving import LoopbackServer, post
from devkit.shopify.graphql import GraphQL, now_iso

API_VERSION = "2025-07"
SHOP_DOMAIN = "relay-test.myshopify.com"
FIRST_ORDER_ID = 820982911946154508  # above 2**53, as real Shopify ids are
BAD_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
FINANCIAL_STATUSES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
)
UNPAID = ("pending", "authorized", "partially_paid")
WEBHOOK_TIMEOUT = 5.0
MAX_LIMIT = 250
DEFAULT_ORDER: dict[str, Any] = {  # the fields a relay reads, shaped like the REST fixture
    "currency": "USD",
    "email": "bob.norman@hostmail.com",
    "financial_status": "pending",
    "gateway": "Pay with crypto",
    "payment_gateway_names": ["Pay with crypto"],
    "total_price": "409.94",
    "subtotal_price": "398.00",
    "total_tax": "11.94",
    "line_items": [],
}


def webhook_hmac(secret: str, body: bytes) -> str:
    """Return `X-Shopify-Hmac-Sha256` of a body: base64(HMAC-SHA256(client secret, body))."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class ShopifyStore(LoopbackServer):
    """One Shopify shop on 127.0.0.1: orders, Admin API, webhook subscriptions.

    Public records (append-only): `requests` (method, path, query, json, token, status) for each
    Admin API request; `deliveries` (topic, order_id, address, attempt, status_code, error,
    headers, body) for each webhook attempt.
    """

    def __init__(
        self,
        access_token: str = "shpat_test_token",
        client_secret: str = "shopify-client-secret",
        *,
        webhook_delay: float = 0.2,
        retry_delays: tuple[float, ...] = (0.5, 1.0),
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.client_secret = client_secret
        self.webhook_delay = webhook_delay
        self.retry_delays = retry_delays
        self.requests: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self._orders: dict[int, dict[str, Any]] = {}
        self._subscriptions: list[dict[str, Any]] = []
        self._queue: list[tuple[float, dict[str, Any]]] = []
        self._next_id = FIRST_ORDER_ID
        self._next_number = 1001
        self._throttle = 0
        self._failures: list[int] = []
        self._graphql_api = GraphQL(self._cond, self._orders, self._fire)

    thread_names = ("shopify-http", "shopify-webhooks")

    # ---------------------------------------------------------------- test controls

    def add_webhook(self, topic: str, address: str) -> dict[str, Any]:
        """Subscribe `address` to a topic (as webhookSubscriptionCreate does); return it."""
        if topic not in ("orders/create", "orders/updated", "orders/paid", "refunds/create"):
            raise ValueError(f"topic {topic!r} is not emulated")
        subscription = {"id": len(self._subscriptions) + 1, "topic": topic, "address": address}
        with self._lock:
            self._subscriptions.append(subscription)
        return dict(subscription)

    def create_order(self, template: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Place an order (a REST order dict, e.g. the fixture's) and fire `orders/create`.

        The store assigns id, name, number, timestamps, `total_outstanding` and the GraphQL id;
        `fields` override anything else. Returns a copy of the stored order.
        """
        with self._lock:
            order = copy.deepcopy(template if template is not None else DEFAULT_ORDER)
            order_id, number = self._next_id, self._next_number
            self._next_id += 1
            self._next_number += 1
            now = now_iso()
            order.update(
                id=order_id,
                admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
                name=f"#{number}",
                number=number - 1000,
                order_number=number,
                created_at=now,
                updated_at=now,
                processed_at=now,
                cancelled_at=None,
                closed_at=None,
                note=None,
                tags="",
                transactions=[],
            )
            order.update(fields)
            order.setdefault("total_outstanding", order.get("total_price", "0.00"))
            self._orders[order_id] = order
            self._fire("orders/create", order)
            return copy.deepcopy(order)

    def get_order(self, order_id: int | str) -> dict[str, Any]:
        """Return a copy of an order as stored."""
        with self._lock:
            return copy.deepcopy(self._orders[int(order_id)])

    def update_order(self, order_id: int | str, **fields: Any) -> dict[str, Any]:
        """Change an order as the merchant would in the admin; fires `orders/updated`."""
        with self._lock:
            order = self._orders[int(order_id)]
            order.update(fields, updated_at=now_iso())
            self._fire("orders/updated", order)
            return copy.deepcopy(order)

    def refund_order(self, order_id: int | str, amount: str, note: str = "") -> dict[str, Any]:
        """Refund money on an order as the admin's Refund button does; return the refund.

        Appends the REST Refund resource to the order's `refunds`, sets `financial_status`
        (`partially_refunded` or `refunded`), fires `refunds/create` (body: the refund) and
        `orders/updated`. Raises ValueError for an amount that is not positive or exceeds what
        was paid and not yet refunded.
        """
        with self._lock:
            order = self._orders[int(order_id)]
            refunds = order.setdefault("refunds", [])
            refunded = sum(
                (Decimal(t["amount"]) for r in refunds for t in r["transactions"]), Decimal(0)
            )
            value = Decimal(amount)
            if value <= 0 or value > Decimal(order["total_price"]) - refunded:
                raise ValueError("Refund amount must be positive and at most what was paid")
            refund_id = self._next_id
            self._next_id += 1
            now = now_iso()
            refund = {
                "id": refund_id,
                "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
                "order_id": order["id"],
                "created_at": now,
                "processed_at": now,
                "note": note or None,
                "restock": False,
                "user_id": None,
                "refund_line_items": [],
                "order_adjustments": [],
                "transactions": [
                    {
                        "id": refund_id + 1,
                        "order_id": order["id"],
                        "kind": "refund",
                        "gateway": "manual",
                        "status": "success",
                        "amount": f"{value:.2f}",
                        "currency": order.get("currency", "USD"),
                        "created_at": now,
                    }
                ],
            }
            self._next_id += 1
            refunds.append(refund)
            full = refunded + value >= Decimal(order["total_price"])
            order.update(
                financial_status="refunded" if full else "partially_refunded", updated_at=now
            )
            self._fire("refunds/create", refund)
            self._fire("orders/updated", order)
            return copy.deepcopy(refund)

    def throttle_next(self, count: int) -> None:
        """Answer the next `count` GraphQL requests with the THROTTLED error (HTTP 200)."""
        with self._lock:
            self._throttle += count

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` authenticated Admin API requests with HTTP `status`."""
        with self._lock:
            self._failures.extend([status] * count)

    # ---------------------------------------------------------------- webhooks

    def _fire(self, topic: str, order: dict[str, Any]) -> None:
        body = json.dumps(order, separators=(",", ":")).encode()  # the payload at event time
        event = {"topic": topic, "order_id": order.get("order_id", order["id"]), "body": body}
        event |= {"event_id": str(uuid.uuid4()), "at": now_iso()}
        for subscription in self._subscriptions:
            if subscription["topic"] == topic:
                job = dict(event, address=subscription["address"], attempt=1)
                self._queue.append((time.monotonic() + self.webhook_delay, job))
        self._cond.notify_all()

    def _work(self) -> None:
        """Send due webhooks one at a time (Shopify delivers asynchronously) until stopped."""
        while True:
            with self._cond:
                due: list[tuple[float, dict[str, Any]]] = []
                while not self._stopping and not due:
                    due = [item for item in self._queue if item[0] <= time.monotonic()]
                    if not due:
                        self._cond.wait(0.05)
                if self._stopping:
                    return
                for item in due:
                    self._queue.remove(item)
            for _, job in due:
                self._deliver(job)

    def _deliver(self, job: dict[str, Any]) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": job["topic"],
            "X-Shopify-Hmac-Sha256": webhook_hmac(self.client_secret, job["body"]),
            "X-Shopify-Shop-Domain": SHOP_DOMAIN,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": job["event_id"],
            "X-Shopify-Triggered-At": job["at"],
        }
        record = {k: job[k] for k in ("topic", "order_id", "address", "attempt")}
        record |= {"headers": headers, "body": job["body"], "status_code": None, "error": None}
        status_code, exc = post(
            job["address"], job["body"], headers, WEBHOOK_TIMEOUT, redirects=False
        )
        record["status_code"] = status_code
        if exc is not None:
            record["error"] = type(exc).__name__
        with self._cond:
            self.deliveries.append(record)
            ok = record["status_code"] is not None and 200 <= record["status_code"] < 300
            if not ok and job["attempt"] <= len(self.retry_delays):
                delay = self.retry_delays[job["attempt"] - 1]
                retry = dict(job, attempt=job["attempt"] + 1)
                self._queue.append((time.monotonic() + delay, retry))

    # ---------------------------------------------------------------- HTTP

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        status, payload, headers = self._handle(request)
        response = Response(json.dumps(payload), status=status, mimetype="application/json")
        for name, value in headers:
            response.headers[name] = value
        return response(environ, start_response)

    def _handle(self, request: Request) -> tuple[int, Any, list[tuple[str, str]]]:
        token = request.headers.get("X-Shopify-Access-Token")
        body = request.get_json(silent=True)
        record: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.args),
        }
        record |= {"json": body, "token": token, "status": 0}
        status, payload, headers = self._route(request, token, body)
        record["status"] = status
        with self._lock:
            self.requests.append(record)
        return status, payload, headers

    def _route(
        self, request: Request, token: str | None, body: Any
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        match = re.fullmatch(r"/admin/api/(\d{4}-\d{2}|unstable)(/.*)", request.path)
        if match is None:
            return 404, {"errors": "Not Found"}, []
        if token is None or not hmac.compare_digest(token, self.access_token):
            return 401, {"errors": BAD_TOKEN}, []
        with self._lock:
            if self._failures:
                status = self._failures.pop(0)
                return status, {"errors": "Internal Server Error"}, [("Retry-After", "1")]
        route = match.group(2)
        if request.method == "POST" and route == "/graphql.json":
            return self._graphql(body)
        if request.method == "GET" and route == "/orders.json":
            return self._list(request)
        found = re.fullmatch(r"/orders/(\d+)\.json", route)
        if request.method == "GET" and found:
            with self._lock:
                order = self._orders.get(int(found.group(1)))
                if order is None:
                    return 404, {"errors": "Not Found"}, []
                return 200, {"order": copy.deepcopy(order)}, []
        return 404, {"errors": "Not Found"}, []

    def _list(self, request: Request) -> tuple[int, Any, list[tuple[str, str]]]:
        args = dict(request.args)
        try:
            limit = min(int(args.pop("limit", "50")), MAX_LIMIT)
        except ValueError:
            return 400, {"errors": {"limit": "Invalid value"}}, []
        if "page_info" in args:
            cursor = args.pop("page_info")
            if args:
                return 400, {"errors": {"page_info": "Invalid value"}}, []
            try:
                args, offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            except ValueError:
                return 400, {"errors": {"page_info": "Invalid value"}}, []
        else:
            offset = 0
        financial = args.get("financial_status", "any")
        if financial not in ("any", "unpaid", *FINANCIAL_STATUSES):
            return 400, {"errors": {"financial_status": "Invalid value"}}, []
        try:
            if "updated_at_min" in args:
                datetime.fromisoformat(args["updated_at_min"])
        except ValueError:
            return 400, {"errors": {"updated_at_min": "Invalid value"}}, []
        with self._lock:
            orders = sorted(self._orders.values(), key=lambda o: o["id"], reverse=True)
            selected = [o for o in orders if _matches(o, args)]
            page = [copy.deepcopy(o) for o in selected[offset : offset + limit]]
        headers = []
        links = []
        base = f"{self.base_url}/admin/api/{API_VERSION}/orders.json"
        for rel, start in (("previous", offset - limit), ("next", offset + limit)):
            if 0 <= start < len(selected) and (rel == "next" or offset > 0):
                info = base64.urlsafe_b64encode(json.dumps([args, start]).encode()).decode()
                links.append(
                    f'<{base}?{urlencode({"limit": limit, "page_info": info})}>; rel="{rel}"'
                )
        if links:
            headers.append(("Link", ", ".join(links)))
        return 200, {"orders": page}, headers

    def _graphql(self, body: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}, []
        with self._lock:
            if self._throttle:
                self._throttle -= 1
                error = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
                return 200, {"errors": [error]}, []
        query, variables = body["query"], body.get("variables") or {}
        return 200, self._graphql_api.execute(query, variables), []


def _matches(order: dict[str, Any], args: dict[str, str]) -> bool:
    status = args.get("status", "open")
    if status == "open" and (order.get("cancelled_at") or order.get("closed_at")):
        return False
    if status == "closed" and not order.get("closed_at"):
        return False
    if status == "cancelled" and not order.get("cancelled_at"):
        return False
    financial = args.get("financial_status", "any")
    if financial == "unpaid" and order["financial_status"] not in UNPAID:
        return False
    if financial not in ("any", "unpaid") and order["financial_status"] != financial:
        return False
    if "updated_at_min" in args:
        since = datetime.fromisoformat(args["updated_at_min"])
        if datetime.fromisoformat(order["updated_at"]) < since:
            return False
    return True
