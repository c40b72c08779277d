"""Emulate a Shopify store over real HTTP: Admin API (REST orders, a GraphQL subset) and webhooks.

The relay talks to it as to a real shop. Facts from `/work/shared/reference/protocols.md` §3:

* Webhooks (§3.1, §3.2): POST of the REST order resource (no `{"order": …}` envelope) with
  `X-Shopify-Topic`, `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(app client secret, raw body)),
  `X-Shopify-Shop-Domain`, `X-Shopify-API-Version`, `X-Shopify-Webhook-Id`, `X-Shopify-Event-Id`
  (the same on every retry), `X-Shopify-Triggered-At`; success = 2xx within 5 s; failures are
  retried with the original payload (here after `retry_delays`, instead of 8 times over 4 h).
  Topics: `orders/create`, `orders/updated` (every change), `orders/paid`, `refunds/create`
  (the REST Refund resource: `{id, order_id, note, transactions: [{kind: "refund", status,
  amount, currency, gateway}], refund_line_items: []}`; `refund_order`).
* Admin API auth: header `X-Shopify-Access-Token`; missing or wrong → 401 `{"errors": "[API]
  Invalid API key or access token (unrecognized login or wrong password)"}`.
* REST `GET /admin/api/<version>/orders/<id>.json` → `{"order"}` (404 `{"errors": "Not Found"}`)
  and `GET …/orders.json` with `status` (open|closed|cancelled|any, default open),
  `financial_status` (any|unpaid|one status), `updated_at_min`, `limit` (default 50, at most
  250) and cursor pages: `Link: <…?limit=…&page_info=…>; rel="next"`; a `page_info` request takes
  no filter but `limit` (400 otherwise) [inferred from shopify.dev "paginating REST" docs].
* GraphQL `POST /admin/api/<version>/graphql.json` `{"query", "variables"}`: the mutations
  `orderMarkAsPaid(input: $input)` and `orderUpdate(input: $input)` (note, tags,
  customAttributes) and the query `order(id: $id)`. Arguments must be variables; the answer has a
  fixed selection (id, name, displayFinancialStatus, note, tags, totalOutstandingSet), not the
  one asked for. `orderMarkAsPaid` works only with an outstanding balance and not already paid;
  it records a sale for the full outstanding amount and fires `orders/paid` + `orders/updated`.
  Refused input comes back as `userErrors` with HTTP 200; a throttled request as HTTP 200 with
  `errors[].extensions.code == "THROTTLED"` (`throttle_next`).

Not emulated: checkout, products, inventory, fulfilment, refund line items and the refund
routes of the Admin API, the leaky-bucket cost model,
HTTPS, `fields=`/`since_id` parameters, GraphQL beyond the operations named above.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

API_VERSION = "2025-07"
SHOP_DOMAIN = "relay-test.myshopify.com"
FIRST_ORDER_ID = 820982911946154508  # above 2**53, as real Shopify ids are (§3.1)
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


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class ShopifyStore:
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
        self.access_token = access_token
        self.client_secret = client_secret
        self.webhook_delay = webhook_delay
        self.retry_delays = retry_delays
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self._orders: dict[int, dict[str, Any]] = {}
        self._subscriptions: list[dict[str, Any]] = []
        self._queue: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._next_id = FIRST_ORDER_ID
        self._next_number = 1001
        self._throttle = 0
        self._failures: list[int] = []
        self._stopping = False
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> str:
        """Serve on a free loopback port in background threads; return `base_url`."""
        server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Quiet)
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_port}"
        self._stopping = False
        self._threads = [
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}),
            threading.Thread(target=self._deliver_loop),
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and delivering; queued webhooks are dropped."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join()
        self._threads = []

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

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
            now = _now_iso()
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
            order.update(fields, updated_at=_now_iso())
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
            now = _now_iso()
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
        event |= {"event_id": str(uuid.uuid4()), "at": _now_iso()}
        for subscription in self._subscriptions:
            if subscription["topic"] == topic:
                job = dict(event, address=subscription["address"], attempt=1)
                self._queue.append((time.monotonic() + self.webhook_delay, job))
        self._cond.notify_all()

    def _deliver_loop(self) -> None:
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
        try:
            answer = requests.post(
                job["address"],
                data=job["body"],
                headers=headers,
                timeout=WEBHOOK_TIMEOUT,
                allow_redirects=False,
            )
            record["status_code"] = answer.status_code
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
        with self._cond:
            self.deliveries.append(record)
            ok = record["status_code"] is not None and 200 <= record["status_code"] < 300
            if not ok and job["attempt"] <= len(self.retry_delays):
                delay = self.retry_delays[job["attempt"] - 1]
                retry = dict(job, attempt=job["attempt"] + 1)
                self._queue.append((time.monotonic() + delay, retry))

    # ---------------------------------------------------------------- HTTP

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
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
        root = re.search(r"\{\s*(\w+)\s*(\(([^)]*)\))?", query)
        if root is None:
            return 200, _graphql_error("Parse error: no selection"), []
        field, arguments = root.group(1), root.group(3) or ""
        args: dict[str, Any] = {}
        for name, value in re.findall(r"(\w+)\s*:\s*(\S+?)\s*(?:,|$)", arguments):
            if not value.startswith("$"):
                return 200, _graphql_error("this emulator reads arguments from variables only"), []
            args[name] = variables.get(value[1:])
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "orderMarkAsPaid": self._mark_as_paid,
            "orderUpdate": self._order_update,
            "order": self._order_query,
        }
        handler = handlers.get(field)
        if handler is None:
            return 200, _graphql_error(f"Field '{field}' doesn't exist on type 'Mutation'"), []
        with self._lock:
            try:
                return 200, {"data": {field: handler(args)}}, []
            except _GraphQLError as exc:
                return 200, _graphql_error(str(exc)), []

    def _find(self, gid: Any) -> dict[str, Any] | None:
        match = re.fullmatch(r"gid://shopify/Order/(\d+)", gid if isinstance(gid, str) else "")
        if match is None:
            raise _GraphQLError(f"Invalid global id '{gid}'")
        return self._orders.get(int(match.group(1)))

    def _mark_as_paid(self, args: dict[str, Any]) -> dict[str, Any]:
        given = args.get("input")
        if not isinstance(given, dict) or set(given) != {"id"}:
            raise _GraphQLError(
                "Variable $input of type OrderMarkAsPaidInput! was provided invalid value"
            )
        order = self._find(given["id"])
        if order is None:
            return {"order": None, "userErrors": [_user_error("Order does not exist")]}
        outstanding = Decimal(str(order.get("total_outstanding") or "0"))
        if order["financial_status"] == "paid" or outstanding <= 0:
            return {
                "order": _gql_order(order),
                "userErrors": [_user_error("Order cannot be marked as paid.")],
            }
        order["transactions"].append(
            {"kind": "sale", "status": "success", "amount": str(outstanding), "gateway": "manual"}
        )
        order.update(financial_status="paid", total_outstanding="0.00", updated_at=_now_iso())
        self._fire("orders/paid", order)
        self._fire("orders/updated", order)
        return {"order": _gql_order(order), "userErrors": []}

    def _order_update(self, args: dict[str, Any]) -> dict[str, Any]:
        given = args.get("input")
        known = {"id", "note", "tags", "customAttributes", "email"}
        if not isinstance(given, dict) or "id" not in given or set(given) - known:
            raise _GraphQLError("Variable $input of type OrderInput! was provided invalid value")
        order = self._find(given["id"])
        if order is None:
            return {"order": None, "userErrors": [_user_error("Order does not exist")]}
        if "note" in given:
            order["note"] = given["note"]
        if "email" in given:
            order["email"] = given["email"]
        if "tags" in given:
            order["tags"] = ", ".join(_strings(given["tags"]))
        if "customAttributes" in given:
            order["note_attributes"] = [
                {"name": a.get("key"), "value": a.get("value")} for a in given["customAttributes"]
            ]
        order["updated_at"] = _now_iso()
        self._fire("orders/updated", order)
        return {"order": _gql_order(order), "userErrors": []}

    def _order_query(self, args: dict[str, Any]) -> dict[str, Any] | None:
        order = self._find(args.get("id"))
        return _gql_order(order) if order is not None else None


class _GraphQLError(Exception):
    """A request-level GraphQL error (top-level `errors`)."""


def _graphql_error(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "locations": [{"line": 1, "column": 1}]}]}


def _user_error(message: str) -> dict[str, Any]:
    return {"field": ["id"], "message": message}


def _strings(value: Any) -> Iterable[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _gql_order(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": order["admin_graphql_api_id"],
        "name": order["name"],
        "displayFinancialStatus": str(order["financial_status"]).upper(),
        "note": order.get("note"),
        "tags": [t.strip() for t in str(order.get("tags") or "").split(",") if t.strip()],
        "totalOutstandingSet": {
            "shopMoney": {
                "amount": order.get("total_outstanding"),
                "currencyCode": order.get("currency"),
            }
        },
    }


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
