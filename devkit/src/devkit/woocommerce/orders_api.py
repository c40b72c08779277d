"""REST routes `/wc/v3/orders` and `/wc/v3/orders/<id>` (ODOC; OC `WC_REST_Orders_Controller`).

List with `X-WP-Total`/`X-WP-TotalPages`/`Link`; create; get; update by PUT/POST/PATCH (only
writable props are applied and `status` last; `set_paid` runs `payment_complete()` only when the
order needs payment); DELETE to trash, or `force=true` to delete.
"""

from __future__ import annotations

import copy
import math
import re
import threading
from typing import Any
from urllib.parse import urlencode

from devkit.woocommerce.order_json import order_json
from devkit.woocommerce.orders import (
    BILLING_KEYS,
    ORDER_STATUSES,
    SHIPPING_KEYS,
    OrderBook,
    needs_payment,
)
from devkit.woocommerce.records import Order, Site
from devkit.woocommerce.rest import Args, Ctx, RestError, Result, Route, denied
from devkit.woocommerce.wordpress import to_decimal

_LIST_STATUS_ENUM = ("any", "trash", *ORDER_STATUSES)  # collection `status` filter (OC)
_ORDERBY_ENUM = ("date", "id", "include", "title", "slug", "modified")
_ORDER_ENUM = ("asc", "desc")


