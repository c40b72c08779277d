"""Read what the dashboard shows from the database: filtered invoices and their totals, paid value
per day, deliveries failing first, refunds.

Amounts stay exact: base units are summed as Python integers (the column holds decimal strings,
and wei sums overflow SQL's 64-bit integers), fiat as Decimal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVarTuple

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from relay.lifecycle import InvoiceException, InvoiceStatus
from relay.models import Delivery, DeliveryStatus, Invoice, Payment, PaymentOption, Refund
from relay.settings import Settings

NO_EXCEPTION = "none"  # the `exception` filter value for invoices without one
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class InvoiceFilter:
    """What the invoice listing is narrowed to; empty strings and None mean "any".

    `since`/`until` are UTC days, both included; `query` is an order id or number, an invoice id,
    a deposit address or a payment's tx hash.
    """

    store: str = ""
    status: str = ""
    exception: str = ""
    since: date | None = None
    until: date | None = None
    query: str = ""
    problems: tuple[str, ...] = field(default=())

    def args(self) -> dict[str, str]:
        """Return the filter as query arguments (for paging links), leaving out what is empty."""
        values = {
            "store": self.store,
            "status": self.status,
            "exception": self.exception,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "q": self.query,
        }
        return {key: value for key, value in values.items() if value}


def parse_filter(args: Mapping[str, str], stores: Mapping[str, Any]) -> InvoiceFilter:
    """Read an InvoiceFilter from query arguments; a bad value is left out and named in
    `problems` (as `(field)` keys the page translates: "store", "status", "exception", "since",
    "until")."""
    problems: list[str] = []
    store = args.get("store", "").strip()
    if store and store not in stores:
        problems.append("store")
        store = ""
    status = args.get("status", "").strip()
    if status and status not in {s.value for s in InvoiceStatus}:
        problems.append("status")
        status = ""
    exception = args.get("exception", "").strip()
    if exception and exception not in {e.value for e in InvoiceException if e.value} | {
        NO_EXCEPTION
    }:
        problems.append("exception")
        exception = ""
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        raw = args.get(name, "").strip()
        try:
            days[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            problems.append(name)
            days[name] = None
    return InvoiceFilter(
        store=store,
        status=status,
        exception=exception,
        since=days["since"],
        until=days["until"],
        query=args.get("q", "").strip()[:200],
        problems=tuple(problems),
    )


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def filtered(query: Select[*Ts], wanted: InvoiceFilter) -> Select[*Ts]:
    """Narrow a select over Invoice to the filter."""
    if wanted.store:
        query = query.where(Invoice.store == wanted.store)
    if wanted.status:
        query = query.where(Invoice.status == wanted.status)
    if wanted.exception:
        flag = "" if wanted.exception == NO_EXCEPTION else wanted.exception
        query = query.where(Invoice.exception == flag)
    if wanted.since:
        query = query.where(Invoice.created_at >= _start_of(wanted.since))
    if wanted.until:
        query = query.where(Invoice.created_at < _start_of(wanted.until + timedelta(days=1)))
    if wanted.query:
        text = wanted.query.lower()
        by_option = select(PaymentOption.invoice_id).where(
            func.lower(PaymentOption.address) == text
        )
        by_payment = select(Payment.invoice_id).where(func.lower(Payment.tx_hash) == text)
        query = query.where(
            or_(
                Invoice.id == wanted.query,
                Invoice.order_id == wanted.query,
                Invoice.order_number == wanted.query,
                func.lower(Invoice.deposit_address) == text,
                Invoice.id.in_(by_option),
                Invoice.id.in_(by_payment),
            )
        )
    return query


def count_invoices(session: Session, wanted: InvoiceFilter) -> int:
    """Return how many invoices match the filter."""
    return int(session.scalar(filtered(select(func.count(Invoice.id)), wanted)) or 0)


def invoice_page(session: Session, wanted: InvoiceFilter, offset: int, limit: int) -> list[Invoice]:
    """Return one page of the matching invoices, newest first."""
    query = filtered(select(Invoice), wanted).order_by(Invoice.created_at.desc(), Invoice.id)
    return list(session.scalars(query.offset(offset).limit(limit)))


@dataclass(frozen=True)
class AssetTotal:
    """A sum of base units of one asset on one chain, with the asset's decimals."""

    chain: str
    asset: str
    decimals: int
    base_units: int


def _option_decimals(session: Session, keys: set[str]) -> dict[str, int]:
    """Return the decimals recorded on payment options, for assets no longer configured."""
    found: dict[str, int] = {}
    query = select(PaymentOption.chain, PaymentOption.asset, PaymentOption.decimals).distinct()
    for chain, asset, decimals in session.execute(query):
        if f"{chain}:{asset}" in keys:
            found[f"{chain}:{asset}"] = decimals
    return found


