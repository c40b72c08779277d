"""`POST /api/v1/stores/<store>/invoices`: a custom shop or storefront plugin opens an invoice.

The relay's own protocol (plugin_specs/relay.toml), for a store of any platform. The body is the
order as JSON: `{"order_id", "currency", "amount", "order_number"?, "order_key"?,
"customer_email"?, "return_url"?}` (amount a decimal string; return_url, the payment page's
"back to the store" link, must be on the store's host, else 422). Authenticated by
`Authorization: Bearer <store api_token>` or by a Standard Webhooks signature with the store's
`webhook_secret` (whsec_…). Answers the invoice JSON at once, so a checkout can redirect to its
`payment_url`: 200 with the order's open invoice (one open invoice per order, as for webhooks),
201 when one was opened (the first, or a new one once the last expired unpaid).

`GET /api/v1/stores/<store>/invoices/<id>` (bearer api_token only) reads one of the store's
invoices: the invoice JSON plus the `order_key` it was opened with. Checked in this order: the
store (404 `unknown_store`), the token (401 `unauthorized`), the invoice (404 `not_found`, also
for another store's invoice). The WooCommerce plugin re-reads every callback's invoice here.

`POST /api/v1/stores/<store>/orders/<order id>/refunds` (same authentication) records a refund of
a paid order: `{"id", "amount", "reason"?}` (the shop's refund id; amount a decimal string in the
order's currency). Answers the refund JSON (relay/serialize.py `refund_json`; `address_url` is the
link where the customer gives the refund address): 201 opened, 200 when that refund id was seen
before; 404 when the order has no invoice, 409 when it was not paid.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from relay.errors import AuthError, InvoiceError, NotFound, PayloadError
from relay.inbound import header, parse_json, read_order, read_refunds, verify
from relay.invoices import load_invoice, open_invoice
from relay.models import utcnow
from relay.refunds import request_refunds
from relay.serialize import invoice_json, refund_json
from relay.settings import StoreSettings
from relay.specs import load_spec
from relay.web.auth import bearer_token
from relay.web.context import db_of, runtime_of, settings_of, store_of

bp = Blueprint("storeapi", __name__)
PROTOCOL = "relay"  # the spec whose inbound part reads this endpoint's body


def _check_token(store: StoreSettings, token: str) -> None:
    """Raise AuthError unless `token` is the store's api_token (compared in constant time)."""
    expected = store.api_token.encode()
    if not expected or not hmac.compare_digest(token.encode(), expected):
        raise AuthError("wrong bearer token for this store")


def _authenticate(store: StoreSettings, body: bytes) -> None:
    """Accept a bearer api_token or a Standard Webhooks signature; raise AuthError otherwise."""
    headers = dict(request.headers)
    token = bearer_token()
    if token is not None:
        _check_token(store, token)
        return
    if header(headers, "webhook-signature") is not None:
        verify(store, load_spec(PROTOCOL), headers, body)  # SignatureError (401) on failure
        return
    raise AuthError(
        "send 'Authorization: Bearer <store api_token>' or a Standard Webhooks signature"
    )


@bp.post("/api/v1/stores/<store_name>/invoices")
def create_invoice(store_name: str) -> Any:
    """Open (or return) the invoice for an order; 201 created, 200 existing."""
    settings = settings_of(current_app)
    store = store_of(current_app, store_name)
    body = request.get_data(cache=False)
    _authenticate(store, body)
    inbound = read_order(store, load_spec(PROTOCOL), parse_json(body))
    if inbound.order is None:
        raise InvoiceError(f"the order cannot get an invoice: {inbound.reason}")
    # open_invoice hands back the invoice with its options and payments loaded
    runtime = runtime_of(current_app)
    # the plugin waits for the payment link: the address check (a few reads of each accepted
    # chain, once per address) runs here; a chain that cannot be asked answers 503, never an
    # unchecked address
    invoice, created = open_invoice(
        db_of(current_app), settings, inbound.order, utcnow(), runtime.rates, runtime.address_usage
    )
    data = invoice_json(invoice, settings.relay.public_url, settings.relay.secret_key)
    answer = jsonify(data)
    answer.headers["Location"] = f"/api/v1/invoices/{invoice.id}"
    return answer, 201 if created else 200


@bp.get("/api/v1/stores/<store_name>/invoices/<invoice_id>")
def read_invoice(store_name: str, invoice_id: str) -> Any:
    """Return one of the store's invoices with its `order_key` (bearer api_token)."""
    settings = settings_of(current_app)
    store = store_of(current_app, store_name)
    token = bearer_token()
    if token is None:
        raise AuthError("send 'Authorization: Bearer <store api_token>'")
    _check_token(store, token)
    with db_of(current_app).transaction() as session:
        invoice = load_invoice(session, invoice_id)
        if invoice is None or invoice.store != store.name:
            raise NotFound("this store has no such invoice")
        data = invoice_json(invoice, settings.relay.public_url, settings.relay.secret_key)
    if invoice.order_key:
        data["order_key"] = invoice.order_key
    return jsonify(data)


@bp.post("/api/v1/stores/<store_name>/orders/<order_id>/refunds")
def create_refund(store_name: str, order_id: str) -> Any:
    """Open (or return) the refund request for one shop refund; 201 opened, 200 existing."""
    settings = settings_of(current_app)
    store = store_of(current_app, store_name)
    body = request.get_data(cache=False)
    _authenticate(store, body)
    entry = parse_json(body)
    _, refunds = read_refunds(load_spec(PROTOCOL), {"order_id": order_id, "refunds": [entry]})
    if not refunds:
        raise PayloadError("the refund amount must be a positive decimal")
    ((refund, created),) = request_refunds(
        db_of(current_app), settings, store_name, order_id, refunds, utcnow()
    )
    return jsonify(
        refund_json(refund, settings.relay.public_url, settings.relay.secret_key)
    ), 201 if created else 200
