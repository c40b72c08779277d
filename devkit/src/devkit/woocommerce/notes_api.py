"""REST routes `/wc/v3/orders/<id>/notes` and `/<note_id>` (NDOC): list, get, create.

Adding a note does not save the order, so it fires no `order.updated`.
"""

from __future__ import annotations

import re
import threading

from devkit.woocommerce.order_json import note_json
from devkit.woocommerce.orders import OrderBook
from devkit.woocommerce.records import Order, Site
from devkit.woocommerce.rest import Args, Ctx, RestError, Result, Route, denied

_NOTE_TYPE_ENUM = ("any", "customer", "internal")


class NotesApi:
    """The order notes routes over the store's order book; handlers take the store's lock."""

    def __init__(self, site: Site, lock: threading.Condition, book: OrderBook) -> None:
        self._site = site
        self._lock = lock
        self._book = book

    def routes(self) -> list[Route]:
        """The routes this API answers, with a handler per HTTP method."""
        return [
            (
                re.compile(r"^/wc/v3/orders/(?P<order_id>\d+)/notes/?$", re.I),
                {"GET": self._h_notes, "POST": self._h_create_note},
            ),
            (
                re.compile(r"^/wc/v3/orders/(?P<order_id>\d+)/notes/(?P<id>\d+)/?$", re.I),
                {"GET": self._h_note},
            ),
        ]

    def _find_order(self, ctx: Ctx) -> Order | None:
        return self._book.orders.get(int(ctx.route["order_id"]))

    def _h_notes(self, ctx: Ctx) -> Result:
        """GET /orders/<id>/notes, newest first (NDOC)."""
        args = Args(ctx.params)
        note_type = args.enum("type", _NOTE_TYPE_ENUM, "any")
        args.check()
        with self._lock:
            order = self._find_order(ctx)
            if order is not None and not ctx.authed:
                raise denied("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
            if order is None:
                raise RestError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            notes = [
                n
                for n in order.notes
                if note_type == "any" or n.customer_note == (note_type == "customer")
            ]
            notes.sort(key=lambda n: (n.date_created, n.id), reverse=True)
            return 200, [note_json(order, n, self._site.base_url) for n in notes], []

    def _h_note(self, ctx: Ctx) -> Result:
        with self._lock:
            order = self._find_order(ctx)
            if order is not None and not ctx.authed:
                raise denied(
                    "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."
                )
            if order is None:
                raise RestError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            note = next((n for n in order.notes if n.id == int(ctx.route["id"])), None)
            if note is None:
                raise RestError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
            return 200, note_json(order, note, self._site.base_url), []

    def _h_create_note(self, ctx: Ctx) -> Result:
        """POST /orders/<id>/notes -> 201; does not save the order, so no order.updated (NDOC)."""
        args = Args(ctx.params)
        args.require("note")
        text = args.string("note")
        customer = args.boolean("customer_note", False)
        by_user = args.boolean("added_by_user", False)
        args.check()
        if not ctx.authed:
            raise denied(
                "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."
            )
        with self._lock:
            order = self._find_order(ctx)
            if order is None:
                raise RestError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
            note = self._book.add_note(
                order, text or "", customer=bool(customer), by_user=bool(by_user)
            )
            location = f"{self._site.base_url}/wp-json/wc/v3/orders/{order.id}/notes/{note.id}"
            return 201, note_json(order, note, self._site.base_url), [("Location", location)]
