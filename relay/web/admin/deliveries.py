"""The dashboard's deliveries: dead and failing ones first, with the reason, and "Redeliver".

| route | what |
|---|---|
| `GET /admin/deliveries?status=&page=` | dead (failed) first, then those whose last try failed |
| `POST /admin/deliveries/<id>/redeliver` | queue it to be sent now (form: `next`, CSRF token) |
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, url_for

from relay.delivery import redeliver
from relay.errors import NotFound
from relay.models import DeliveryStatus, utcnow
from relay.web.admin.blueprint import back_to, bp, page, paging
from relay.web.admin.queries import count_deliveries, delivery_page
from relay.web.context import db_of
from relay.web.languages import gettext as _


@bp.get("/deliveries")
def deliveries() -> Any:
    """List deliveries, dead and failing ones first, a page at a time."""
    status = request.args.get("status", "")
    statuses = [s.value for s in DeliveryStatus]
    bad = bool(status) and status not in statuses
    status = "" if bad else status
    with db_of(current_app).transaction() as session:
        pages = paging(count_deliveries(session, status))
        rows = delivery_page(session, status, pages.offset, pages.size)
    return page(
        "deliveries.html",
        400 if bad else 200,
        deliveries=rows,
        paging=pages,
        status=status,
        statuses=statuses,
        bad_status=bad,
    )


@bp.post("/deliveries/<int:delivery_id>/redeliver")
def redeliver_delivery(delivery_id: int) -> Any:
    """Queue a delivery to be sent again now; go back to the page the button was on."""
    delivery = redeliver(db_of(current_app), delivery_id, utcnow())
    if delivery is None:
        raise NotFound("no such delivery")
    flash(_("Delivery %(id)s is queued to be sent again.", id=delivery_id))
    return redirect(back_to(url_for("admin.deliveries")), 303)
