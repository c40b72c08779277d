"""Emulate a WooCommerce 7.4.1 store (REST API v3 + webhooks) over real HTTP.

`WooStore` is the "demo WooCommerce-compatible store" of `relay demo` and the tests. The relay talks
to it exactly as it talks to a real shop, so it reproduces what a real store accepts and, just as
important, what it refuses. Facts come from `/work/shared/reference/protocols.md` (cited as §n.n)
and the WooCommerce/WordPress PHP sources it names (WH, WHF, WDS, OC, ORD, AUTH):

* REST routes under `/wp-json/wc/v3/` (§2): `orders` (list with `X-WP-Total`/`X-WP-TotalPages`/
  `Link`, create), `orders/<id>` (get; update by PUT/POST/PATCH; DELETE to trash),
  `orders/<id>/notes` (+ `/<note_id>`), `webhooks` (+ `/<id>`). WordPress error bodies
  `{"code", "message", "data": {"status"}}` and WordPress argument validation (§2.5).
* Authentication (§2.4, AUTH): over plain HTTP only OAuth 1.0a one-legged (HMAC-SHA1/-SHA256, in
  the query string or an `Authorization: OAuth` header), verified the way the PHP code does it:
  base URL = the site's home URL + request path, parameters as PHP parses the query string (a
  repeated key keeps its last value; `k[]=v` becomes an array that WooCommerce signs as `k[0]`, so
  a standard client's signature does not match), ±15 min timestamps, single-use nonces. HTTP Basic
  and `?consumer_key=&consumer_secret=` only when WordPress sees HTTPS (`is_ssl=True`).
* Orders (§2.1-2.3): the JSON shape of the real 7.4.1 delivery sample; only writable props are
  applied and `status` last; `set_paid` runs `payment_complete()` only when the order needs payment
  (pending/failed, total > 0); status transitions set `date_paid`/`date_completed` and add the
  "Order status changed from X to Y." note; `meta_data` is updated by key or id; every save bumps
  `date_modified` and fires `order.updated`.
* Webhooks (§1.1-1.6): creation ping (form body `webhook_id=N`, only an exact 200 clears
  `pending_delivery`; a webhook still pending is pinged again after every delivery, as WDS
  `update()` does); deliveries queued per (webhook, order) and coalesced, sent by one background
  thread `webhook_delay` s later (the WP-Cron/Action Scheduler stand-in), body built at send time
  as WordPress JSON, `X-WC-Webhook-*` headers, base64 HMAC-SHA256 signature, success = 200..302
  with redirects not followed, no retries, `disabled` on the 7th consecutive failure.

* Refunds (`refund_order`, the merchant's manual refund in wp-admin, `wc_create_refund()`): an
  amount up to what is left to refund, listed in the order's `refunds` as `{id, reason, total}`
  (total a negative decimal string, newest first), the order `refunded` once fully refunded, and
  `order.updated` fired (`woocommerce_order_refunded`, §1.4).

Not emulated: products/stock/taxes/coupons, refund line items and restocking, the
`orders/<id>/refunds` REST routes (line totals are taken as given),
`wp_safe_remote_request()`'s refusal of loopback/private hosts and ports other than 80/443/8080
(§1.1; the relay would never get a delivery on a real shop), API-key read/write permissions,
e-mails (a customer note is only recorded), HTTP/1.0 for deliveries, site time zones other than UTC.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode
from wsgiref.types import StartResponse, WSGIEnvironment

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

__all__ = [
    "HOOKSHOT_USER_AGENT",
    "ORDER_STATUSES",
    "WC_VERSION",
    "WP_VERSION",
    "WooStore",
    "webhook_signature",
    "wp_json_encode",
]

logger = logging.getLogger(__name__)

WC_VERSION = "7.4.1"
WP_VERSION = "6.1.9"
HOOKSHOT_USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"  # §1.1

# §2.1: the REST enum of order statuses (`get_order_statuses()`; "trash" is not in it, OC).
ORDER_STATUSES: tuple[str, ...] = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
)
_LIST_STATUS_ENUM = ("any", "trash", *ORDER_STATUSES)  # collection `status` filter (OC)
_STATUS_LABELS = {  # wc_get_order_status_name()
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "checkout-draft": "Draft",
}
_NEEDS_PAYMENT_STATUSES = ("pending", "failed")  # woocommerce_valid_order_statuses_for_payment
_PAYMENT_COMPLETE_STATUSES = ("on-hold", "pending", "failed", "cancelled")  # §2.2, ORD
_WEBHOOK_SKIP_STATUSES = ("draft", "auto-draft", "new")  # §1.4 is_valid_resource()
_EDITABLE_STATUSES = ("pending", "on-hold", "auto-draft")  # WC_Order::is_editable()
_ORDERBY_ENUM = ("date", "id", "include", "title", "slug", "modified")
_ORDER_ENUM = ("asc", "desc")
_NOTE_TYPE_ENUM = ("any", "customer", "internal")
_WEBHOOK_STATUSES = ("active", "paused", "disabled")  # §1.6
_TOPIC_HOOKS: dict[str, list[str]] = {  # §1.4
    "order.created": ["woocommerce_new_order"],
    "order.updated": [
        "woocommerce_update_order",
        "woocommerce_order_refunded",
        "woocommerce_delete_order_refund",
    ],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
}
_TOPIC_RESOURCES = ("coupon", "customer", "order", "product")
_TOPIC_EVENTS = ("created", "updated", "deleted", "restored")
_MAX_DELIVERY_FAILURES = 5  # woocommerce_max_webhook_delivery_failures, §1.6
_OAUTH_WINDOW = 15 * 60  # §2.4
_PING_TIMEOUT = 5.0  # wp_safe_remote_post() default
_DELIVERY_TIMEOUT = 60.0  # MINUTE_IN_SECONDS, §1.1
_API_USER = "admin"  # display name of the API key's owner (note author when added by a user)
_AUTH_REALM = (
    "WooCommerce API. Use a consumer key in the username field and a consumer secret in the "
    "password field."
)
_WP_CRITICAL_ERROR = (
    '<p>There has been a critical error on this website.</p><p><a href="https://wordpress.org/'
    'support/article/faq-troubleshooting/">Learn more about troubleshooting WordPress.</a></p>'
)
_GATEWAY_TITLES = {
    "bacs": "Direct bank transfer",
    "cheque": "Check payments",
    "cod": "Cash on delivery",
}
_CURRENCY_SYMBOLS = {
    "USD": "$",
    "CAD": "$",
    "AUD": "$",
    "NZD": "$",
    "EUR": "\u20ac",
    "GBP": "\u00a3",
    "JPY": "\u00a5",
    "CNY": "\u00a5",
    "INR": "\u20b9",
    "BRL": "R$",
    "CHF": "CHF",
    "BTC": "\u0e3f",
    "ETH": "\u039e",
}
_BILLING_KEYS = (
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
    "email",
    "phone",
)
_SHIPPING_KEYS = (*_BILLING_KEYS[:9], "phone")
_ORDER_FIELDS = frozenset(
    {
        "billing",
        "shipping",
        "meta_data",
        "line_items",
        "fee_lines",
        "shipping_lines",
        "customer_note",
        "customer_id",
        "parent_id",
        "transaction_id",
        "payment_method",
        "payment_method_title",
        "created_via",
        "customer_ip_address",
        "customer_user_agent",
        "needs_processing",
        "date_created",
        "date_paid",
    }
)
_WP_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?"
    r"(?:([Zz])|([+-])(\d{2})(?::(\d{2}))?)?$"
)
_NUMERIC_RE = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_OAUTH_HEADER_RE = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')
_OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)

# A value of PHP's $_GET/$_POST: a string or a nested array (kept as an ordered dict).
_PhpValue: TypeAlias = "str | dict[str, _PhpValue]"
_Handler: TypeAlias = "Callable[[_Ctx], _Result]"


# --------------------------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------------------------


def wp_json_encode(value: Any) -> bytes:
    """Encode `value` like WordPress' `wp_json_encode()`: compact, `\\uXXXX`, `/` as `\\/` (§1.1).

    Returns the exact bytes a WooCommerce webhook body or REST response would carry.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    # "/" can only occur inside JSON strings, so a global replace is exact.
    return text.replace("/", "\\/").encode("ascii")


def webhook_signature(secret: str, body: bytes) -> str:
    """Return `X-WC-Webhook-Signature` of `body`: base64(HMAC-SHA256(secret utf-8, body)), §1.2."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _fmt_date(ts: int | None) -> str | None:
    """Format a unix time like `wc_rest_prepare_date_response()`: ISO 8601, no zone (site = UTC)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value).strip() or "0")
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return result


