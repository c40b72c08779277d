"""Name the outgoing events (DESIGN.md "Outgoing event names")."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """An outgoing event; the value is the wire name."""

    CREATED = "invoice.created"
    PAYMENT_RECEIVED = "invoice.payment_received"
    PROCESSING = "invoice.processing"
    SETTLED = "invoice.settled"
    EXPIRED = "invoice.expired"
    INVALID = "invoice.invalid"
    PAID_LATE = "invoice.paid_late"
    # extensions of DESIGN.md's list
    PAYMENT_REMOVED = "invoice.payment_removed"  # a payment's block left the canonical chain
    ORDER_MISMATCH = "invoice.order_mismatch"  # the store's order no longer shows what was pushed
    # refunds (relay/refunds.py): a refund is its own object, linked to a settled invoice
    REFUND_REQUESTED = "invoice.refund_requested"  # the store recorded a refund; address asked
    REFUND_READY = "invoice.refund_ready"  # the customer gave an address; payment link ready
    REFUNDED = "invoice.refunded"  # the refund transfer reached the customer, confirmed
    REFUND_CANCELLED = "invoice.refund_cancelled"  # the merchant cancelled the refund request


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
