"""The REST v3 JSON of an order, its notes and its refunds, key for key like WooCommerce 7.4.1's.

`base_url` is the site's home URL (the `_links` and `payment_url` start with it).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from devkit.woocommerce.orders import BILLING_KEYS, SHIPPING_KEYS, needs_payment
from devkit.woocommerce.records import Note, Order, Refund
from devkit.woocommerce.wordpress import WC_VERSION, fmt_date, money, to_decimal

_EDITABLE_STATUSES = ("pending", "on-hold", "auto-draft")  # WC_Order::is_editable()
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


def refund_json(refund: Refund) -> dict[str, Any]:
    """The entry of an order's `refunds`: `{id, reason, total}`, total a negative decimal string."""
    return {"id": refund.id, "reason": refund.reason, "total": "-" + money(refund.amount)}


def order_json(order: Order, base_url: str) -> dict[str, Any]:
    """The order's REST v3 JSON, key for key like the real 7.4.1 delivery sample (ODOC)."""
    base = base_url
    shipping_total = sum((to_decimal(line["total"]) for line in order.shipping_lines), Decimal("0"))
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
        "date_created": fmt_date(order.date_created),
        "date_modified": fmt_date(order.date_modified),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": money(shipping_total),
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": money(order.total),
        "total_tax": "0.00",
        "customer_id": order.customer_id,
        "order_key": order.order_key,
        "billing": {k: order.billing.get(k, "") for k in BILLING_KEYS},
        "shipping": {k: order.shipping.get(k, "") for k in SHIPPING_KEYS},
        "payment_method": order.payment_method,
        "payment_method_title": order.payment_method_title,
        "transaction_id": order.transaction_id,
        "customer_ip_address": order.customer_ip_address,
        "customer_user_agent": order.customer_user_agent,
        "created_via": order.created_via,
        "customer_note": order.customer_note,
        "date_completed": fmt_date(order.date_completed),
        "date_paid": fmt_date(order.date_paid),
        "cart_hash": "",
        "number": str(order.id),
        "meta_data": order.meta_data,
        "line_items": order.line_items,
        "tax_lines": [],
        "shipping_lines": order.shipping_lines,
        "fee_lines": order.fee_lines,
        "coupon_lines": [],
        "refunds": [refund_json(r) for r in order.refunds],
        "payment_url": (
            f"{base}/checkout/order-pay/{order.id}/?pay_for_order=true&key={order.order_key}"
        ),
        "is_editable": order.status in _EDITABLE_STATUSES,
        "needs_payment": needs_payment(order),
        "needs_processing": order.needs_processing,
        "date_created_gmt": fmt_date(order.date_created),
        "date_modified_gmt": fmt_date(order.date_modified),
        "date_completed_gmt": fmt_date(order.date_completed),
        "date_paid_gmt": fmt_date(order.date_paid),
        "currency_symbol": _CURRENCY_SYMBOLS.get(order.currency, ""),
        "_links": links,
    }
    return copy.deepcopy(data)


def note_json(order: Order, note: Note, base_url: str) -> dict[str, Any]:
    base = f"{base_url}/wp-json/wc/v3/orders/{order.id}"
    return {
        "id": note.id,
        "author": note.author,
        "date_created": fmt_date(note.date_created),
        "date_created_gmt": fmt_date(note.date_created),
        "note": note.note,
        "customer_note": note.customer_note,
        "_links": {
            "self": [{"href": f"{base}/notes/{note.id}"}],
            "collection": [{"href": f"{base}/notes"}],
            "up": [{"href": base}],
        },
    }