def _money(amount: Decimal) -> str:
    """Format like `wc_format_decimal($x, 2)`: a 2-dp string, half away from zero."""
    text = str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return "0.00" if text == "-0.00" else text


def _parse_wp_date(value: str) -> int | None:
    """Parse a date like `rest_parse_date()`; return unix seconds (site time zone = UTC) or None."""
    m = _WP_DATE_RE.match(value)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    tz = UTC
    if m.group(8):
        offset = timedelta(hours=int(m.group(9)), minutes=int(m.group(10) or 0))
        tz = timezone(offset if m.group(8) == "+" else -offset)
    try:
        parsed = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return None
    return int(parsed.timestamp())


def _coerce_time(value: Any) -> int:
    """Turn a datetime, unix number or ISO string (UTC when naive) into unix seconds."""
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        parsed = _parse_wp_date(value)
        if parsed is not None:
            return parsed
    raise ValueError(f"not a date: {value!r}")


def _php_empty(value: object) -> bool:
    """PHP `empty()` for request values: None, "", "0" and empty arrays are empty."""
    return value is None or value in ("", "0") or (isinstance(value, dict) and not value)


def _php_next_index(node: dict[str, _PhpValue]) -> int:
    ints = [int(k) for k in node if re.fullmatch(r"-?(?:0|[1-9]\d*)", k)]
    return max(ints) + 1 if ints else 0


def _php_assign(target: dict[str, _PhpValue], name: str, value: str) -> None:
    """Store one `name=value` pair the way PHP builds `$_GET` (`php_register_variable_ex`)."""
    name = name.lstrip(" ")
    segments: list[str] = []
    bracket = name.find("[")
    base = name
    if bracket != -1 and "]" in name[bracket:]:
        base, rest = name[:bracket], name[bracket:]
        while rest.startswith("["):
            end = rest.find("]")
            if end == -1:
                break
            segments.append(rest[1:end])
            rest = rest[end + 1 :]
    base = base.replace(" ", "_").replace(".", "_").replace("[", "_")
    if not base:
        return
    node = target
    path = [base, *segments]
    for depth, segment in enumerate(path):
        key = str(_php_next_index(node)) if depth > 0 and segment == "" else segment
        if depth == len(path) - 1:
            node[key] = value
        else:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child


def _php_parse_str(query: str) -> dict[str, _PhpValue]:
    """Parse a query string like PHP's `$_GET`: last duplicate wins, `k[]`/`k[x]` become arrays."""
    result: dict[str, _PhpValue] = {}
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        _php_assign(result, unquote_plus(name), unquote_plus(value))
    return result


def _rfc3986(text: str) -> str:
    """`wc_rest_urlencode_rfc3986()`: PHP `rawurlencode()` (unreserved: A-Z a-z 0-9 - _ . ~)."""
    return quote(text, safe="")


def _encode_values(value: _PhpValue) -> _PhpValue:
    if isinstance(value, dict):
        return {k: _encode_values(v) for k, v in value.items()}
    return _rfc3986(value)


def _join_with_equals(params: dict[str, _PhpValue], prefix: str = "") -> list[str]:
    """`join_with_equals_sign()` of AUTH: nested arrays are signed as `key%5Bindex%5D`."""
    pairs: list[str] = []
    for key, value in params.items():
        full = f"{prefix}%5B{key}%5D" if prefix else key
        if isinstance(value, dict):
            pairs.extend(_join_with_equals(value, full))
        else:
            pairs.append(_rfc3986(f"{full}={value}"))
    return pairs


def _wp_parse_list(value: Any) -> list[Any]:
    """`wp_parse_list()`: split a string on commas/whitespace; arrays keep their values."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,]+", value) if part]
    return [value]


def _wp_list_sentence(items: Iterable[str]) -> str:
    """Format a list like WordPress' `%l` (`wp_sprintf_l`): "a, b, and c"."""
    values = list(items)
    if len(values) <= 1:
        return "".join(values)
    if len(values) == 2:
        return f"{values[0]} and {values[1]}"
    return ", ".join(values[:-1]) + ", and " + values[-1]


def _gateway_title(payment_method: str) -> str:
    return _GATEWAY_TITLES.get(payment_method, payment_method)


def _is_valid_topic(topic: str) -> bool:
    """`wc_is_webhook_valid_topic()` (§1.4)."""
    if topic.startswith("action."):
        hook = topic[len("action.") :]
        return hook.startswith(("woocommerce_", "wc_"))
    resource, _, event = topic.partition(".")
    if topic == "product.published":
        return True
    return resource in _TOPIC_RESOURCES and event in _TOPIC_EVENTS


def _is_valid_url(url: str) -> bool:
    return re.match(r"^https?://[^\s/?#]+(?:[/?#]\S*)?$", url, re.IGNORECASE) is not None


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass
class _Note:
    id: int
    note: str
    customer_note: bool
    author: str
    date_created: int


@dataclass
class _Refund:
    id: int
    amount: Decimal
    reason: str
    date_created: int


@dataclass
class _Order:
    id: int
    order_key: str
    status: str
    currency: str
    total: Decimal
    payment_method: str
    payment_method_title: str
    created_via: str
    date_created: int
    date_modified: int
    billing: dict[str, str]
    shipping: dict[str, str]
    saved_status: str = ""
    parent_id: int = 0
    customer_id: int = 0
    transaction_id: str = ""
    customer_note: str = ""
    customer_ip_address: str = ""
    customer_user_agent: str = ""
    date_paid: int | None = None
    date_completed: int | None = None
    needs_processing: bool = True
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    line_items: list[dict[str, Any]] = field(default_factory=list)
    fee_lines: list[dict[str, Any]] = field(default_factory=list)
    shipping_lines: list[dict[str, Any]] = field(default_factory=list)
    notes: list[_Note] = field(default_factory=list)
    refunds: list[_Refund] = field(default_factory=list)  # newest first, as get_refunds()


@dataclass
class _Webhook:
    id: int
    name: str
    topic: str
    delivery_url: str
    secret: str
    status: str
    date_created: int
    date_modified: int | None = None
    failure_count: int = 0
    pending_delivery: bool = True


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class _Ctx:
    method: str
    route: dict[str, str]
    params: dict[str, Any]
    authed: bool
    query: list[tuple[str, str]]


_Result: TypeAlias = "tuple[int, Any, list[tuple[str, str]]]"


