"""The store's webhooks (WH `WC_Webhook`, WHF, WDS): registry, queue, deliveries and pings.

Creating a webhook pings its URL (form body `webhook_id=N`; only an exact 200 clears
`pending_delivery`; a webhook still pending is pinged again after every delivery, as WDS
`update()` does). Deliveries are queued per (webhook, order) and coalesced (the Action Scheduler
de-dup of WHF), sent by one background thread `webhook_delay` s later (the WP-Cron stand-in), the
body built at send time as WordPress JSON, with the `X-WC-Webhook-*` headers and a base64
HMAC-SHA256 signature; success = 200..302 with redirects not followed, no retries, `disabled`
on the 7th consecutive failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from devkit.serving import post
from devkit.woocommerce.order_json import order_json
from devkit.woocommerce.orders import WEBHOOK_SKIP_STATUSES, OrderBook
from devkit.woocommerce.records import Site, Webhook
from devkit.woocommerce.rest import RestError
from devkit.woocommerce.wordpress import HOOKSHOT_USER_AGENT, fmt_date, wp_json_encode

logger = logging.getLogger(__name__)

WEBHOOK_STATUSES = ("active", "paused", "disabled")  # WH
_TOPIC_HOOKS: dict[str, list[str]] = {  # WH
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
_MAX_DELIVERY_FAILURES = 5  # woocommerce_max_webhook_delivery_failures, WH
_PING_TIMEOUT = 5.0  # wp_safe_remote_post() default
_DELIVERY_TIMEOUT = 60.0  # MINUTE_IN_SECONDS, WH


def webhook_signature(secret: str, body: bytes) -> str:
    """Return `X-WC-Webhook-Signature` of `body`: base64(HMAC-SHA256(secret utf-8, body)), WH."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid_topic(topic: str) -> bool:
    """`wc_is_webhook_valid_topic()` (WHF)."""
    if topic.startswith("action."):
        hook = topic[len("action.") :]
        return hook.startswith(("woocommerce_", "wc_"))
    resource, _, event = topic.partition(".")
    if topic == "product.published":
        return True
    return resource in _TOPIC_RESOURCES and event in _TOPIC_EVENTS


def is_valid_url(url: str) -> bool:
    return re.match(r"^https?://[^\s/?#]+(?:[/?#]\S*)?$", url, re.IGNORECASE) is not None


def _post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, *, redirects: bool
) -> tuple[int | None, str | None]:
    status_code, exc = post(url, body, headers, timeout, redirects=redirects)
    return status_code, None if exc is None else f"{type(exc).__name__}: {exc}"


class Webhooks:
    """The webhooks by id, the delivery queue and the records of what was sent.

    `deliveries` and `pings` are append-only lists of dicts (see `WooStore`). `cond` is the
    store's condition (its lock guards this state too); `stop()` notifies it.
    """

    def __init__(self, site: Site, cond: threading.Condition, book: OrderBook) -> None:
        self._site = site
        self._lock = self._cond = cond
        self._book = book
        self.webhooks: dict[int, Webhook] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.pings: list[dict[str, Any]] = []
        self._queue: dict[tuple[int, int], float] = {}
        self._paused = False
        self._send_lock = threading.Lock()
        self._next_webhook_id = 1
        self._salt = secrets.token_bytes(32)

    def set_paused(self, paused: bool) -> None:
        """Hold (True) or release (False) queued deliveries."""
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    def flush(self) -> None:
        """Send every queued delivery now, in due order, and return when all were attempted."""
        self._send_queued(only_due=False)

    def new(self, topic: str, delivery_url: str, secret: str, status: str, name: str) -> Webhook:
        now = int(time.time())
        if not name:
            stamp = datetime.fromtimestamp(now, UTC).strftime("%b %d, %Y @ %I:%M %p")
            name = f"Webhook created on {stamp}"
        webhook = Webhook(
            id=self._next_webhook_id,
            name=name,
            topic=topic,
            delivery_url=delivery_url,
            secret=secret,
            status=status,
            date_created=now,
        )
        self._next_webhook_id += 1
        self.webhooks[webhook.id] = webhook
        return webhook

    def to_json(self, webhook: Webhook) -> dict[str, Any]:
        resource, _, event = webhook.topic.partition(".")
        base = f"{self._site.base_url}/wp-json/wc/v3/webhooks"
        return {
            "id": webhook.id,
            "name": webhook.name,
            "status": webhook.status,
            "topic": webhook.topic,
            "resource": resource,
            "event": event,
            "hooks": list(_TOPIC_HOOKS.get(webhook.topic, [])),
            "delivery_url": webhook.delivery_url,
            "date_created": fmt_date(webhook.date_created),
            "date_created_gmt": fmt_date(webhook.date_created),
            "date_modified": fmt_date(webhook.date_modified),
            "date_modified_gmt": fmt_date(webhook.date_modified),
            "_links": {
                "self": [{"href": f"{base}/{webhook.id}"}],
                "collection": [{"href": base}],
            },
        }

    def fire(self, event: str, order_id: int) -> None:
        """Run `WC_Webhook::process()` for every webhook on `order.<event>` (WH, WHF)."""
        order = self._book.orders.get(order_id)
        if order is None or order.status in WEBHOOK_SKIP_STATUSES:
            return
        due = time.monotonic() + self._site.webhook_delay
        for webhook in self.webhooks.values():
            if webhook.topic != f"order.{event}" or webhook.status != "active":
                continue
            # Action Scheduler de-dup: no second pending action with the same args (WHF).
            self._queue.setdefault((webhook.id, order_id), due)
        self._cond.notify_all()

    def run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._site.stopping:
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
                if only_due and (self._paused or self._site.stopping):
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
        """`WC_Webhook::deliver()` + `log_delivery()` (WH)."""
        with self._lock:
            webhook = self.webhooks.get(webhook_id)
            if webhook is None:
                return
            resource, _, event = webhook.topic.partition(".")
            payload: Any
            order = self._book.orders.get(order_id)
            if event == "deleted":
                payload = {"id": order_id}
            elif order is not None:
                payload = order_json(
                    order, self._site.base_url
                )  # built now, not when the event happened
            else:
                payload = RestError(
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
                "X-WC-Webhook-Source": self._site.base_url + "/",
                "X-WC-Webhook-Topic": webhook.topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": webhook_signature(webhook.secret, body),
                "X-WC-Webhook-ID": str(webhook.id),
                "X-WC-Webhook-Delivery-ID": delivery_id,
            }
        status_code, error = _post(url, body, headers, _DELIVERY_TIMEOUT, redirects=False)
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
            current = self.webhooks.get(webhook_id)
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
            self.ping(webhook_id)

    def ping(self, webhook_id: int) -> None:
        """`WC_Webhook::deliver_ping()` (WH): only an exact 200 clears `pending_delivery`."""
        with self._lock:
            webhook = self.webhooks[webhook_id]
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
        status_code, error = _post(url, body, headers, _PING_TIMEOUT, redirects=True)
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
            if status_code == 200 and webhook_id in self.webhooks:
                current = self.webhooks[webhook_id]
                current.pending_delivery = False
                current.date_modified = int(time.time())
