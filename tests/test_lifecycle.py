"""The state machine: statuses and exceptions from payments, tolerance, lateness, transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from relay.errors import TransitionError
from relay.lifecycle import (
    CountedPayment,
    InvoiceException,
    InvoiceStatus,
    check_transition,
    evaluate,
    minimum_accepted,
)

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)
EXPIRES = T0 + timedelta(minutes=30)
MONITOR_END = EXPIRES + timedelta(minutes=60)
S, E = InvoiceStatus, InvoiceException


def pay(amount: int, confirmed: bool = True, minute: int = 1) -> CountedPayment:
    return CountedPayment(amount, confirmed, T0 + timedelta(minutes=minute))


def run(
    payments: list[CountedPayment],
    *,
    current: InvoiceStatus = S.NEW,
    minute: int = 5,
    tolerance: str = "0",
) -> tuple[InvoiceStatus, InvoiceException]:
    result = evaluate(
        current=current,
        due=1000,
        payments=payments,
        tolerance_percent=Decimal(tolerance),
        now=T0 + timedelta(minutes=minute),
        expires_at=EXPIRES,
        monitoring_ends_at=MONITOR_END,
    )
    return result.status, result.exception


@pytest.mark.parametrize(
    ("payments", "kwargs", "expected"),
    [
        ([], {}, (S.NEW, E.NONE)),
        ([pay(1000, confirmed=False)], {}, (S.PROCESSING, E.NONE)),
        ([pay(1000)], {}, (S.SETTLED, E.NONE)),
        ([pay(400)], {}, (S.NEW, E.PAID_PARTIAL)),
        ([pay(400), pay(600)], {}, (S.SETTLED, E.NONE)),
        ([pay(1200)], {}, (S.SETTLED, E.PAID_OVER)),
        ([], {"minute": 31}, (S.EXPIRED, E.NONE)),
        ([pay(400)], {"minute": 31}, (S.EXPIRED, E.PAID_PARTIAL)),
        ([pay(990)], {"tolerance": "1"}, (S.SETTLED, E.NONE)),
        ([pay(989)], {"tolerance": "1"}, (S.NEW, E.PAID_PARTIAL)),
        ([pay(1000, minute=40)], {"current": S.EXPIRED, "minute": 41}, (S.SETTLED, E.PAID_LATE)),
        (
            [pay(400), pay(600, False, 40)],
            {"current": S.EXPIRED, "minute": 41},
            (S.PROCESSING, E.PAID_LATE),
        ),
        (
            [pay(1000, confirmed=False)],
            {"current": S.PROCESSING, "minute": 91},
            (S.INVALID, E.NONE),
        ),
        ([pay(1000)], {"current": S.SETTLED, "minute": 200}, (S.SETTLED, E.NONE)),
        ([pay(500)], {"current": S.EXPIRED, "minute": 10}, (S.EXPIRED, E.PAID_PARTIAL)),
    ],
)
def test_evaluate(
    payments: list[CountedPayment],
    kwargs: dict[str, object],
    expected: tuple[InvoiceStatus, InvoiceException],
) -> None:
    assert run(payments, **kwargs) == expected  # type: ignore[arg-type]


def test_minimum_accepted_rounds_up() -> None:
    assert minimum_accepted(1000, Decimal("0")) == 1000
    assert minimum_accepted(1000, Decimal("1")) == 990
    assert minimum_accepted(999, Decimal("0.5")) == 995  # 994.005 → 995


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.SETTLED, S.NEW), (S.SETTLED, S.EXPIRED), (S.INVALID, S.SETTLED), (S.EXPIRED, S.NEW)],
)
def test_illegal_transitions_raise(current: InvoiceStatus, target: InvoiceStatus) -> None:
    with pytest.raises(TransitionError):
        check_transition(current, target)


def test_legal_transitions() -> None:
    check_transition(S.NEW, S.PROCESSING)
    check_transition(S.PROCESSING, S.NEW)  # reorg before settlement
    check_transition(S.EXPIRED, S.SETTLED)  # paid late
    check_transition(S.SETTLED, S.INVALID)  # deep reorg after settlement: an alert
