"""The dashboard's refunds: each request, the customer's address, the amount (editable until it is
paid), the EIP-681 link and a QR code for the merchant's phone wallet, and cancel.

| route | what |
|---|---|
| `GET /admin/refunds?status=&page=` | newest first |
| `GET /admin/refunds/<id>` | one refund: address, amount form, payment link and QR code |
| `POST /admin/refunds/<id>/amount` | form `amount`, `unit`: "asset" (such as 12.5) or "base" |
| `POST /admin/refunds/<id>/cancel` | withdraw a request not paid yet |

The amount goes through relay/refunds.py `set_refund_amount` and cancelling through
`cancel_refund`, as the JSON API's; a refused amount shows the page again with the reason (422).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app, flash, redirect, request, url_for

from relay.errors import NotFound, RefundConflict
from relay.models import Refund, utcnow
from relay.pricing import from_base_units
from relay.refund_lifecycle import OPEN, RefundStatus
from relay.refunds import cancel_refund, load_refund, set_refund_amount
from relay.serialize import refund_uri
from relay.web.admin.blueprint import bp, page, paging
from relay.web.admin.queries import count_refunds, refund_page
from relay.web.context import db_of, settings_of
from relay.web.display import chain_name, qr_svg
from relay.web.languages import gettext as _

UNITS = ("asset", "base")


class AmountError(ValueError):
    """An amount the form cannot take; the message is translated for the merchant."""


def parse_amount(text: str, unit: str, decimals: int) -> int:
    """Return the base units an amount typed in `unit` ("asset" or "base") stands for.

    raises AmountError when it is not a positive number, has more decimal places than the asset
    (a fraction of a base unit), or the unit is unknown.
    """
    text = text.strip().replace(" ", "")
    if unit == "base":
        if not text.isdigit() or int(text) <= 0:
            raise AmountError(_("Enter a whole number of base units greater than 0."))
        return int(text)
    if unit != "asset":
        raise AmountError(_("Choose whether the amount is in asset units or base units."))
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise AmountError(_("Enter a number such as 12.5.")) from None
    if not value.is_finite() or value <= 0:
        raise AmountError(_("Enter an amount greater than 0."))
    base_units = value.scaleb(decimals)
    if base_units != base_units.to_integral_value():
        raise AmountError(
            _("This asset has %(decimals)s decimal places; the amount has more.", decimals=decimals)
        )
    return int(base_units)


@bp.get("/refunds")
def refunds() -> Any:
    """List refund requests, newest first, a page at a time."""
    status = request.args.get("status", "")
    statuses = [s.value for s in RefundStatus]
    bad = bool(status) and status not in statuses
    status = "" if bad else status
    with db_of(current_app).transaction() as session:
        pages = paging(count_refunds(session, status))
        rows = refund_page(session, status, pages.offset, pages.size)
    return page(
        "refunds.html",
        400 if bad else 200,
        refunds=rows,
        paging=pages,
        status=status,
        statuses=statuses,
        bad_status=bad,
        open_statuses={s.value for s in OPEN},
    )


def _refund_page(refund: Refund, code: int = 200, **form: Any) -> Any:
    uri = refund_uri(refund)
    name = chain_name(refund.chain_id, refund.chain)
    qr = None
    if uri and refund.status == RefundStatus.AWAITING_PAYMENT.value:
        amount = str(from_base_units(refund.amount_base_units, refund.decimals))
        title = _(
            "QR code: send %(amount)s %(asset)s on %(chain)s",
            amount=amount,
            asset=refund.asset,
            chain=name,
        )
        qr = qr_svg(uri, title)
    context = {
        "refund": refund,
        "uri": uri,
        "qr": qr,
        "chain_name": name,
        "editable": refund.status in {s.value for s in OPEN},
        "error": None,
        "typed": "",
        "unit": "asset",
    }
    return page("refund.html", code, **(context | form))


def _load(refund_id: str) -> Refund:
    with db_of(current_app).transaction() as session:
        refund = load_refund(session, refund_id)
    if refund is None:
        raise NotFound("no such refund")
    return refund


@bp.get("/refunds/<refund_id>")
def refund(refund_id: str) -> Any:
    """Show one refund with its payment link and QR code, the amount form and cancel."""
    return _refund_page(_load(refund_id))


@bp.post("/refunds/<refund_id>/amount")
def refund_amount(refund_id: str) -> Any:
    """Set the amount to pay, typed in asset units or base units; 422 with the reason if refused."""
    current = _load(refund_id)
    typed, unit = request.form.get("amount", ""), request.form.get("unit", "asset")
    try:
        base_units = parse_amount(typed, unit, current.decimals)
        set_refund_amount(
            db_of(current_app), settings_of(current_app), refund_id, base_units, utcnow()
        )
    except AmountError as exc:
        return _refund_page(current, 422, error=str(exc), typed=typed, unit=unit)
    except RefundConflict:
        message = _(
            "This refund is %(status)s; its amount can no longer change.", status=current.status
        )
        return _refund_page(current, 409, error=message, typed=typed, unit=unit)
    flash(_("The refund amount is saved."))
    return redirect(url_for("admin.refund", refund_id=refund_id), 303)


@bp.post("/refunds/<refund_id>/cancel")
def refund_cancel(refund_id: str) -> Any:
    """Cancel a refund request not paid yet; 409 with the reason once a transfer was seen."""
    current = _load(refund_id)
    try:
        cancel_refund(db_of(current_app), settings_of(current_app), refund_id, utcnow())
    except RefundConflict:
        message = _(
            "This refund is %(status)s; it can no longer be cancelled.", status=current.status
        )
        return _refund_page(current, 409, error=message)
    flash(_("The refund request is cancelled."))
    return redirect(url_for("admin.refund", refund_id=refund_id), 303)