class _RestError(Exception):
    """A WP_Error returned by a REST handler."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }


class _Args:
    """Validate request arguments the way `WP_REST_Request::has_valid_params()` does (§2.5)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.errors: dict[str, tuple[str, str]] = {}
        self.missing: list[str] = []

    def present(self, name: str) -> bool:
        return self.params.get(name) is not None

    def fail(self, name: str, code: str, message: str) -> None:
        self.errors.setdefault(name, (code, message))

    def require(self, *names: str) -> None:
        self.missing.extend(n for n in names if not self.present(n))

    def _type_error(self, name: str, type_name: str) -> None:
        self.fail(name, "rest_invalid_type", f"{name} is not of type {type_name}.")

    def integer(
        self,
        name: str,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        if not self.present(name):
            return default
        value = self.params[name]
        number: float
        if isinstance(value, bool | dict | list):
            self._type_error(name, "integer")
            return default
        if isinstance(value, int | float) or (isinstance(value, str) and _NUMERIC_RE.match(value)):
            number = float(value)
        else:
            self._type_error(name, "integer")
            return default
        if round(number) != number:
            self._type_error(name, "integer")
            return default
        result = int(number)
        if minimum is not None and maximum is not None and not minimum <= result <= maximum:
            self.fail(
                name,
                "rest_out_of_bounds",
                f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)",
            )
        elif minimum is not None and maximum is None and result < minimum:
            self.fail(
                name, "rest_out_of_bounds", f"{name} must be greater than or equal to {minimum}"
            )
        return result

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        if not self.present(name):
            return default
        value = self.params[name]
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("", "0", "false", "1", "true"):
            return value.lower() in ("1", "true")
        self._type_error(name, "boolean")
        return default

    def string(self, name: str, default: str | None = None) -> str | None:
        if not self.present(name):
            return default
        value = self.params[name]
        if not isinstance(value, str):
            self._type_error(name, "string")
            return default
        return value

    def enum(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.string(name)
        if value is None:
            return default
        if value not in choices:
            self.fail(
                name, "rest_not_in_enum", f"{name} is not one of {_wp_list_sentence(choices)}."
            )
            return default
        return value

    def enum_list(self, name: str, choices: tuple[str, ...], default: list[str]) -> list[str]:
        if not self.present(name):
            return list(default)
        result: list[str] = []
        for index, item in enumerate(_wp_parse_list(self.params[name])):
            label = f"{name}[{index}]"
            if not isinstance(item, str):
                self.fail(name, "rest_invalid_type", f"{label} is not of type string.")
            elif item not in choices:
                message = f"{label} is not one of {_wp_list_sentence(choices)}."
                self.fail(name, "rest_not_in_enum", message)
            else:
                result.append(item)
        return result

    def int_list(self, name: str) -> list[int]:
        if not self.present(name):
            return []
        result: list[int] = []
        for index, item in enumerate(_wp_parse_list(self.params[name])):
            text = str(item) if isinstance(item, int | str) and not isinstance(item, bool) else ""
            if not re.fullmatch(r"\s*\d+\s*", text):
                self.fail(name, "rest_invalid_type", f"{name}[{index}] is not of type integer.")
            else:
                result.append(int(text))
        return result

    def date(self, name: str) -> int | None:
        value = self.string(name)
        if value is None:
            return None
        parsed = _parse_wp_date(value)
        if parsed is None:
            self.fail(name, "rest_invalid_date", "Invalid date.")
        return parsed

    def check(self) -> None:
        """Raise the WordPress 400 error for missing or invalid arguments, if any."""
        if self.missing:
            raise _RestError(
                400,
                "rest_missing_callback_param",
                f"Missing parameter(s): {', '.join(self.missing)}",
                params=list(self.missing),
            )
        if self.errors:
            raise _RestError(
                400,
                "rest_invalid_param",
                f"Invalid parameter(s): {', '.join(self.errors)}",
                params={name: message for name, (_, message) in self.errors.items()},
                details={
                    name: {"code": code, "message": message, "data": None}
                    for name, (code, message) in self.errors.items()
                },
            )


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class WooStore:
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
        HTTP Basic and query-string keys (§2.4).
        """
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.webhook_delay = webhook_delay
        self.is_ssl = is_ssl
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.pings: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._send_lock = threading.Lock()
        self._orders: dict[int, _Order] = {}
        self._webhooks: dict[int, _Webhook] = {}
        self._queue: dict[tuple[int, int], float] = {}
        self._paused = False
        self._stopping = False
        self._failures: deque[_Failure] = deque()
        self._nonces: dict[int | str, str] = {}
        self._next_order_id = 100
        self._next_item_id = 1
        self._next_meta_id = 1000
        self._next_note_id = 1
        self._next_webhook_id = 1
        self._salt = secrets.token_bytes(32)
        self._server: BaseWSGIServer | None = None
        self._server_thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._routes: list[tuple[re.Pattern[str], dict[str, _Handler]]] = [
            (
                re.compile(r"^/wc/v3/orders/?$", re.I),
                {"GET": self._h_orders, "POST": self._h_create},
            ),
            (
                re.compile(r"^/wc/v3/orders/(?P<id>\d+)/?$", re.I),
                {
                    "GET": self._h_order,
                    "POST": self._h_update,
                    "PUT": self._h_update,
                    "PATCH": self._h_update,
                    "DELETE": self._h_delete,
                },
            ),
            (
                re.compile(r"^/wc/v3/orders/(?P<order_id>\d+)/notes/?$", re.I),
                {"GET": self._h_notes, "POST": self._h_create_note},
            ),
            (
                re.compile(r"^/wc/v3/orders/(?P<order_id>\d+)/notes/(?P<id>\d+)/?$", re.I),
                {"GET": self._h_note},
            ),
            (
                re.compile(r"^/wc/v3/webhooks/?$", re.I),
                {"GET": self._h_webhooks, "POST": self._h_create_webhook},
            ),
            (
                re.compile(r"^/wc/v3/webhooks/(?P<id>\d+)/?$", re.I),
                {
                    "GET": self._h_webhook,
                    "POST": self._h_update_webhook,
                    "PUT": self._h_update_webhook,
                    "PATCH": self._h_update_webhook,
                },
            ),
        ]

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> str:
        """Serve on 127.0.0.1 on a free port in a background thread; return `base_url`."""
        with self._lock:
            if self._server is not None:
                return self.base_url
            server = make_server(
                "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
            )
            self._server = server
            self.base_url = f"http://127.0.0.1:{server.server_port}"
            self._stopping = False
            self._server_thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="woostore-http"
            )
            self._server_thread.daemon = True
            self._server_thread.start()
            self._worker = threading.Thread(target=self._worker_loop, name="woostore-webhooks")
            self._worker.daemon = True
            self._worker.start()
            return self.base_url

    def stop(self) -> None:
        """Stop the HTTP server and the webhook thread, dropping queued deliveries; idempotent."""
        with self._cond:
            server, self._server = self._server, None
            server_thread, self._server_thread = self._server_thread, None
            worker, self._worker = self._worker, None
            self._stopping = True
            self._cond.notify_all()
        if server is not None:
            server.shutdown()
            server.server_close()
        if server_thread is not None:
            server_thread.join()
        if worker is not None and worker is not threading.current_thread():
            worker.join()

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
        unknown = set(fields) - _ORDER_FIELDS
        if unknown:
            raise TypeError(f"unknown order fields: {sorted(unknown)}")
        if status not in ORDER_STATUSES:
            raise ValueError(f"invalid status {status!r}; expected one of {ORDER_STATUSES}")
        amount = _to_decimal(total)
        with self._lock:
            order = self._new_order(
                currency=currency,
                payment_method=payment_method,
                created_via=str(fields.get("created_via", "checkout")),
                email=billing_email,
            )
            order.total = amount
            self._apply_shop_fields(order, fields)
            if not order.line_items and "line_items" not in fields:
                order.line_items = [
                    self._make_item(
                        "line_items", {"name": "Demo Widget", "product_id": 12, "total": amount}
                    )
                ]
            self._orders[order.id] = order
            if status != order.status:
                self._set_status(order, status, manual=False)
            if "date_created" in fields:
                created = _coerce_time(fields["date_created"])
                order.date_created = order.date_modified = created
                if order.date_paid is not None and "date_paid" not in fields:
                    order.date_paid = created
                if order.date_completed is not None:
                    order.date_completed = created
                for note in order.notes:
                    note.date_created = created
            order.saved_status = order.status
            self._fire("created", order.id)
            return self._order_json(order)

    def update_order(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Edit an order as the merchant does in wp-admin and fire `order.updated`; return its JSON.

        Accepts the `create_order` fields plus `status` (a transition; "trash" trashes the order
        and fires `order.deleted`, leaving trash fires `order.restored`) and `total`.
        Raises KeyError for an unknown order.
        """
        unknown = set(changes) - _ORDER_FIELDS - {"status", "total"}
        if unknown:
            raise TypeError(f"unknown order fields: {sorted(unknown)}")
        status = changes.pop("status", None)
        if status is not None and status not in (*ORDER_STATUSES, "trash"):
            raise ValueError(f"invalid status {status!r}")
        with self._lock:
            order = self._orders[order_id]
            if "total" in changes:
                order.total = _to_decimal(changes.pop("total"))
            self._apply_shop_fields(order, changes)
            if status == "trash" and order.status != "trash":
                self._trash(order)
            elif status is not None and order.status == "trash" and status != "trash":
                order.status = status
                order.saved_status = status
                order.date_modified = int(time.time())
                self._fire("restored", order.id)
            else:
                if status is not None:
                    self._set_status(order, status, manual=True)
                self._save(order)
            return self._order_json(order)

    def refund_order(self, order_id: int, amount: Any, reason: str = "") -> dict[str, Any]:
        """Refund part or all of an order as wp-admin's manual refund does; return the refund.

        `amount` (string/number, 2 decimals) must be positive and at most what is left to refund
        (`wc_create_refund()`: "Invalid refund amount"). A full refund moves the order to
        `refunded`. Fires `order.updated` (`woocommerce_order_refunded`). Returns the entry the
        order's `refunds` shows: `{id, reason, total}` with total a negative decimal string.
        Raises KeyError for an unknown order, ValueError for an invalid amount.
        """
        value = _to_decimal(amount)
        with self._lock:
            order = self._orders[order_id]
            refunded = sum((r.amount for r in order.refunds), Decimal("0"))
            if value <= 0 or value > order.total - refunded:
                raise ValueError("Invalid refund amount.")
            refund = _Refund(self._next_order_id, value, reason, int(time.time()))
            self._next_order_id += 1  # a refund is a post: its id comes from the same sequence
            order.refunds.insert(0, refund)
            if refunded + value == order.total:
                self._set_status(order, "refunded", manual=False)  # wc_order_fully_refunded()
            self._save(order)
            return self._refund_json(refund)

    @staticmethod
    def _refund_json(refund: _Refund) -> dict[str, Any]:
        return {"id": refund.id, "reason": refund.reason, "total": "-" + _money(refund.amount)}

    def get_order(self, order_id: int) -> dict[str, Any]:
        """Return a deep copy of the order's REST JSON (`GET /orders/<id>`); KeyError if unknown."""
        with self._lock:
            return self._order_json(self._orders[order_id])

    def notes(self, order_id: int) -> list[dict[str, Any]]:
        """Return the order's notes in REST shape, oldest first (`customer_note` is a bool)."""
        with self._lock:
            order = self._orders[order_id]
            return [self._note_json(order, note) for note in order.notes]

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
        if not _is_valid_topic(topic):
            raise ValueError(f"invalid webhook topic {topic!r}")
        if not _is_valid_url(delivery_url):
            raise ValueError(f"invalid delivery URL {delivery_url!r}")
        if status not in _WEBHOOK_STATUSES:
            raise ValueError(f"invalid webhook status {status!r}")
        with self._lock:
            webhook = self._new_webhook(topic, delivery_url, secret, status, name)
            result = self._webhook_json(webhook)
        self._ping(webhook.id)  # WC_REST_Webhooks_V1_Controller::create_item(), unconditionally
        return result

    def webhook(self, webhook_id: int) -> dict[str, Any]:
        """Return the webhook's {id, topic, delivery_url, status, failure_count, pending_delivery}.

        Raises KeyError for an unknown id.
        """
        with self._lock:
            wh = self._webhooks[webhook_id]
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
                self._failures.append(_Failure(status, dict(headers or {}), copy.deepcopy(body)))

    def set_webhooks_paused(self, paused: bool) -> None:
        """Hold (True) or release (False) queued deliveries, like an idle store without WP-Cron."""
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    def flush_webhooks(self) -> None:
        """Send every queued delivery now, in due order, and return when all were attempted."""
        self._send_queued(only_due=False)

    # ---------------------------------------------------------------- order model (caller locks)

    def _new_order(
        self, *, currency: str, payment_method: str, created_via: str, email: str
    ) -> _Order:
        now = int(time.time())
        order_id = self._next_order_id
        self._next_order_id += 1
        billing = dict.fromkeys(_BILLING_KEYS, "")
        billing["email"] = email
        return _Order(
            id=order_id,
            order_key="wc_order_"
            + "".join(
                secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                for _ in range(13)
            ),
            status="pending",
            saved_status="pending",
            currency=currency,
            total=Decimal("0"),
            payment_method=payment_method,
            payment_method_title=_gateway_title(payment_method),
            created_via=created_via,
            date_created=now,
            date_modified=now,
            billing=billing,
            shipping=dict.fromkeys(_SHIPPING_KEYS, ""),
        )

    def _apply_shop_fields(self, order: _Order, fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key in ("billing", "shipping"):
                address = order.billing if key == "billing" else order.shipping
                address.update({k: str(v) for k, v in dict(value).items()})
            elif key == "meta_data":
                for meta in value:
                    self._update_meta(order, str(meta["key"]), meta.get("value"), meta.get("id"))
            elif key in ("line_items", "fee_lines", "shipping_lines"):
                setattr(order, key, [self._make_item(key, dict(item)) for item in value])
            elif key in ("customer_id", "parent_id"):
                setattr(order, key, int(value))
            elif key == "needs_processing":
                order.needs_processing = bool(value)
            elif key == "date_paid":
                order.date_paid = None if value is None else _coerce_time(value)
            elif key == "date_created":
                continue  # handled by create_order
            elif key == "payment_method":
                order.payment_method = str(value)
                if "payment_method_title" not in fields:
                    order.payment_method_title = _gateway_title(order.payment_method)
            else:
                setattr(order, key, str(value))

    def _make_item(self, kind: str, raw: dict[str, Any]) -> dict[str, Any]:
        item_id = self._next_item_id
        self._next_item_id += 1
        total = _to_decimal(raw.get("total", raw.get("subtotal", "0")))
        taxes: list[Any] = []
        if kind == "fee_lines":
            return {
                "id": item_id,
                "name": str(raw.get("name", "Fee")),
                "tax_class": "",
                "tax_status": "taxable",
                "amount": "",
                "total": _money(total),
                "total_tax": "0.00",
                "taxes": taxes,
                "meta_data": [],
            }
        if kind == "shipping_lines":
            return {
                "id": item_id,
                "method_title": str(raw.get("method_title", "Flat rate")),
                "method_id": str(raw.get("method_id", "flat_rate")),
                "instance_id": str(raw.get("instance_id", "")),
                "total": _money(total),
                "total_tax": "0.00",
                "taxes": taxes,
                "meta_data": [],
            }
        quantity = int(raw.get("quantity", 1))
        product_id = int(raw.get("product_id", 0))
        subtotal = _to_decimal(raw.get("subtotal", total))
        return {
            "id": item_id,
            "name": str(raw.get("name") or f"Product #{product_id}"),
            "product_id": product_id,
            "variation_id": int(raw.get("variation_id", 0)),
            "quantity": quantity,
            "tax_class": "",
            "subtotal": _money(subtotal),
            "subtotal_tax": "0.00",
            "total": _money(total),
            "total_tax": "0.00",
            "taxes": taxes,
            "meta_data": [],
            "sku": str(raw.get("sku", "")),
            "price": float(total / max(quantity, 1)),
            "image": {"id": "", "src": ""},
            "parent_name": None,
        }

    def _update_meta(self, order: _Order, key: str, value: Any, meta_id: Any = None) -> None:
        """`WC_Data::update_meta_data()` + `save_meta_data()`: by id, else first entry with key."""
        meta = order.meta_data
        index: int | None = None
        if meta_id:
            index = next((i for i, m in enumerate(meta) if m["id"] == meta_id), None)
        else:
            matches = [i for i, m in enumerate(meta) if m["key"] == key]
            if matches:
                index = matches[0]
                for i in matches[1:]:
                    meta[i]["value"] = None  # duplicates are deleted on save
        if index is not None:
            meta[index]["key"] = key
            meta[index]["value"] = copy.deepcopy(value)
        elif value is not None:
            meta.append({"id": self._next_meta_id, "key": key, "value": copy.deepcopy(value)})
            self._next_meta_id += 1
        order.meta_data = [m for m in meta if m["value"] is not None]

    def _add_note(self, order: _Order, text: str, *, customer: bool, by_user: bool) -> _Note:
        note = _Note(
            id=self._next_note_id,
            note=text,
            customer_note=customer,
            author=_API_USER if by_user else "system",
            date_created=int(time.time()),
        )
        self._next_note_id += 1
        order.notes.append(note)
        return note

    def _set_status(self, order: _Order, new_status: str, *, manual: bool) -> None:
        """`WC_Order::set_status()` + `status_transition()`: dates and the transition note (ORD)."""
        old = order.status
        if new_status == old:
            return
        order.status = new_status
        now = int(time.time())
        paid_status = "processing" if order.needs_processing else "completed"
        if order.date_paid is None and (
            new_status == paid_status or (paid_status == "processing" and new_status == "completed")
        ):
            order.date_paid = now  # maybe_set_date_paid()
        if new_status == "completed":
            order.date_completed = now  # maybe_set_date_completed()
        label_from = _STATUS_LABELS.get(old, old)
        label_to = _STATUS_LABELS.get(new_status, new_status)
        text = f"Order status changed from {label_from} to {label_to}."
        self._add_note(order, text, customer=False, by_user=manual)

    def _save(self, order: _Order) -> None:
        """`$order->save()` of an existing order: bump date_modified, fire the update hook, §1.4."""
        order.date_modified = int(time.time())
        previous, order.saved_status = order.saved_status, order.status
        if order.status != previous and previous in _WEBHOOK_SKIP_STATUSES:
            self._fire("created", order.id)
        else:
            self._fire("updated", order.id)

    def _needs_payment(self, order: _Order) -> bool:
        return order.status in _NEEDS_PAYMENT_STATUSES and order.total > 0

    def _payment_complete(self, order: _Order, transaction_id: str) -> None:
        """`WC_Order::payment_complete()` (§2.2, ORD)."""
        if order.status not in _PAYMENT_COMPLETE_STATUSES:
            return
        if transaction_id:
            order.transaction_id = transaction_id
        if order.date_paid is None:
            order.date_paid = int(time.time())
        self._set_status(
            order, "processing" if order.needs_processing else "completed", manual=False
        )
        self._save(order)

    def _trash(self, order: _Order) -> None:
        order.status = "trash"
        order.saved_status = "trash"
        order.date_modified = int(time.time())
        self._fire("deleted", order.id)

    def _recalculate(self, order: _Order) -> None:
        """`calculate_totals()` without taxes/discounts: the sum of the line totals."""
        lines = [*order.line_items, *order.fee_lines, *order.shipping_lines]
        order.total = sum((_to_decimal(line["total"]) for line in lines), Decimal("0"))

    def _order_json(self, order: _Order) -> dict[str, Any]:
        """The order's REST v3 JSON, key for key like the real 7.4.1 delivery sample (§2.1)."""
        base = self.base_url
        shipping_total = sum(
            (_to_decimal(line["total"]) for line in order.shipping_lines), Decimal("0")
        )
        links: dict[str, Any] = {
            "self": [{"href": f"{base}/wp-json/wc/v3/orders/{order.id}"}],
            "collection": [{"href": f"{base}/wp-json/wc/v3/orders"}],
        }
        if order.customer_id:
            links["customer"] = [{"href": f"{base}/wp-json/wc/v3/customers/{order.customer_id}"}]
        data: dict[str, Any] = {
            "id": order.id,
            "parent_id": order.parent_id,
            "status": order.status,
            "currency": order.currency,
            "version": WC_VERSION,
            "prices_include_tax": False,
            "date_created": _fmt_date(order.date_created),
            "date_modified": _fmt_date(order.date_modified),
            "discount_total": "0.00",
            "discount_tax": "0.00",
            "shipping_total": _money(shipping_total),
            "shipping_tax": "0.00",
            "cart_tax": "0.00",
            "total": _money(order.total),
            "total_tax": "0.00",
            "customer_id": order.customer_id,
            "order_key": order.order_key,
            "billing": {k: order.billing.get(k, "") for k in _BILLING_KEYS},
            "shipping": {k: order.shipping.get(k, "") for k in _SHIPPING_KEYS},
            "payment_method": order.payment_method,
            "payment_method_title": order.payment_method_title,
            "transaction_id": order.transaction_id,
            "customer_ip_address": order.customer_ip_address,
            "customer_user_agent": order.customer_user_agent,
            "created_via": order.created_via,
            "customer_note": order.customer_note,
            "date_completed": _fmt_date(order.date_completed),
            "date_paid": _fmt_date(order.date_paid),
            "cart_hash": "",
            "number": str(order.id),
            "meta_data": order.meta_data,
            "line_items": order.line_items,
            "tax_lines": [],
            "shipping_lines": order.shipping_lines,
            "fee_lines": order.fee_lines,
            "coupon_lines": [],
            "refunds": [self._refund_json(r) for r in order.refunds],
            "payment_url": (
                f"{base}/checkout/order-pay/{order.id}/?pay_for_order=true&key={order.order_key}"
            ),
            "is_editable": order.status in _EDITABLE_STATUSES,
            "needs_payment": self._needs_payment(order),
            "needs_processing": order.needs_processing,
            "date_created_gmt": _fmt_date(order.date_created),
            "date_modified_gmt": _fmt_date(order.date_modified),
            "date_completed_gmt": _fmt_date(order.date_completed),
            "date_paid_gmt": _fmt_date(order.date_paid),
            "currency_symbol": _CURRENCY_SYMBOLS.get(order.currency, ""),
            "_links": links,
        }
        return copy.deepcopy(data)

    def _note_json(self, order: _Order, note: _Note) -> dict[str, Any]:
        base = f"{self.base_url}/wp-json/wc/v3/orders/{order.id}"
        return {
            "id": note.id,
            "author": note.author,
            "date_created": _fmt_date(note.date_created),
            "date_created_gmt": _fmt_date(note.date_created),
            "note": note.note,
            "customer_note": note.customer_note,
            "_links": {
                "self": [{"href": f"{base}/notes/{note.id}"}],
                "collection": [{"href": f"{base}/notes"}],
                "up": [{"href": base}],
            },
        }

    # ---------------------------------------------------------------- webhooks (caller locks)

    def _new_webhook(
        self, topic: str, delivery_url: str, secret: str, status: str, name: str
    ) -> _Webhook:
        now = int(time.time())
        if not name:
            stamp = datetime.fromtimestamp(now, UTC).strftime("%b %d, %Y @ %I:%M %p")
            name = f"Webhook created on {stamp}"
        webhook = _Webhook(
            id=self._next_webhook_id,
            name=name,
            topic=topic,
            delivery_url=delivery_url,
            secret=secret,
            status=status,
            date_created=now,
        )
        self._next_webhook_id += 1
        self._webhooks[webhook.id] = webhook
        return webhook

    def _webhook_json(self, webhook: _Webhook) -> dict[str, Any]:
        resource, _, event = webhook.topic.partition(".")
        base = f"{self.base_url}/wp-json/wc/v3/webhooks"
        return {
            "id": webhook.id,
            "name": webhook.name,
            "status": webhook.status,
            "topic": webhook.topic,
            "resource": resource,
            "event": event,
            "hooks": list(_TOPIC_HOOKS.get(webhook.topic, [])),
            "delivery_url": webhook.delivery_url,
            "date_created": _fmt_date(webhook.date_created),
            "date_created_gmt": _fmt_date(webhook.date_created),
            "date_modified": _fmt_date(webhook.date_modified),
            "date_modified_gmt": _fmt_date(webhook.date_modified),
            "_links": {
                "self": [{"href": f"{base}/{webhook.id}"}],
                "collection": [{"href": base}],
            },
        }

    def _fire(self, event: str, order_id: int) -> None:
        """Run `WC_Webhook::process()` for every webhook on `order.<event>` (§1.4, §1.5)."""
        order = self._orders.get(order_id)
        if order is None or order.status in _WEBHOOK_SKIP_STATUSES:
            return
        due = time.monotonic() + self.webhook_delay
        for webhook in self._webhooks.values():
            if webhook.topic != f"order.{event}" or webhook.status != "active":
                continue
            # Action Scheduler de-dup: no second pending action with the same args (§1.5).
            self._queue.setdefault((webhook.id, order_id), due)
        self._cond.notify_all()

    def _worker_loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if self._queue and not self._paused:
                        wait = min(self._queue.values()) - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            try:
                self._send_queued(only_due=True)
            except Exception:  # keep the "cron" alive whatever happens
                logger.exception("woostore: webhook delivery failed")

    def _send_queued(self, *, only_due: bool) -> None:
        with self._send_lock:
            with self._lock:
                if only_due and (self._paused or self._stopping):
                    return
                now = time.monotonic()
                batch = sorted(
                    (due, key) for key, due in self._queue.items() if not only_due or due <= now
                )
                for _, key in batch:
                    del self._queue[key]
            for _, (webhook_id, order_id) in batch:
                self._deliver(webhook_id, order_id)

    def _deliver(self, webhook_id: int, order_id: int) -> None:
        """`WC_Webhook::deliver()` + `log_delivery()` (§1.1, §1.2, §1.6)."""
        with self._lock:
            webhook = self._webhooks.get(webhook_id)
            if webhook is None:
                return
            resource, _, event = webhook.topic.partition(".")
            payload: Any
            order = self._orders.get(order_id)
            if event == "deleted":
                payload = {"id": order_id}
            elif order is not None:
                payload = self._order_json(order)  # built now, not when the event happened
            else:
                payload = _RestError(
                    404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."
                ).body()
            body = wp_json_encode(payload)
            delivery_id = hmac.new(
                self._salt, f"{webhook.id}{int(time.time())}".encode(), hashlib.md5
            ).hexdigest()  # wp_hash( id . strtotime('now') )
            url = webhook.delivery_url
            headers = {
                "User-Agent": HOOKSHOT_USER_AGENT,
                "Accept": "*/*",
                "Accept-Encoding": "deflate, gzip, br, zstd",
                "Referer": url,
                "Connection": "close",
                "Content-Type": "application/json",
                "X-WC-Webhook-Source": self.base_url + "/",
                "X-WC-Webhook-Topic": webhook.topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": webhook_signature(webhook.secret, body),
                "X-WC-Webhook-ID": str(webhook.id),
                "X-WC-Webhook-Delivery-ID": delivery_id,
            }
        status_code, error = self._post(url, body, headers, _DELIVERY_TIMEOUT, redirects=False)
        ping_again = False
        with self._lock:
            self.deliveries.append(
                {
                    "webhook_id": webhook_id,
                    "topic": webhook.topic,
                    "order_id": order_id,
                    "status_code": status_code,
                    "error": error,
                    "body": body,
                    "headers": headers,
                }
            )
            current = self._webhooks.get(webhook_id)
            if current is not None:
                if status_code is not None and 200 <= status_code < 303:
                    current.failure_count = 0
                elif current.failure_count > _MAX_DELIVERY_FAILURES:
                    current.status = "disabled"
                else:
                    current.failure_count += 1
                current.date_modified = int(time.time())  # $this->save() -> WDS update()
                ping_again = current.status == "active" and current.pending_delivery
        if ping_again:
            self._ping(webhook_id)

    def _ping(self, webhook_id: int) -> None:
        """`WC_Webhook::deliver_ping()` (§1.3): only an exact 200 clears `pending_delivery`."""
        with self._lock:
            webhook = self._webhooks[webhook_id]
            url = webhook.delivery_url
        body = f"webhook_id={webhook_id}".encode()
        headers = {
            "User-Agent": HOOKSHOT_USER_AGENT,
            "Accept": "*/*",
            "Accept-Encoding": "deflate, gzip, br, zstd",
            "Referer": url,
            "Connection": "close",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        status_code, error = self._post(url, body, headers, _PING_TIMEOUT, redirects=True)
        with self._lock:
            self.pings.append(
                {
                    "webhook_id": webhook_id,
                    "status_code": status_code,
                    "error": error,
                    "body": body,
                    "headers": headers,
                }
            )
            if status_code == 200 and webhook_id in self._webhooks:
                current = self._webhooks[webhook_id]
                current.pending_delivery = False
                current.date_modified = int(time.time())

    @staticmethod
    def _post(
        url: str, body: bytes, headers: dict[str, str], timeout: float, *, redirects: bool
    ) -> tuple[int | None, str | None]:
        try:
            with requests.Session() as session:
                response = session.post(
                    url, data=body, headers=headers, timeout=timeout, allow_redirects=redirects
                )
                response.close()
                return response.status_code, None
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"

    # ---------------------------------------------------------------- HTTP front door

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._handle(request)
        except Exception:
            logger.exception("woostore: internal error")
            response = self._json(
                500, _RestError(500, "internal_server_error", "Internal error.").body()
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
        get = _php_parse_str(query_string)
        body = request.get_data(cache=True)
        content_type = request.headers.get("Content-Type", "").lower()
        is_form = "application/x-www-form-urlencoded" in content_type
        is_json = "application/json" in content_type or "+json" in content_type
        form = _php_parse_str(body.decode("utf-8", "replace")) if is_form else {}
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
            "auth": self._presented_auth(request, get),
            "status": 0,
        }

        def finish(response: Response) -> Response:
            record["status"] = response.status_code
            with self._lock:
                self.requests.append(record)
            return response

        path = unquote(raw_path)
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
            authed, error = self._authenticate(method, raw_path, get, post, request)
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
                error = _RestError(
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
            ctx = _Ctx(method, match.groupdict(), params, authed, query_pairs)
            allow = ", ".join(sorted(handlers, key=["GET", "POST", "PUT", "PATCH", "DELETE"].index))
            try:
                status, payload, headers = handler(ctx)
            except _RestError as exc:
                return finish(self._json(exc.status, exc.body(), [("Allow", allow)]))
            return finish(self._json(status, payload, [*headers, ("Allow", allow)]))
        error = _RestError(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )
        return finish(self._json(404, error.body()))

    @staticmethod
    def _presented_auth(request: Request, get: dict[str, _PhpValue]) -> str | None:
        header = request.headers.get("Authorization", "").strip()
        if header.startswith("OAuth ") or any(k.startswith("oauth_") for k in get):
            return "oauth1"
        if "consumer_key" in get:
            return "query"
        if header.lower().startswith("basic "):
            return "basic"
        return None

    def _authenticate(
        self,
        method: str,
        raw_path: str,
        get: dict[str, _PhpValue],
        post: dict[str, _PhpValue],
        request: Request,
    ) -> tuple[bool, _RestError | None]:
        """`WC_REST_Authentication::authenticate()` (§2.4): Basic only over HTTPS, then OAuth."""
        error: _RestError | None = None
        if self.is_ssl:  # perform_basic_authentication()
            key = secret = ""
            query_key, query_secret = get.get("consumer_key"), get.get("consumer_secret")
            if not _php_empty(query_key) and not _php_empty(query_secret):
                key, secret = str(query_key), str(query_secret)
            basic = request.authorization
            if not key and basic is not None and basic.type == "basic":
                key, secret = basic.username or "", basic.password or ""
            if key and secret and key == self.consumer_key:
                if hmac.compare_digest(secret.encode(), self.consumer_secret.encode()):
                    return True, None
                error = self._auth_error("Consumer secret is invalid.")

        # perform_oauth_authentication() / get_oauth_parameters()
        params: dict[str, _PhpValue] = {**get, **post}
        header = request.headers.get("Authorization", "").strip()
        if header.startswith("OAuth "):
            for m in _OAUTH_HEADER_RE.finditer(header):
                quoted, bare = m.group(3) or "", m.group(4) or ""
                params[m.group(1)] = unquote_plus(bare if _php_empty(quoted) else quoted)
        missing = [name for name in _OAUTH_PARAMS if _php_empty(params.get(name))]
        if len(missing) == len(_OAUTH_PARAMS):
            return False, error
        if missing:
            word = "parameter" if len(missing) == 1 else "parameters"
            message = f"Missing OAuth {word} {', '.join(missing)}"
            return False, _RestError(
                401, "woocommerce_rest_authentication_missing_parameter", message
            )
        if params["oauth_consumer_key"] != self.consumer_key:
            return False, self._auth_error("Consumer key is invalid.")

        # check_oauth_signature()
        signature = params.pop("oauth_signature")
        if not isinstance(signature, str):
            return False, self._auth_error("Invalid signature - provided signature does not match.")
        consumer_signature = unquote(signature.replace(" ", "+"))
        ordered = dict(sorted(params.items(), key=lambda kv: kv[0].encode("utf-8")))
        normalized = {_rfc3986(k): _encode_values(v) for k, v in ordered.items()}
        scheme = "https" if self.is_ssl else "http"
        home = scheme + self.base_url[self.base_url.index(":") :]
        # get_home_url( null, $request_path ): the path minus the home path "/", no slash if empty
        request_path = raw_path[1:] if raw_path.startswith("/") else raw_path
        base_uri = _rfc3986(home + ("/" + request_path.lstrip("/") if request_path else ""))
        string_to_sign = f"{method}&{base_uri}&" + "%26".join(_join_with_equals(normalized))
        signature_method = normalized.get("oauth_signature_method")
        if signature_method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return False, self._auth_error("Invalid signature - signature method is invalid.")
        digestmod = hashlib.sha1 if signature_method == "HMAC-SHA1" else hashlib.sha256
        key_bytes = (self.consumer_secret + "&").encode("utf-8")
        expected = base64.b64encode(
            hmac.new(key_bytes, string_to_sign.encode("utf-8"), digestmod).digest()
        ).decode("ascii")
        if not hmac.compare_digest(expected.encode(), consumer_signature.encode()):
            return False, self._auth_error("Invalid signature - provided signature does not match.")

        # check_oauth_timestamp_and_nonce()
        timestamp, nonce = params["oauth_timestamp"], params["oauth_nonce"]
        now = time.time()
        if (
            not isinstance(timestamp, str)
            or not _NUMERIC_RE.match(timestamp)
            or not now - _OAUTH_WINDOW <= float(timestamp) <= now + _OAUTH_WINDOW
        ):
            return False, self._auth_error("Invalid timestamp.")
        with self._lock:
            if nonce in self._nonces.values():
                return False, self._auth_error("Invalid nonce - nonce has already been used.")
            stamp: int | str = (
                int(timestamp) if re.fullmatch(r"-?[1-9]\d*|0", timestamp) else timestamp
            )
            self._nonces[stamp] = str(nonce)  # keyed by timestamp, as in the PHP code
            for old in [k for k in self._nonces if isinstance(k, int) and k < now - _OAUTH_WINDOW]:
                del self._nonces[old]
        return True, None

    @staticmethod
    def _auth_error(message: str) -> _RestError:
        return _RestError(401, "woocommerce_rest_authentication_error", message)

    # ---------------------------------------------------------------- REST handlers

    @staticmethod
    def _denied(code: str, message: str) -> _RestError:
        return _RestError(401, code, message)

    def _h_orders(self, ctx: _Ctx) -> _Result:
        """GET /orders (§2.5; CRUD `get_items()`, OC `prepare_objects_query()`)."""
        args = _Args(ctx.params)
        per_page = args.integer("per_page", 10, 1, 100)
        page = args.integer("page", 1, 1)
        offset = args.integer("offset")
        statuses = args.enum_list("status", _LIST_STATUS_ENUM, ["any"])
        orderby = args.enum("orderby", _ORDERBY_ENUM, "date")
        order_dir = args.enum("order", _ORDER_ENUM, "desc")
        after, before = args.date("after"), args.date("before")
        modified_after, modified_before = args.date("modified_after"), args.date("modified_before")
        args.boolean("dates_are_gmt", False)  # site time zone is UTC: local == GMT
        include, exclude = args.int_list("include"), args.int_list("exclude")
        customer = args.integer("customer")
        args.check()
        if not ctx.authed:
            raise self._denied("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        assert per_page is not None and page is not None
        with self._lock:
            orders = list(self._orders.values())
            if "any" in statuses:
                orders = [o for o in orders if o.status != "trash"]
            else:
                orders = [o for o in orders if o.status in statuses]
            if include:
                orders = [o for o in orders if o.id in include]
            orders = [o for o in orders if o.id not in exclude]
            if customer is not None:
                orders = [o for o in orders if o.customer_id == customer]
            # WP_Date_Query after/before are exclusive, at one-second resolution.
            if after is not None:
                orders = [o for o in orders if o.date_created > after]
            if before is not None:
                orders = [o for o in orders if o.date_created < before]
            if modified_after is not None:
                orders = [o for o in orders if o.date_modified > modified_after]
            if modified_before is not None:
                orders = [o for o in orders if o.date_modified < modified_before]
            reverse = order_dir == "desc"
            if orderby == "id":
                orders.sort(key=lambda o: o.id, reverse=reverse)
            elif orderby == "include" and include:
                orders.sort(key=lambda o: include.index(o.id), reverse=reverse)
            elif orderby == "modified":
                orders.sort(key=lambda o: (o.date_modified, o.id), reverse=reverse)
            else:  # date, title, slug (an order's title is its creation date)
                orders.sort(key=lambda o: (o.date_created, o.id), reverse=reverse)
            total = len(orders)
            start = offset if offset is not None else (page - 1) * per_page
            selected = orders[start : start + per_page]
            payload = [self._order_json(o) for o in selected]
        pages = math.ceil(total / per_page)
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
        base_pairs = [(k, v) for k, v in ctx.query if k != "page"]
        base = f"{self.base_url}/wp-json/wc/v3/orders"
        links: list[str] = []
        if page > 1:
            prev_qs = urlencode([*base_pairs, ("page", str(min(page - 1, pages)))])
            links.append(f'<{base}?{prev_qs}>; rel="prev"')
        if pages > page:
            links.append(
                f'<{base}?{urlencode([*base_pairs, ("page", str(page + 1))])}>; rel="next"'
            )
        headers.extend(("Link", link) for link in links)
        return 200, payload, headers

    def _find_order(self, ctx: _Ctx, key: str = "id") -> _Order | None:
        return self._orders.get(int(ctx.route[key]))

    def _h_order(self, ctx: _Ctx) -> _Result:
        """GET /orders/<id>: 404 `woocommerce_rest_shop_order_invalid_id` when unknown (§2.5)."""
        with self._lock:
            order = self._find_order(ctx)
            if order is not None and not ctx.authed:
                raise self._denied(
                    "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."
                )
            if order is None:
                raise _RestError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            return 200, self._order_json(order), []

    def _validate_order_body(self, ctx: _Ctx, *, creating: bool) -> _Args:
        """Check the writable order props against the REST schema (OC `get_item_schema()`)."""
        args = _Args(ctx.params)
        args.enum("status", ORDER_STATUSES)  # "trash" is not in the enum (OC)
        for name in ("currency", "customer_note", "payment_method", "payment_method_title"):
            args.string(name)
        args.string("transaction_id")
        args.string("created_via")
        args.integer("parent_id")
        args.integer("customer_id")
        args.boolean("set_paid", False)
        args.boolean("manual_update", False)
        for name, keys in (("billing", _BILLING_KEYS), ("shipping", _SHIPPING_KEYS)):
            value = ctx.params.get(name)
            if value is None:
                continue
            if not isinstance(value, dict):
                args.fail(name, "rest_invalid_type", f"{name} is not of type object.")
                continue
            for key in keys:
                sub = value.get(key)
                if sub is not None and not isinstance(sub, str):
                    message = f"{name}[{key}] is not of type string."
                    args.fail(name, "rest_invalid_type", message)
            email = value.get("email")
            if (
                name == "billing"
                and isinstance(email, str)
                and email
                and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email)
            ):
                args.fail(name, "rest_invalid_email", "Invalid email address.")
        for name in ("meta_data", "line_items", "fee_lines", "shipping_lines"):
            value = ctx.params.get(name)
            if value is None:
                continue
            if not isinstance(value, list) and not (
                name != "meta_data" and isinstance(value, dict)
            ):
                args.fail(name, "rest_invalid_type", f"{name} is not of type array.")
                continue
            items = value if isinstance(value, list) else list(value.values())
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    args.fail(name, "rest_invalid_type", f"{name}[{index}] is not of type object.")
                elif name == "meta_data" and not isinstance(item.get("key", ""), str):
                    message = f"{name}[{index}][key] is not of type string."
                    args.fail(name, "rest_invalid_type", message)
        args.check()
        return args

    def _apply_rest_props(self, order: _Order, params: dict[str, Any], *, creating: bool) -> None:
        """`prepare_object_for_database()` (§2.2): writable props only, status left for later."""
        for key in ("billing", "shipping"):
            if isinstance(params.get(key), dict):
                address = order.billing if key == "billing" else order.shipping
                keys = _BILLING_KEYS if key == "billing" else _SHIPPING_KEYS
                for sub, value in params[key].items():
                    if sub in keys and value is not None:
                        address[sub] = str(value)
        for key in (
            "currency",
            "customer_note",
            "payment_method",
            "payment_method_title",
            "transaction_id",
        ):
            if isinstance(params.get(key), str):
                setattr(order, key, params[key])
        if creating and isinstance(params.get("created_via"), str) and params["created_via"]:
            order.created_via = params["created_via"]
        for key in ("parent_id", "customer_id"):
            if params.get(key) is not None:
                setattr(order, key, int(float(params[key])))
        for meta in params.get("meta_data") or []:
            if isinstance(meta, dict) and isinstance(meta.get("key"), str):
                self._update_meta(order, meta["key"], meta.get("value"), meta.get("id"))
        for kind in ("line_items", "fee_lines", "shipping_lines"):
            value = params.get(kind)
            if value is None:
                continue
            items: list[dict[str, Any]] = getattr(order, kind)
            for raw in value if isinstance(value, list) else list(value.values()):
                self._set_rest_item(items, kind, raw)

    def _set_rest_item(self, items: list[dict[str, Any]], kind: str, raw: dict[str, Any]) -> None:
        """Create, update or (quantity 0 / all-null) remove one order item (OC `set_item()`)."""
        item_id = raw.get("id")
        existing = next((i for i in items if item_id and i["id"] == item_id), None)
        if item_id and existing is None:
            raise _RestError(
                400,
                "woocommerce_rest_invalid_item_id",
                "Order item ID provided is not associated with order.",
            )
        removing = raw.get("quantity") == 0 or all(v is None for k, v in raw.items() if k != "id")
        if existing is not None and removing:
            items.remove(existing)
            return
        if (
            kind == "line_items"
            and existing is None
            and not raw.get("product_id")
            and not raw.get("sku")
        ):
            raise _RestError(
                400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required."
            )
        if existing is not None:
            merged = {**existing, **{k: v for k, v in raw.items() if v is not None}}
            if "total" not in raw and "quantity" in raw and kind == "line_items":
                unit = _to_decimal(existing["total"]) / max(int(existing["quantity"]), 1)
                merged["total"] = unit * int(raw["quantity"])
                merged["subtotal"] = merged["total"]
            fresh = self._make_item(kind, merged)
            self._next_item_id -= 1
            fresh["id"] = existing["id"]
            items[items.index(existing)] = fresh
        else:
            items.append(self._make_item(kind, raw))

    def _h_create(self, ctx: _Ctx) -> _Result:
        """POST /orders: create (fires order.created, then order.updated from the second save)."""
        args = self._validate_order_body(ctx, creating=True)
        if args.present("id"):
            raise _RestError(
                400, "woocommerce_rest_shop_order_exists", "Cannot create existing shop_order."
            )
        if not ctx.authed:
            raise self._denied(
                "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."
            )
        params = ctx.params
        with self._lock:
            payment_method = params.get("payment_method")
            order = self._new_order(
                currency=params.get("currency") or "USD",
                payment_method=payment_method if isinstance(payment_method, str) else "",
                created_via="rest-api",
                email="",
            )
            order.payment_method_title = ""
            self._apply_rest_props(order, params, creating=True)
            self._orders[order.id] = order
            self._fire("created", order.id)  # $object->save() creates it
            self._recalculate(order)
            self._save(order)  # calculate_totals() saves
            status = params.get("status") or "pending"
            manual = args.boolean("manual_update", False) or False
            self._set_status(order, status, manual=manual)
            self._save(order)
            if args.boolean("set_paid", False):
                transaction_id = params.get("transaction_id")
                self._payment_complete(
                    order, transaction_id if isinstance(transaction_id, str) else ""
                )
            location = f"{self.base_url}/wp-json/wc/v3/orders/{order.id}"
            return 201, self._order_json(order), [("Location", location)]

    def _h_update(self, ctx: _Ctx) -> _Result:
        """PUT/POST/PATCH /orders/<id> (§2.2; OC `save_object()`)."""
        args = self._validate_order_body(ctx, creating=False)
        params = ctx.params
        with self._lock:
            order = self._find_order(ctx)
            if order is not None and not ctx.authed:
                raise self._denied(
                    "woocommerce_rest_cannot_edit",
                    "Sorry, you are not allowed to edit this resource.",
                )
            if order is None:  # WC_REST_CRUD_Controller::update_item() answers 400 here
                raise _RestError(400, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            snapshot = copy.deepcopy(order.__dict__)
            try:
                self._apply_rest_props(order, params, creating=False)
            except _RestError:
                order.__dict__.update(snapshot)  # nothing is saved when preparing fails
                raise
            if any(
                params.get(k) is not None
                for k in ("billing", "shipping", "line_items", "shipping_lines", "fee_lines")
            ):
                if any(
                    params.get(k) is not None for k in ("line_items", "shipping_lines", "fee_lines")
                ):
                    self._recalculate(order)
                self._save(order)  # calculate_totals( true ) saves
            status = params.get("status")
            if status:
                self._set_status(
                    order, status, manual=args.boolean("manual_update", False) or False
                )
            self._save(order)
            if args.boolean("set_paid", False) and self._needs_payment(order):
                transaction_id = params.get("transaction_id")
                self._payment_complete(
                    order, transaction_id if isinstance(transaction_id, str) else ""
                )
            return 200, self._order_json(order), []

    def _h_delete(self, ctx: _Ctx) -> _Result:
        """DELETE /orders/<id>: move to trash (fires order.deleted) or `force=true` delete."""
        args = _Args(ctx.params)
        force = args.boolean("force", False)
        args.check()
        with self._lock:
            order = self._find_order(ctx)
            if order is not None and not ctx.authed:
                raise self._denied(
                    "woocommerce_rest_cannot_delete",
                    "Sorry, you are not allowed to delete this resource.",
                )
            if order is None:
                raise _RestError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            previous = self._order_json(order)
            if force:  # fires no order.* webhook; queued deliveries still run and find no order
                del self._orders[order.id]
                return 200, previous, []
            if order.status == "trash":
                raise _RestError(
                    410,
                    "woocommerce_rest_already_trashed",
                    "The shop_order has already been deleted.",
                )
            self._trash(order)
            return 200, previous, []

    def _h_notes(self, ctx: _Ctx) -> _Result:
        """GET /orders/<id>/notes, newest first (NDOC)."""
        args = _Args(ctx.params)
        note_type = args.enum("type", _NOTE_TYPE_ENUM, "any")
        args.check()
        with self._lock:
            order = self._find_order(ctx, "order_id")
            if order is not None and not ctx.authed:
                raise self._denied(
                    "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."
                )
            if order is None:
                raise _RestError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            notes = [
                n
                for n in order.notes
                if note_type == "any" or n.customer_note == (note_type == "customer")
            ]
            notes.sort(key=lambda n: (n.date_created, n.id), reverse=True)
            return 200, [self._note_json(order, n) for n in notes], []

    def _h_note(self, ctx: _Ctx) -> _Result:
        with self._lock:
            order = self._find_order(ctx, "order_id")
            if order is not None and not ctx.authed:
                raise self._denied(
                    "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."
                )
            if order is None:
                raise _RestError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            note = next((n for n in order.notes if n.id == int(ctx.route["id"])), None)
            if note is None:
                raise _RestError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
            return 200, self._note_json(order, note), []

    def _h_create_note(self, ctx: _Ctx) -> _Result:
        """POST /orders/<id>/notes -> 201; does not save the order, so no order.updated (§2.3)."""
        args = _Args(ctx.params)
        args.require("note")
        text = args.string("note")
        customer = args.boolean("customer_note", False)
        by_user = args.boolean("added_by_user", False)
        args.check()
        if not ctx.authed:
            raise self._denied(
                "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."
            )
        with self._lock:
            order = self._find_order(ctx, "order_id")
            if order is None:
                raise _RestError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            note = self._add_note(order, text or "", customer=bool(customer), by_user=bool(by_user))
            location = f"{self.base_url}/wp-json/wc/v3/orders/{order.id}/notes/{note.id}"
            return 201, self._note_json(order, note), [("Location", location)]

    def _h_webhooks(self, ctx: _Ctx) -> _Result:
        if not ctx.authed:
            raise self._denied("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        with self._lock:
            hooks = sorted(self._webhooks.values(), key=lambda w: w.id, reverse=True)
            return 200, [self._webhook_json(w) for w in hooks], []

    def _h_webhook(self, ctx: _Ctx) -> _Result:
        if not ctx.authed:
            raise self._denied(
                "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."
            )
        with self._lock:
            webhook = self._webhooks.get(int(ctx.route["id"]))
            if webhook is None:
                raise _RestError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
            return 200, self._webhook_json(webhook), []

    def _h_create_webhook(self, ctx: _Ctx) -> _Result:
        """POST /webhooks (§1.7): create, answer 201 - after pinging the delivery URL (§1.3)."""
        args = _Args(ctx.params)
        args.require("topic", "delivery_url")
        name = args.string("name")
        status = args.enum("status", _WEBHOOK_STATUSES, "active")
        topic = args.string("topic")
        delivery_url = args.string("delivery_url")
        secret = args.string("secret")
        args.check()
        if not ctx.authed:
            raise self._denied(
                "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."
            )
        if not topic or not _is_valid_topic(topic):
            raise _RestError(
                400,
                "woocommerce_rest_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            )
        if not delivery_url or not _is_valid_url(delivery_url):
            raise _RestError(
                400,
                "woocommerce_rest_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        with self._lock:
            webhook = self._new_webhook(
                topic,
                delivery_url,
                secret or secrets.token_urlsafe(38),
                status or "active",
                name or "",
            )
            payload = self._webhook_json(webhook)
        self._ping(webhook.id)
        location = f"{self.base_url}/wp-json/wc/v3/webhooks/{webhook.id}"
        return 201, payload, [("Location", location)]

    def _h_update_webhook(self, ctx: _Ctx) -> _Result:
        """PUT /webhooks/<id>; saving an active, pending or re-pointed webhook pings it (WDS)."""
        args = _Args(ctx.params)
        name = args.string("name")
        status = args.enum("status", _WEBHOOK_STATUSES)
        topic = args.string("topic")
        delivery_url = args.string("delivery_url")
        secret = args.string("secret")
        args.check()
        if not ctx.authed:
            raise self._denied(
                "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."
            )
        with self._lock:
            webhook = self._webhooks.get(int(ctx.route["id"]))
            if webhook is None:
                raise _RestError(400, "woocommerce_rest_webhook_invalid_id", "ID is invalid.")
            if topic is not None and not _is_valid_topic(topic):
                raise _RestError(
                    400, "woocommerce_rest_webhook_invalid_topic", "Webhook topic must be valid."
                )
            url_changed = delivery_url is not None and delivery_url != webhook.delivery_url
            if name:
                webhook.name = name
            if status:
                webhook.status = status
            if topic:
                webhook.topic = topic
            if delivery_url:
                webhook.delivery_url = delivery_url
            if secret:
                webhook.secret = secret
            webhook.date_modified = int(time.time())
            ping = webhook.status == "active" and (url_changed or webhook.pending_delivery)
            payload = self._webhook_json(webhook)
        if ping:
            self._ping(webhook.id)
        return 200, payload, []
