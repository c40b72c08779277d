"""The store's order book: what `WC_Order` does when an order is placed, edited, paid or refunded.

Status transitions set `date_paid`/`date_completed` and add the "Order status changed from X to
Y." note (ORD `status_transition()`); `meta_data` is updated by key or id; every save bumps
`date_modified` and fires `order.updated` (WH topic hooks). The caller holds the store's lock.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from devkit.woocommerce.records import Note, Order, Refund
from devkit.woocommerce.wordpress import coerce_time, money, to_decimal

# ODOC: the REST enum of order statuses (`get_order_statuses()`; "trash" is not in it, OC).
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
_PAYMENT_COMPLETE_STATUSES = ("on-hold", "pending", "failed", "cancelled")  # ORD
WEBHOOK_SKIP_STATUSES = ("draft", "auto-draft", "new")  # WH is_valid_resource()
_API_USER = "admin"  # display name of the API key's owner (note author when added by a user)
_GATEWAY_TITLES = {
    "bacs": "Direct bank transfer",
    "cheque": "Check payments",
    "cod": "Cash on delivery",
}
BILLING_KEYS = (
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
SHIPPING_KEYS = (*BILLING_KEYS[:9], "phone")
ORDER_FIELDS = frozenset(
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


def _gateway_title(payment_method: str) -> str:
    return _GATEWAY_TITLES.get(payment_method, payment_method)


def needs_payment(order: Order) -> bool:
    """`WC_Order::needs_payment()`: pending or failed, with a total above zero."""
    return order.status in _NEEDS_PAYMENT_STATUSES and order.total > 0


class OrderBook:
    """Orders by id and the id sequences of orders, items, meta entries and notes.

    `fire(event, order_id)` is called for every order event ("created", "updated", "deleted",
    "restored"): the store's webhooks queue their deliveries from it.
    """

    def __init__(self, fire: Callable[[str, int], None]) -> None:
        self.fire = fire
        self.orders: dict[int, Order] = {}
        self._next_order_id = 100
        self._next_item_id = 1
        self._next_meta_id = 1000
        self._next_note_id = 1

    def new_order(
        self, *, currency: str, payment_method: str, created_via: str, email: str
    ) -> Order:
        now = int(time.time())
        order_id = self._next_order_id
        self._next_order_id += 1
        billing = dict.fromkeys(BILLING_KEYS, "")
        billing["email"] = email
        return Order(
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
            shipping=dict.fromkeys(SHIPPING_KEYS, ""),
        )

    def apply_shop_fields(self, order: Order, fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key in ("billing", "shipping"):
                address = order.billing if key == "billing" else order.shipping
                address.update({k: str(v) for k, v in dict(value).items()})
            elif key == "meta_data":
                for meta in value:
                    self.update_meta(order, str(meta["key"]), meta.get("value"), meta.get("id"))
            elif key in ("line_items", "fee_lines", "shipping_lines"):
                setattr(order, key, [self.make_item(key, dict(item)) for item in value])
            elif key in ("customer_id", "parent_id"):
                setattr(order, key, int(value))
            elif key == "needs_processing":
                order.needs_processing = bool(value)
            elif key == "date_paid":
                order.date_paid = None if value is None else coerce_time(value)
            elif key == "date_created":
                continue  # handled by create_order
            elif key == "payment_method":
                order.payment_method = str(value)
                if "payment_method_title" not in fields:
                    order.payment_method_title = _gateway_title(order.payment_method)
            else:
                setattr(order, key, str(value))

    def make_item(
        self, kind: str, raw: dict[str, Any], item_id: int | None = None
    ) -> dict[str, Any]:
        """Build a line/fee/shipping item from `raw`: a new item id, or `item_id` to replace one."""
        if item_id is None:
            item_id = self._next_item_id
            self._next_item_id += 1
        total = to_decimal(raw.get("total", raw.get("subtotal", "0")))
        taxes: list[Any] = []
        if kind == "fee_lines":
            return {
                "id": item_id,
                "name": str(raw.get("name", "Fee")),
                "tax_class": "",
                "tax_status": "taxable",
                "amount": "",
                "total": money(total),
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
                "total": money(total),
                "total_tax": "0.00",
                "taxes": taxes,
                "meta_data": [],
            }
        quantity = int(raw.get("quantity", 1))
        product_id = int(raw.get("product_id", 0))
        subtotal = to_decimal(raw.get("subtotal", total))
        return {
            "id": item_id,
            "name": str(raw.get("name") or f"Product #{product_id}"),
            "product_id": product_id,
            "variation_id": int(raw.get("variation_id", 0)),
            "quantity": quantity,
            "tax_class": "",
            "subtotal": money(subtotal),
            "subtotal_tax": "0.00",
            "total": money(total),
            "total_tax": "0.00",
            "taxes": taxes,
            "meta_data": [],
            "sku": str(raw.get("sku", "")),
            "price": float(total / max(quantity, 1)),
            "image": {"id": "", "src": ""},
            "parent_name": None,
        }

    def update_meta(self, order: Order, key: str, value: Any, meta_id: Any = None) -> None:
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

    def add_note(self, order: Order, text: str, *, customer: bool, by_user: bool) -> Note:
        note = Note(
            id=self._next_note_id,
            note=text,
            customer_note=customer,
            author=_API_USER if by_user else "system",
            date_created=int(time.time()),
        )
        self._next_note_id += 1
        order.notes.append(note)
        return note

    def set_status(self, order: Order, new_status: str, *, manual: bool) -> None:
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
        self.add_note(order, text, customer=False, by_user=manual)

    def save(self, order: Order) -> None:
        """`$order->save()` of an existing order: bump date_modified, fire the update hook, WH."""
        order.date_modified = int(time.time())
        previous, order.saved_status = order.saved_status, order.status
        if order.status != previous and previous in WEBHOOK_SKIP_STATUSES:
            self.fire("created", order.id)
        else:
            self.fire("updated", order.id)

    def payment_complete(self, order: Order, transaction_id: str) -> None:
        """`WC_Order::payment_complete()` (ORD)."""
        if order.status not in _PAYMENT_COMPLETE_STATUSES:
            return
        if transaction_id:
            order.transaction_id = transaction_id
        if order.date_paid is None:
            order.date_paid = int(time.time())
        self.set_status(
            order, "processing" if order.needs_processing else "completed", manual=False
        )
        self.save(order)

    def trash(self, order: Order) -> None:
        order.status = "trash"
        order.saved_status = "trash"
        order.date_modified = int(time.time())
        self.fire("deleted", order.id)

    def recalculate(self, order: Order) -> None:
        """`calculate_totals()` without taxes/discounts: the sum of the line totals."""
        lines = [*order.line_items, *order.fee_lines, *order.shipping_lines]
        order.total = sum((to_decimal(line["total"]) for line in lines), Decimal("0"))

    def refund(self, order: Order, value: Decimal, reason: str) -> Refund:
        """`wc_create_refund()` of wp-admin's manual refund: ValueError for an invalid amount."""
        refunded = sum((r.amount for r in order.refunds), Decimal("0"))
        if value <= 0 or value > order.total - refunded:
            raise ValueError("Invalid refund amount.")
        refund = Refund(self._next_order_id, value, reason, int(time.time()))
        self._next_order_id += 1  # a refund is a post: its id comes from the same sequence
        order.refunds.insert(0, refund)
        if refunded + value == order.total:
            self.set_status(order, "refunded", manual=False)  # wc_order_fully_refunded()
        self.save(order)
        return refund
