"""The emulated store's state: orders (with their notes and refunds), webhooks, injected failures.

Plain dataclasses; amounts are Decimal, dates unix seconds. `Site` is what the store's parts read
about the running store itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


class Site(Protocol):
    """The running store as its parts see it."""

    @property
    def base_url(self) -> str:
        """The site's home URL, "http://127.0.0.1:PORT" (empty until started)."""
        ...

    @property
    def webhook_delay(self) -> float:
        """Seconds between a change and its webhook delivery (the WP-Cron run)."""
        ...

    @property
    def stopping(self) -> bool:
        """True once the store is stopping: the webhook worker returns."""
        ...


@dataclass
class Note:
    id: int
    note: str
    customer_note: bool
    author: str
    date_created: int


@dataclass
class Refund:
    id: int
    amount: Decimal
    reason: str
    date_created: int


@dataclass
class Order:
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
    notes: list[Note] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)  # newest first, as get_refunds()


@dataclass
class Webhook:
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
class Failure:
    status: int
    headers: dict[str, str]
    body: Any
