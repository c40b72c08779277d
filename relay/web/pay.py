"""`GET /pay/<token>`: the customer's payment page (server-rendered; refresh shows the state)."""

from __future__ import annotations

import io
from typing import Any

import segno
from flask import Blueprint, current_app, render_template
from markupsafe import Markup

from relay.errors import NotFound
from relay.invoices import load_invoice
from relay.links import invoice_id_from_token
from relay.serialize import invoice_json
from relay.web.app import db_of, settings_of

bp = Blueprint("pay", __name__, template_folder="templates")


def qr_svg(data: str) -> Markup:
    """Return an inline SVG QR code of `data` (segno)."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    return Markup(buffer.getvalue().decode())


@bp.get("/pay/<token>")
def payment_page(token: str) -> Any:
    """Show the invoice behind a signed token; a tampered or foreign token is a plain 404."""
    settings = settings_of(current_app)
    invoice_id = invoice_id_from_token(settings.relay.secret_key, token)
    if invoice_id is None:
        raise NotFound("no such payment page")
    with db_of(current_app).transaction() as session:
        invoice = load_invoice(session, invoice_id)
        if invoice is None:
            raise NotFound("no such payment page")
        data = invoice_json(invoice, settings.relay.public_url, settings.relay.secret_key)
    options = [dict(o, qr=qr_svg(o["uri"])) for o in data["options"]]
    return render_template("pay.html", invoice=data, options=options)
