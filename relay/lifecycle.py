"""Decide an invoice's status from its payments: the pure state machine (no I/O, `now` passed in).

Statuses follow BTCPay Server's model (DESIGN.md "Invoice statuses"): `new → processing → settled`,
`new → expired`, late full payment `expired → processing/settled` with exception `paid_late`,
`invalid` when a full payment is not confirmed before the monitoring window ends, or a settled
payment leaves the canonical chain. Everything else asks this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from relay.errors import TransitionError
from relay.events import EventType


class InvoiceStatus(StrEnum):
    """An invoice's status; the value is the wire name."""

    NEW = "new"
    PROCESSING = "processing"
    SETTLED = "settled"
    EXPIRED = "expired"
    INVALID = "invalid"


class InvoiceException(StrEnum):
    """The exception flag beside the status; NONE is the empty string."""

    NONE = ""
    PAID_PARTIAL = "paid_partial"
    PAID_OVER = "paid_over"
    PAID_LATE = "paid_late"


FINAL = frozenset({InvoiceStatus.SETTLED, InvoiceStatus.INVALID})

TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.NEW: frozenset(
        {InvoiceStatus.PROCESSING, InvoiceStatus.SETTLED, InvoiceStatus.EXPIRED}
    ),
    # back to NEW when a payment's block leaves the canonical chain before settlement
    InvoiceStatus.PROCESSING: frozenset(
        {InvoiceStatus.NEW, InvoiceStatus.SETTLED, InvoiceStatus.EXPIRED, InvoiceStatus.INVALID}
    ),
    # a full payment after expiry but within the monitoring window: paid_late
    InvoiceStatus.EXPIRED: frozenset({InvoiceStatus.PROCESSING, InvoiceStatus.SETTLED}),
    # a settled invoice is final; only a deep reorg after settlement makes it invalid (an alert)
    InvoiceStatus.SETTLED: frozenset({InvoiceStatus.INVALID}),
    InvoiceStatus.INVALID: frozenset(),
}

STATUS_EVENTS: dict[InvoiceStatus, EventType] = {
    InvoiceStatus.PROCESSING: EventType.PROCESSING,
    InvoiceStatus.SETTLED: EventType.SETTLED,
    InvoiceStatus.EXPIRED: EventType.EXPIRED,
    InvoiceStatus.INVALID: EventType.INVALID,
}


def check_transition(current: InvoiceStatus, target: InvoiceStatus) -> None:
    """Allow `current → target` or raise TransitionError; staying put is always allowed."""
    if current != target and target not in TRANSITIONS[current]:
        raise TransitionError(f"invoice cannot move from {current} to {target}")


@dataclass(frozen=True)
class CountedPayment:
    """One counted payment as the state machine sees it.

    amount: base units (int); confirmed: the chain's confirmation rule is met;
    block_time: the block's timestamp (UTC), which decides lateness.
    """

    amount: int
    confirmed: bool
    block_time: datetime


@dataclass(frozen=True)
class Evaluation:
    """The status an invoice should have now, with the amounts behind it (base units)."""

    status: InvoiceStatus
    exception: InvoiceException
    paid: int
    due: int

    @property
    def remaining(self) -> int:
        """Base units still to pay (0 when paid in full)."""
        return max(self.due - self.paid, 0)


def minimum_accepted(due: int, tolerance_percent: Decimal) -> int:
    """Return the smallest total (base units) that counts as paid in full under the tolerance."""
    threshold = Decimal(due) * (Decimal(100) - tolerance_percent) / Decimal(100)
    return int(threshold.to_integral_value(rounding=ROUND_CEILING))


def evaluate(
    *,
    current: InvoiceStatus,
    due: int,
    payments: Sequence[CountedPayment],
    tolerance_percent: Decimal,
    now: datetime,
    expires_at: datetime,
    monitoring_ends_at: datetime,
) -> Evaluation:
    """Compute the status and exception an invoice should have now.

    due: the fixed option's amount in base units; payments: counted payments in that option's asset.
    Never returns a move TRANSITIONS forbids: a settled invoice stays settled here (a reorg after
    settlement is handled by the caller as `invalid`).
    """
    paid = sum(p.amount for p in payments)
    minimum = minimum_accepted(due, tolerance_percent)
    if current == InvoiceStatus.SETTLED and paid < minimum:
        # a counted payment left the chain after settlement (a deep reorg): an alert, never silent
        return Evaluation(InvoiceStatus.INVALID, InvoiceException.NONE, paid, due)
    if current in FINAL:
        exception = _exception(current, due, minimum, paid, payments, expires_at)
        return Evaluation(current, exception, paid, due)
    full = paid > 0 and paid >= minimum
    if full:
        confirmed = all(p.confirmed for p in payments)
        if confirmed:
            status = InvoiceStatus.SETTLED
        elif now >= monitoring_ends_at:
            status = InvoiceStatus.INVALID
        else:
            status = InvoiceStatus.PROCESSING
    elif now >= expires_at:
        status = InvoiceStatus.EXPIRED
    else:
        status = InvoiceStatus.NEW
    if current == InvoiceStatus.EXPIRED and status == InvoiceStatus.NEW:
        status = InvoiceStatus.EXPIRED
    exception = _exception(status, due, minimum, paid, payments, expires_at)
    return Evaluation(status, exception, paid, due)


def _exception(
    status: InvoiceStatus,
    due: int,
    minimum: int,
    paid: int,
    payments: Sequence[CountedPayment],
    expires_at: datetime,
) -> InvoiceException:
    if paid == 0:
        return InvoiceException.NONE
    if paid < due and status in (InvoiceStatus.NEW, InvoiceStatus.EXPIRED):
        return InvoiceException.PAID_PARTIAL
    if status in (InvoiceStatus.PROCESSING, InvoiceStatus.SETTLED) and _completed_late(
        minimum, payments, expires_at
    ):
        return InvoiceException.PAID_LATE
    if paid > due:
        return InvoiceException.PAID_OVER
    if paid < due and status not in (InvoiceStatus.PROCESSING, InvoiceStatus.SETTLED):
        return InvoiceException.PAID_PARTIAL
    return InvoiceException.NONE


def _completed_late(minimum: int, payments: Sequence[CountedPayment], expires_at: datetime) -> bool:
    """Tell whether the payments made before expiry fell short, so the rest came late."""
    in_time = sum(p.amount for p in payments if p.block_time <= expires_at)
    return in_time < minimum and any(p.block_time > expires_at for p in payments)
