"""Render invoices as the JSON of DESIGN.md ("Invoice JSON"): no secrets, no merchant data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relay.links import payment_url
from relay.models import Invoice
from relay.pricing import from_base_units


def iso(moment: datetime | None) -> str | None:
    """Return an ISO 8601 UTC timestamp with a Z suffix, seconds precision."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def invoice_json(invoice: Invoice, public_url: str, secret_key: str) -> dict[str, Any]:
    """Return the invoice as JSON-ready data; amounts as strings, base units as integer strings."""
    return {
        "id": invoice.id,
        "store": invoice.store,
        "order_id": invoice.order_id,
        "order_number": invoice.order_number,
        "status": invoice.status,
        "exception": invoice.exception or None,
        "currency": invoice.currency,
        "amount": str(invoice.amount),
        "created_at": iso(invoice.created_at),
        "expires_at": iso(invoice.expires_at),
        "monitoring_ends_at": iso(invoice.monitoring_ends_at),
        "payment_url": payment_url(public_url, secret_key, invoice.id),
        "paid_option": invoice.paid_option,
        "unavailable_options": list(invoice.unavailable_options or []),
        "options": [
            {
                "chain": option.chain,
                "chain_id": option.chain_id,
                "asset": option.asset,
                "contract": option.contract,
                "address": option.address,
                "amount": str(from_base_units(option.amount_base_units, option.decimals)),
                "amount_base_units": str(option.amount_base_units),
                "decimals": option.decimals,
                "rate": str(option.rate),
                "rate_source": option.rate_source,
                "rate_at": iso(option.rate_at),
                "uri": option.uri,
            }
            for option in invoice.options
        ],
        "payments": [
            {
                "chain": payment.chain,
                "asset": payment.asset,
                "tx_hash": payment.tx_hash,
                "log_index": payment.log_index,
                "block_number": payment.block_number,
                "amount_base_units": str(payment.amount_base_units),
                "confirmations": payment.confirmations,
                "state": payment.state,
            }
            for payment in invoice.payments
            if payment.state != "orphaned"
        ],
    }
