"""REST routes `/wc/v3/webhooks` and `/wc/v3/webhooks/<id>` (WDOC): list, get, create, update.

Creating answers 201 after pinging the delivery URL; saving an active webhook that is still
pending or was re-pointed pings it again (WDS).
"""

from __future__ import annotations

import re
import secrets
import threading
import time

from devkit.woocommerce.records import Site
from devkit.woocommerce.rest import Args, Ctx, RestError, Result, Route, denied
from devkit.woocommerce.webhooks import WEBHOOK_STATUSES, Webhooks, is_valid_topic, is_valid_url


class WebhooksApi:
    """The webhooks routes over the store's webhooks; handlers take the store's lock."""

    def __init__(self, site: Site, lock: threading.Condition, hooks: Webhooks) -> None:
        self._site = site
        self._lock = lock
        self._hooks = hooks

    def routes(self) -> list[Route]:
        """The routes this API answers, with a handler per HTTP method."""
        return [
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

    def _h_webhooks(self, ctx: Ctx) -> Result:
        if not ctx.authed:
            raise denied("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        with self._lock:
            hooks = sorted(self._hooks.webhooks.values(), key=lambda w: w.id, reverse=True)
            return 200, [self._hooks.to_json(w) for w in hooks], []

    def _h_webhook(self, ctx: Ctx) -> Result:
        if not ctx.authed:
            raise denied("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        with self._lock:
            webhook = self._hooks.webhooks.get(int(ctx.route["id"]))
            if webhook is None:
                raise RestError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
            return 200, self._hooks.to_json(webhook), []

    def _h_create_webhook(self, ctx: Ctx) -> Result:
        """POST /webhooks (WDOC): create, answer 201 - after pinging the delivery URL (WH)."""
        args = Args(ctx.params)
        args.require("topic", "delivery_url")
        name = args.string("name")
        status = args.enum("status", WEBHOOK_STATUSES, "active")
        topic = args.string("topic")
        delivery_url = args.string("delivery_url")
        secret = args.string("secret")
        args.check()
        if not ctx.authed:
            raise denied(
                "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."
            )
        if not topic or not is_valid_topic(topic):
            raise RestError(
                400,
                "woocommerce_rest_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            )
        if not delivery_url or not is_valid_url(delivery_url):
            raise RestError(
                400,
                "woocommerce_rest_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            )
        with self._lock:
            webhook = self._hooks.new(
                topic,
                delivery_url,
                secret or secrets.token_urlsafe(38),
                status or "active",
                name or "",
            )
            payload = self._hooks.to_json(webhook)
        self._hooks.ping(webhook.id)
        location = f"{self._site.base_url}/wp-json/wc/v3/webhooks/{webhook.id}"
        return 201, payload, [("Location", location)]

    def _h_update_webhook(self, ctx: Ctx) -> Result:
        """PUT /webhooks/<id>; saving an active, pending or re-pointed webhook pings it (WDS)."""
        args = Args(ctx.params)
        name = args.string("name")
        status = args.enum("status", WEBHOOK_STATUSES)
        topic = args.string("topic")
        delivery_url = args.string("delivery_url")
        secret = args.string("secret")
        args.check()
        if not ctx.authed:
            raise denied(
                "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."
            )
        with self._lock:
            webhook = self._hooks.webhooks.get(int(ctx.route["id"]))
            if webhook is None:
                raise RestError(400, "woocommerce_rest_webhook_invalid_id", "ID is invalid.")
            if topic is not None and not is_valid_topic(topic):
                raise RestError(
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
            payload = self._hooks.to_json(webhook)
        if ping:
            self._hooks.ping(webhook.id)
        return 200, payload, []