def _asset_totals(
    session: Session, settings: Settings, sums: Mapping[str, int]
) -> list[AssetTotal]:
    """Return sums keyed "chain:ASSET" as AssetTotals, sorted, with each asset's decimals."""
    decimals: dict[str, int] = {}
    for key in sums:
        chain, _, asset = key.partition(":")
        configured = settings.chains.get(chain)
        if configured and asset in configured.assets:
            decimals[key] = configured.assets[asset].decimals
    missing = set(sums) - set(decimals)
    if missing:
        decimals |= _option_decimals(session, missing)
    totals = []
    for key in sorted(sums):
        chain, _, asset = key.partition(":")
        totals.append(AssetTotal(chain, asset, decimals.get(key, 0), sums[key]))
    return totals


@dataclass(frozen=True)
class Totals:
    """Totals of a set of invoices: how many, invoiced per currency, paid per asset."""

    count: int
    invoiced: dict[str, Decimal]
    paid: list[AssetTotal]


def invoice_totals(session: Session, settings: Settings, wanted: InvoiceFilter) -> Totals:
    """Return the totals of every invoice the filter matches (not only the page shown).

    Paid: `paid_base_units` of each invoice in the option its first payment fixed (what counted
    towards it), summed per chain and asset.
    """
    invoiced: dict[str, Decimal] = defaultdict(Decimal)
    paid: dict[str, int] = defaultdict(int)
    count = 0
    query = filtered(
        select(Invoice.currency, Invoice.amount, Invoice.paid_option, Invoice.paid_base_units),
        wanted,
    )
    for currency, amount, paid_option, base_units in session.execute(query):
        count += 1
        invoiced[currency] += amount
        if paid_option and base_units:
            paid[paid_option] += base_units
    return Totals(count, dict(sorted(invoiced.items())), _asset_totals(session, settings, paid))


@dataclass(frozen=True)
class DailySeries:
    """Paid value per UTC day of one asset on one chain: `values[i]` base units on `days[i]`."""

    total: AssetTotal
    days: tuple[date, ...]
    values: tuple[int, ...]


def paid_per_day(session: Session, settings: Settings, today: date, days: int) -> list[DailySeries]:
    """Return per chain and asset the base units of invoices settled on each of the last `days`
    UTC days up to `today` (included), summed by the day of `settled_at`."""
    first = today - timedelta(days=days - 1)
    span = tuple(first + timedelta(days=i) for i in range(days))
    sums: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    query = select(Invoice.settled_at, Invoice.paid_option, Invoice.paid_base_units).where(
        Invoice.status == InvoiceStatus.SETTLED.value,
        Invoice.settled_at >= _start_of(first),
        Invoice.settled_at < _start_of(today + timedelta(days=1)),
        Invoice.paid_option.is_not(None),
    )
    for settled_at, paid_option, base_units in session.execute(query):
        if settled_at is not None and paid_option is not None:
            sums[paid_option][settled_at.astimezone(UTC).date()] += base_units
    totals = _asset_totals(session, settings, {key: sum(v.values()) for key, v in sums.items()})
    return [
        DailySeries(t, span, tuple(sums[f"{t.chain}:{t.asset}"].get(day, 0) for day in span))
        for t in totals
    ]


def _delivery_rank() -> Any:
    """Dead (failed) first, then pending ones whose last try went wrong, then the rest."""
    return case(
        (Delivery.status == DeliveryStatus.FAILED.value, 0),
        ((Delivery.status == DeliveryStatus.PENDING.value) & (Delivery.last_error != ""), 1),
        (Delivery.status == DeliveryStatus.PENDING.value, 2),
        else_=3,
    )


def count_deliveries(session: Session, status: str) -> int:
    """Return how many deliveries have `status` ("" for any)."""
    query = select(func.count(Delivery.id))
    return int(session.scalar(query.where(Delivery.status == status) if status else query) or 0)


def delivery_page(session: Session, status: str, offset: int, limit: int) -> list[Delivery]:
    """Return one page of the deliveries with `status` ("" any): dead and failing first."""
    query = select(Delivery).where(Delivery.status == status) if status else select(Delivery)
    query = query.order_by(_delivery_rank(), Delivery.id.desc())
    return list(session.scalars(query.offset(offset).limit(limit)))


def count_refunds(session: Session, status: str) -> int:
    """Return how many refunds have `status` ("" for any)."""
    query = select(func.count(Refund.id))
    return int(session.scalar(query.where(Refund.status == status) if status else query) or 0)


def refund_page(session: Session, status: str, offset: int, limit: int) -> list[Refund]:
    """Return one page of the refunds with `status` ("" any), newest first."""
    query = select(Refund).where(Refund.status == status) if status else select(Refund)
    query = query.order_by(Refund.created_at.desc(), Refund.id)
    return list(session.scalars(query.offset(offset).limit(limit)))
