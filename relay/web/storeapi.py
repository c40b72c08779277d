"""`POST /api/v1/stores/<store>/invoices`: a custom shop or storefront plugin opens an invoice.

The relay's own protocol (plugin_specs/relay.toml), for a store of any platform. The body is the
order as JSON: `{"order_id", "currency", "amount", "order_number"?, "customer_email"?}` (amount a
decimal string). Authenticated by `Authorization: Bearer <store api_token>` or by a Standard
Webhooks signature with the store's `webhook_secret` (whsec_…). Answers the invoice JSON at once,
so a checkout can redirect to its `payment_url`: 201 when opened, 200 when the order already had
one (idempotent per (store, order id), as webhooks are).

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

from relay.errors import AuthError, InvoiceError, PayloadError
from relay.inbound import header, parse_json, read_order, read_refunds, verify
from relay.invoices import open_invoice
from relay.models import utcnow
from relay.refunds import request_refunds
from relay.serialize import invoice_json, refund_json
from relay.settings import StoreSettings
from relay.specs import load_spec
from relay.web.auth import bearer_token
from relay.web.context import db_of, runtime_of, settings_of, store_of

bp = Blueprint("storeapi", __name__)
PROTOCOL = "relay"  # the spec whose inbound part reads this endpoint's body


def _authenticate(store: StoreSettings, body: bytes) -> None:
    """Accept a bearer api_token or a Standard Webhooks signature; raise AuthError otherwise."""
    headers = dict(request.headers)
    token = bearer_token()
    if token is not None:
        expected = store.api_token.encode()
        if not expected or not hmac.compare_digest(token.encode(), expected):
            raise AuthError("wrong bearer token for this store")
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
