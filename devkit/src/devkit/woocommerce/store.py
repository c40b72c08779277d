"""`WooStore`: the emulated WooCommerce store, served over real HTTP (see the package docstring).

The store ties the parts together: the order book, the webhooks, the REST routes and the front
door that parses a request as PHP would, authenticates it, injects failures and routes it.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote
from wsgiref.types import StartResponse, WSGIEnvironment

from werkzeug.wrappers import Request, Response

from devkit.serving import LoopbackServer
from devkit.woocommerce.auth import Authenticator, presented_auth
from devkit.woocommerce.notes_api import NotesApi
from devkit.woocommerce.order_json import note_json, order_json, refund_json
from devkit.woocommerce.orders import ORDER_FIELDS, ORDER_STATUSES, OrderBook
from devkit.woocommerce.orders_api import OrdersApi
from devkit.woocommerce.plugin import RelayPlugin
from devkit.woocommerce.records import Failure
from devkit.woocommerce.rest import Ctx, RestError, Route
from devkit.woocommerce.webhooks import WEBHOOK_STATUSES, Webhooks, is_valid_topic, is_valid_url
from devkit.woocommerce.webhooks_api import WebhooksApi
from devkit.woocommerce.wordpress import coerce_time, php_parse_str, to_decimal, wp_json_encode

logger = logging.getLogger(__name__)

_WP_CRITICAL_ERROR = (
    '<p>There has been a critical error on this website.</p><p><a href="https://wordpress.org/'
    'support/article/faq-troubleshooting/">Learn more about troubleshooting WordPress.</a></p>'
)
_METHOD_ORDER = ["GET", "POST", "PUT", "PATCH", "DELETE"]  # of the `Allow` header


class WooStore(LoopbackServer):
    """A WooCommerce REST v3 store with webhooks, served on 127.0.0.1 over real HTTP.

    Use `start()`/`stop()` or `with WooStore() as store:`. Thread-safe: one lock guards all state.
    Public records (append-only, read them freely):

    * `requests`: one dict per REST request received: `method`, `path`, `query` (first value per
      key), `json` (parsed body or None), `auth` (credentials presented: "oauth1", "query",
      "basic" or None - whether they were accepted shows in `status`), `status` (int).
    * `deliveries`: one dict per webhook delivery attempt: `webhook_id`, `topic`, `order_id`,
      `status_code` (int, None on a transport error), `error` (str or None), `body` (bytes),
      `headers` (dict sent).
    * `pings`: one dict per webhook ping: `webhook_id`, `status_code`, `error`, `body`, `headers`.
    """

    def __init__(
        self,
        consumer_key: str = "ck_test",
        consumer_secret: str = "cs_test",
        *,
        webhook_delay: float = 0.3,
        is_ssl: bool = False,
    ) -> None:
        """Create a stopped store.

        `webhook_delay` is the time in seconds between a change and its webhook delivery (the
        WP-Cron run); `is_ssl` makes WordPress believe requests came over HTTPS, which enables
        HTTP Basic and query-string keys (AUTH).
        """
        super().__init__()
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.webhook_delay = webhook_delay
        self.is_ssl = is_ssl
        self.requests: list[dict[str, Any]] = []
        self._failures: deque[Failure] = deque()
        self._book = OrderBook(fire=self._fire)
        self._hooks = Webhooks(self, self._cond, self._book)
        self.deliveries = self._hooks.deliveries
        self.pings = self._hooks.pings
        self._auth = Authenticator(self)
        self._routes: list[Route] = [
            *OrdersApi(self, self._cond, self._book).routes(),
            *NotesApi(self, self._cond, self._book).routes(),
            *WebhooksApi(self, self._cond, self._hooks).routes(),
        ]
        self.relay_plugin: RelayPlugin | None = None  # `install_relay_plugin`

    thread_names = ("woostore-http", "woostore-webhooks")

    def _work(self) -> None:
        self._hooks.run()

    def _fire(self, event: str, order_id: int) -> None:
        self._hooks.fire(event, order_id)

    # ---------------------------------------------------------------- shop-side API

    def create_order(
        self,
        *,
        total: str = "44.98",
        currency: str = "USD",
        payment_method: str = "cheque",
        status: str = "pending",
        billing_email: str = "ada@example.com",
        **fields: Any,
    ) -> dict[str, Any]:
        """Place an order as the shop's checkout does and fire `order.created`; return its JSON.

        `total` is the grand total (string/number, stored with 2 decimals). Optional `fields`:
        billing/shipping (dicts merged into the addresses), meta_data ([{key, value}]),
        line_items/fee_lines/shipping_lines (lists of {name, quantity, total, ...}; default: one
        line item worth `total`), customer_note, customer_id, parent_id, transaction_id,
        payment_method_title, created_via (default "checkout"), customer_ip_address,
        customer_user_agent, needs_processing (False = virtual order, paid -> completed),
        date_created (datetime, unix time or ISO string, UTC; back-dates the order), date_paid.
        A `status` other than pending is reached by a transition from pending (sets date_paid for
        processing/completed), like a gateway does during checkout.
        """
        unknown = set(fields) - ORDER_FIELDS
        if unknown:
            raise TypeError(f"unknown order fields: {sorted(unknown)}")
        if status not in ORDER_STATUSES:
            raise ValueError(f"invalid status {status!r}; expected one of {ORDER_STATUSES}")
        amount = to_decimal(total)
        with self._lock:
            order = self._book.new_order(
                currency=currency,
                payment_method=payment_method,
                created_via=str(fields.get("created_via", "checkout")),
                email=billing_email,
            )
            order.total = amount
            self._book.apply_shop_fields(order, fields)
            if not order.line_items and "line_items" not in fields:
                order.line_items = [
                    self._book.make_item(
                        "line_items", {"name": "Demo Widget", "product_id": 12, "total": amount}
                    )
                ]
            self._book.orders[order.id] = order
            if status != order.status:
                self._book.set_status(order, status, manual=False)
            if "date_created" in fields:
                created = coerce_time(fields["date_created"])
                order.date_created = order.date_modified = created
                if order.date_paid is not None and "date_paid" not in fields:
                    order.date_paid = created
                if order.date_completed is not None:
                    order.date_completed = created
                for note in order.notes:
                    note.date_created = created
            order.saved_status = order.status
            self._fire("created", order.id)
            return order_json(order, self.base_url)

    def update_order(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Edit an order as the merchant does in wp-admin and fire `order.updated`; return its JSON.

        Accepts the `create_order` fields plus `status` (a transition; "trash" trashes the order
        and fires `order.deleted`, leaving trash fires `order.restored`) and `total`.
        Raises KeyError for an unknown order.
        """
        unknown = set(changes) - ORDER_FIELDS - {"status", "total"}
        if unknown:
            raise TypeError(f"unknown order fields: {sorted(unknown)}")
        status = changes.pop("status", None)
        if status is not None and status not in (*ORDER_STATUSES, "trash"):
            raise ValueError(f"invalid status {status!r}")
        with self._lock:
            order = self._book.orders[order_id]
            if "total" in changes:
                order.total = to_decimal(changes.pop("total"))
            self._book.apply_shop_fields(order, changes)
            if status == "trash" and order.status != "trash":
                self._book.trash(order)
            elif status is not None and order.status == "trash" and status != "trash":
                order.status = status
                order.saved_status = status
                order.date_modified = int(time.time())
                self._fire("restored", order.id)
            else:
                if status is not None:
                    self._book.set_status(order, status, manual=True)
                self._book.save(order)
            return order_json(order, self.base_url)

    def refund_order(self, order_id: int, amount: Any, reason: str = "") -> dict[str, Any]:
        """Refund part or all of an order as wp-admin's manual refund does; return the refund.

        `amount` (string/number, 2 decimals) must be positive and at most what is left to refund
        (`wc_create_refund()`: "Invalid refund amount"). A full refund moves the order to
        `refunded`. Fires `order.updated` (`woocommerce_order_refunded`). Returns the entry the
        order's `refunds` shows: `{id, reason, total}` with total a negative decimal string.
        Raises KeyError for an unknown order, ValueError for an invalid amount.
        """
        value = to_decimal(amount)
        with self._lock:
            refund = self._book.refund(self._book.orders[order_id], value, reason)
            return refund_json(refund)

    def get_order(self, order_id: int) -> dict[str, Any]:
        """Return a deep copy of the order's REST JSON (`GET /orders/<id>`); KeyError if unknown."""
        with self._lock:
            return order_json(self._book.orders[order_id], self.base_url)

    def notes(self, order_id: int) -> list[dict[str, Any]]:
        """Return the order's notes in REST shape, oldest first (`customer_note` is a bool)."""
        with self._lock:
            order = self._book.orders[order_id]
            return [note_json(order, note, self.base_url) for note in order.notes]

    def add_webhook(
        self,
        topic: str,
        delivery_url: str,
        secret: str,
        *,
        status: str = "active",
        name: str = "",
    ) -> dict[str, Any]:
        """Create a webhook like `POST /webhooks`, send its ping (blocking), return its REST JSON.

        Only `order.*` topics ever fire here; other valid topics are accepted and stay silent.
        """
        if not is_valid_topic(topic):
            raise ValueError(f"invalid webhook topic {topic!r}")
        if not is_valid_url(delivery_url):
            raise ValueError(f"invalid delivery URL {delivery_url!r}")
        if status not in WEBHOOK_STATUSES:
            raise ValueError(f"invalid webhook status {status!r}")
        with self._lock:
            webhook = self._hooks.new(topic, delivery_url, secret, status, name)
            result = self._hooks.to_json(webhook)
        self._hooks.ping(
            webhook.id
        )  # WC_REST_Webhooks_V1_Controller::create_item(), unconditionally
        return result

    def webhook(self, webhook_id: int) -> dict[str, Any]:
        """Return the webhook's {id, topic, delivery_url, status, failure_count, pending_delivery}.

        Raises KeyError for an unknown id.
        """
        with self._lock:
            wh = self._hooks.webhooks[webhook_id]
            return {
                "id": wh.id,
                "topic": wh.topic,
                "delivery_url": wh.delivery_url,
                "status": wh.status,
                "failure_count": wh.failure_count,
                "pending_delivery": wh.pending_delivery,
            }

    def fail_next(
        self,
        count: int,
        status: int = 500,
        *,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next `count` authenticated REST requests with `status` instead.

        `headers` are added to those responses (e.g. {"Retry-After": "2"}); `body` replaces the
        default WordPress-style error body.
        """
        if body is None:
            if status == 500:
                body = {
                    "code": "internal_server_error",
                    "message": _WP_CRITICAL_ERROR,
                    "data": {"status": 500},
                    "additional_errors": [],
                }
            else:
                body = {
                    "code": "woostore_injected_failure",
                    "message": f"Injected failure (HTTP {status}).",
                    "data": {"status": status},
                }
        with self._lock:
            for _ in range(count):
                self._failures.append(Failure(status, dict(headers or {}), copy.deepcopy(body)))

    def install_relay_plugin(self, relay_url: str, store: str, api_token: str) -> RelayPlugin:
        """Activate the relay-payments plugin with its three settings; return it (its
        `callbacks` log what `/?wc-api=relay` received: devkit/woocommerce/plugin.py)."""

        def has_order(order_id: str) -> bool:
            with self._lock:
                return order_id.isdigit() and int(order_id) in self._book.orders

        self.relay_plugin = RelayPlugin(relay_url, store, api_token, has_order)
        return self.relay_plugin

    def set_webhooks_paused(self, paused: bool) -> None:
        """Hold (True) or release (False) queued deliveries, like an idle store without WP-Cron."""
        self._hooks.set_paused(paused)

    def flush_webhooks(self) -> None:
        """Send every queued delivery now, in due order, and return when all were attempted."""
        self._hooks.flush()

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._handle(request)
        except Exception:
            logger.exception("woostore: internal error")
            response = self._json(
                500, RestError(500, "internal_server_error", "Internal error.").body()
            )
        return response(environ, start_response)

    def _json(self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
        response = Response(wp_json_encode(payload), status=status)
        response.headers["Content-Type"] = "application/json; charset=UTF-8"
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Link"] = f'<{self.base_url}/wp-json/>; rel="https://api.w.org/"'
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Access-Control-Expose-Headers"] = "X-WP-Total, X-WP-TotalPages, Link"
        for name, value in headers:
            response.headers.add(name, value)
        return response

    def _handle(self, request: Request) -> Response:
        environ = request.environ
        method = request.method.upper()
        raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path)
        raw_path = raw_uri.split("?", 1)[0] or "/"
        query_string = str(environ.get("QUERY_STRING", ""))
        get = php_parse_str(query_string)
        body = request.get_data(cache=True)
        content_type = request.headers.get("Content-Type", "").lower()
        is_form = "application/x-www-form-urlencoded" in content_type
        is_json = "application/json" in content_type or "+json" in content_type
        form = php_parse_str(body.decode("utf-8", "replace")) if is_form else {}
        json_body: Any = None
        json_error = False
        if is_json and body.strip():
            try:
                json_body = json.loads(body)
            except ValueError:
                json_error = True
        record: dict[str, Any] = {
            "method": method,
            "path": raw_path,
            "query": request.args.to_dict(flat=True),
            "json": json_body,
            "auth": presented_auth(request, get),
            "status": 0,
        }

        def finish(response: Response) -> Response:
            record["status"] = response.status_code
            with self._lock:
                self.requests.append(record)
            return response

        path = unquote(raw_path)
        if path in ("/", "/index.php") and get.get("wc-api") == "relay":  # WC_API
            plugin = self.relay_plugin
            if plugin is None:  # no `woocommerce_api_relay` action: status 400, die('-1')
                return finish(Response(b"-1", status=400, content_type="text/html"))
            status, answer = plugin.handle(method, dict(request.headers), body)
            return finish(self._json(status, answer))
        route: str | None = None
        if path.startswith("/wp-json"):
            route = path[len("/wp-json") :] or "/"
        elif path in ("/", "/index.php") and isinstance(get.get("rest_route"), str):
            route = str(get["rest_route"])  # plain-permalink fallback
        if route is None:
            page = b"<!DOCTYPE html><html><body><h1>Page not found</h1></body></html>"
            return finish(Response(page, status=404, content_type="text/html; charset=UTF-8"))

        authed = False
        if route.startswith(("/wc/", "/wc-")):  # is_request_to_rest_api() (AUTH)
            post = form if method == "POST" else {}
            authed, error = self._auth.authenticate(method, raw_path, get, post, request)
            if error is not None:
                return finish(self._json(error.status, error.body()))
        if authed:
            with self._lock:
                failure = self._failures.popleft() if self._failures else None
            if failure is not None:
                return finish(self._json(failure.status, failure.body, failure.headers.items()))

        if route.rstrip("/") in ("", "/wc/v3"):  # REST index / namespace index (abridged)
            index: dict[str, Any] = {"namespace": "wc/v3", "routes": {}}
            if not route.strip("/"):
                index = {"name": "Demo store", "url": self.base_url, "namespaces": ["wc/v3"]}
            return finish(self._json(200, index))
        for pattern, handlers in self._routes:
            match = pattern.match(route)
            if match is None:
                continue
            handler = handlers.get(method)
            if handler is None:
                break
            if json_error:
                error = RestError(
                    400,
                    "rest_invalid_json",
                    "Invalid JSON body passed.",
                    json_error_code=4,
                    json_error_message="Syntax error",
                )
                return finish(self._json(400, error.body()))
            params: dict[str, Any] = dict(get)
            params.update(form)
            if isinstance(json_body, dict):
                params.update(json_body)
            query_pairs = parse_qsl(query_string, keep_blank_values=True)
            ctx = Ctx(method, match.groupdict(), params, authed, query_pairs)
            allow = ", ".join(sorted(handlers, key=_METHOD_ORDER.index))
            try:
                status, payload, headers = handler(ctx)
            except RestError as exc:
                return finish(self._json(exc.status, exc.body(), [("Allow", allow)]))
            return finish(self._json(status, payload, [*headers, ("Allow", allow)]))
        error = RestError(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )
        return finish(self._json(404, error.body()))