class OrdersApi:
    """The orders routes over the store's order book; handlers take the store's lock."""

    def __init__(self, site: Site, lock: threading.Condition, book: OrderBook) -> None:
        self._site = site
        self._lock = lock
        self._book = book

    def routes(self) -> list[Route]:
        """The routes this API answers, with a handler per HTTP method."""
        return [
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
        ]

    def _h_orders(self, ctx: Ctx) -> Result:
        """GET /orders (IDOC; CRUD `get_items()`, OC `prepare_objects_query()`)."""
        args = Args(ctx.params)
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
            raise denied("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        assert per_page is not None and page is not None
        with self._lock:
            orders = list(self._book.orders.values())
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
            payload = [order_json(o, self._site.base_url) for o in selected]
        pages = math.ceil(total / per_page)
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
        base_pairs = [(k, v) for k, v in ctx.query if k != "page"]
        base = f"{self._site.base_url}/wp-json/wc/v3/orders"
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

    def _find_order(self, ctx: Ctx, key: str = "id") -> Order | None:
        return self._book.orders.get(int(ctx.route[key]))

    def _h_order(self, ctx: Ctx) -> Result:
        """GET /orders/<id>: 404 `woocommerce_rest_shop_order_invalid_id` when unknown (IDOC)."""
        with self._lock:
            order = self._find_order(ctx)
            if order is not None and not ctx.authed:
                raise denied(
                    "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."
                )
            if order is None:
                raise RestError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            return 200, order_json(order, self._site.base_url), []

    def _validate_order_body(self, ctx: Ctx, *, creating: bool) -> Args:
        """Check the writable order props against the REST schema (OC `get_item_schema()`)."""
        args = Args(ctx.params)
        args.enum("status", ORDER_STATUSES)  # "trash" is not in the enum (OC)
        for name in ("currency", "customer_note", "payment_method", "payment_method_title"):
            args.string(name)
        args.string("transaction_id")
        args.string("created_via")
        args.integer("parent_id")
        args.integer("customer_id")
        args.boolean("set_paid", False)
        args.boolean("manual_update", False)
        for name, keys in (("billing", BILLING_KEYS), ("shipping", SHIPPING_KEYS)):
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

    def _apply_rest_props(self, order: Order, params: dict[str, Any], *, creating: bool) -> None:
        """`prepare_object_for_database()` (OC): writable props only, status left for later."""
        for key in ("billing", "shipping"):
            if isinstance(params.get(key), dict):
                address = order.billing if key == "billing" else order.shipping
                keys = BILLING_KEYS if key == "billing" else SHIPPING_KEYS
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
                self._book.update_meta(order, meta["key"], meta.get("value"), meta.get("id"))
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
            raise RestError(
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
            raise RestError(
                400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required."
            )
        if existing is not None:
            merged = {**existing, **{k: v for k, v in raw.items() if v is not None}}
            if "total" not in raw and "quantity" in raw and kind == "line_items":
                unit = to_decimal(existing["total"]) / max(int(existing["quantity"]), 1)
                merged["total"] = unit * int(raw["quantity"])
                merged["subtotal"] = merged["total"]
            items[items.index(existing)] = self._book.make_item(kind, merged, existing["id"])
        else:
            items.append(self._book.make_item(kind, raw))

    def _h_create(self, ctx: Ctx) -> Result:
        """POST /orders: create (fires order.created, then order.updated from the second save)."""
        args = self._validate_order_body(ctx, creating=True)
        if args.present("id"):
            raise RestError(
                400, "woocommerce_rest_shop_order_exists", "Cannot create existing shop_order."
            )
        if not ctx.authed:
            raise denied(
                "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."
            )
        params = ctx.params
        with self._lock:
            payment_method = params.get("payment_method")
            order = self._book.new_order(
                currency=params.get("currency") or "USD",
                payment_method=payment_method if isinstance(payment_method, str) else "",
                created_via="rest-api",
                email="",
            )
            order.payment_method_title = ""
            self._apply_rest_props(order, params, creating=True)
            self._book.orders[order.id] = order
            self._book.fire("created", order.id)  # $object->save() creates it
            self._book.recalculate(order)
            self._book.save(order)  # calculate_totals() saves
            status = params.get("status") or "pending"
            manual = args.boolean("manual_update", False) or False
            self._book.set_status(order, status, manual=manual)
            self._book.save(order)
            if args.boolean("set_paid", False):
                transaction_id = params.get("transaction_id")
                self._book.payment_complete(
                    order, transaction_id if isinstance(transaction_id, str) else ""
                )
            location = f"{self._site.base_url}/wp-json/wc/v3/orders/{order.id}"
            return 201, order_json(order, self._site.base_url), [("Location", location)]

    def _h_update(self, ctx: Ctx) -> Result:
        """PUT/POST/PATCH /orders/<id> (OC `save_object()`)."""
        args = self._validate_order_body(ctx, creating=False)
        params = ctx.params
        with self._lock:
            order = self._find_order(ctx)
            if order is not None and not ctx.authed:
                raise denied(
                    "woocommerce_rest_cannot_edit",
                    "Sorry, you are not allowed to edit this resource.",
                )
            if order is None:  # WC_REST_CRUD_Controller::update_item() answers 400 here
                raise RestError(400, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            snapshot = copy.deepcopy(order.__dict__)
            try:
                self._apply_rest_props(order, params, creating=False)
            except RestError:
                order.__dict__.update(snapshot)  # nothing is saved when preparing fails
                raise
            if any(
                params.get(k) is not None
                for k in ("billing", "shipping", "line_items", "shipping_lines", "fee_lines")
            ):
                if any(
                    params.get(k) is not None for k in ("line_items", "shipping_lines", "fee_lines")
                ):
                    self._book.recalculate(order)
                self._book.save(order)  # calculate_totals( true ) saves
            status = params.get("status")
            if status:
                self._book.set_status(
                    order, status, manual=args.boolean("manual_update", False) or False
                )
            self._book.save(order)
            if args.boolean("set_paid", False) and needs_payment(order):
                transaction_id = params.get("transaction_id")
                self._book.payment_complete(
                    order, transaction_id if isinstance(transaction_id, str) else ""
                )
            return 200, order_json(order, self._site.base_url), []

    def _h_delete(self, ctx: Ctx) -> Result:
        """DELETE /orders/<id>: move to trash (fires order.deleted) or `force=true` delete."""
        args = Args(ctx.params)
        force = args.boolean("force", False)
        args.check()
        with self._lock:
            order = self._find_order(ctx)
            if order is not None and not ctx.authed:
                raise denied(
                    "woocommerce_rest_cannot_delete",
                    "Sorry, you are not allowed to delete this resource.",
                )
            if order is None:
                raise RestError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            previous = order_json(order, self._site.base_url)
            if force:  # fires no order.* webhook; queued deliveries still run and find no order
                del self._book.orders[order.id]
                return 200, previous, []
            if order.status == "trash":
                raise RestError(
                    410,
                    "woocommerce_rest_already_trashed",
                    "The shop_order has already been deleted.",
                )
            self._book.trash(order)
            return 200, previous, []
