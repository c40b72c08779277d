"""The dashboard's overview (the chart of the last 30 days) and its invoice pages.

| route | what |
|---|---|
| `GET /admin` | paid value per day and asset, last 30 days (inline SVG and a table), counts |
| `GET /admin/invoices?store=&status=&exception=&since=&until=&q=&page=` | filtered, paged, totals |
| `GET /admin/invoices/<id>` | options, payments, timeline, deliveries with attempts, refunds |
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from relay.errors import NotFound
from relay.invoices import load_invoice
from relay.lifecycle import InvoiceException, InvoiceStatus
from relay.models import Delivery, DeliveryStatus, Invoice, Refund, utcnow
from relay.refund_lifecycle import OPEN
from relay.web.admin.blueprint import bp, page, paging
from relay.web.admin.chart import lay_out
from relay.web.admin.queries import (
    NO_EXCEPTION,
    count_invoices,
    invoice_page,
    invoice_totals,
    paid_per_day,
    parse_filter,
)
from relay.web.admin.timeline import timeline
from relay.web.context import db_of, settings_of

CHART_DAYS = 30


@bp.get("")
def overview() -> Any:
    """Show paid value per day and asset over the last 30 days, and what needs attention."""
    settings = settings_of(current_app)
    today = utcnow().date()
    with db_of(current_app).transaction() as session:
        series = paid_per_day(session, settings, today, CHART_DAYS)
        by_status = dict(
            session.execute(select(Invoice.status, func.count()).group_by(Invoice.status)).all()
        )
        dead = session.scalar(
            select(func.count(Delivery.id)).where(Delivery.status == DeliveryStatus.FAILED.value)
        )
        open_refunds = session.scalar(
            select(func.count(Refund.id)).where(Refund.status.in_([s.value for s in OPEN]))
        )
    chart = lay_out(series, series[0].days if series else ())
    return page(
        "overview.html",
        chart=chart,
        series=series,
        chart_days=CHART_DAYS,
        by_status=[(s.value, int(by_status.get(s.value, 0))) for s in InvoiceStatus],
        dead=int(dead or 0),
        open_refunds=int(open_refunds or 0),
    )


@bp.get("/invoices")
def invoices() -> Any:
    """List the invoices a filter matches, newest first, a page at a time, with their totals."""
    settings = settings_of(current_app)
    wanted = parse_filter(request.args, settings.stores)
    with db_of(current_app).transaction() as session:
        pages = paging(count_invoices(session, wanted))
        rows = invoice_page(session, wanted, pages.offset, pages.size)
        totals = invoice_totals(session, settings, wanted)
    return page(
        "invoices.html",
        400 if wanted.problems else 200,
        wanted=wanted,
        invoices=rows,
        paging=pages,
        totals=totals,
        stores=sorted(settings.stores),
        statuses=[s.value for s in InvoiceStatus],
        exceptions=[e.value for e in InvoiceException if e.value] + [NO_EXCEPTION],
    )


@bp.get("/invoices/<invoice_id>")
def invoice(invoice_id: str) -> Any:
    """Show one invoice: options, payments, timeline, deliveries and attempts, refunds."""
    settings = settings_of(current_app)
    with db_of(current_app).transaction() as session:
        found = load_invoice(session, invoice_id)
        if found is None:
            raise NotFound("no such invoice")
        deliveries = list(
            session.scalars(
                select(Delivery)
                .where(Delivery.invoice_id == invoice_id)
                .options(selectinload(Delivery.attempt_log))
                .order_by(Delivery.id)
            )
        )
        refunds = list(
            session.scalars(
                select(Refund).where(Refund.invoice_id == invoice_id).order_by(Refund.created_at)
            )
        )
        chain = settings.chains.get((found.paid_option or "").partition(":")[0])
        return page(
            "invoice.html",
            invoice=found,
            deliveries=deliveries,
            refunds=refunds,
            timeline=timeline(found, deliveries, refunds, utcnow()),
            required=None if chain is None or chain.finality else chain.confirmations,
            decimals={(o.chain, o.asset): o.decimals for o in found.options},
        )
