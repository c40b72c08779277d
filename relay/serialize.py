"""Render the relay's records as JSON-ready data: invoices as DESIGN.md's "Invoice JSON" (no
secrets, no merchant data); refunds (relay/refunds.py) as the operator's and the merchant's
webhooks see them; deliveries with their attempt log as the operator sees them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from relay.eip681 import payment_uri
from relay.links import payment_url, refund_url
from relay.models import Delivery, Invoice, PaymentState, Refund
from relay.pricing import from_base_units


def iso(moment: datetime | None) -> str | None:
    """Return an ISO 8601 UTC timestamp with a Z suffix, seconds precision."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def decimal_text(value: Decimal) -> str:
    """Return a Decimal in plain notation ("0.000000000000000005", never "5E-18"), as JSON's
    decimal strings are documented (relay/web/openapi.json)."""
    return format(value, "f")


def invoice_json(invoice: Invoice, public_url: str, secret_key: str) -> dict[str, Any]:
    """Return the invoice as JSON-ready data; amounts as strings, base units as integer strings.

    `closed_by` names the order's other invoice that paid it when that closed this one (then
    `expired`; relay/order_invoices.py), else null.
    """
    return {
        "id": invoice.id,
        "store": invoice.store,
        "order_id": invoice.order_id,
        "order_number": invoice.order_number,
        "subscription_id": invoice.subscription_id or None,
        "status": invoice.status,
        "exception": invoice.exception or None,
        "closed_by": invoice.closed_by or None,
        "currency": invoice.currency,
        "amount": decimal_text(invoice.amount),
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
                "amount": decimal_text(from_base_units(option.amount_base_units, option.decimals)),
                "amount_base_units": str(option.amount_base_units),
                "decimals": option.decimals,
                "rate": decimal_text(option.rate),
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
            if payment.state != PaymentState.ORPHANED
        ],
    }


def refund_uri(refund: Refund) -> str | None:
    """Return the EIP-681 URI paying the refund from any wallet, or None before the address."""
    if refund.to_address is None:
        return None
    return payment_uri(
        chain_id=refund.chain_id,
        to=refund.to_address,
        amount=refund.amount_base_units,
        token=refund.contract,
    )


def refund_json(refund: Refund, public_url: str, secret_key: str) -> dict[str, Any]:
    """Return a refund as JSON-ready data for the operator and the merchant's webhooks.

    Amounts: `amount` fiat (decimal string, the invoice's currency); `amount_base_units` and
    `paid_base_units` integer strings of the asset's base units; `asset_amount`, `paid_amount`
    decimal strings in whole units. `address_url` is the customer's signed form, `uri` the
    EIP-681 link for the merchant's wallet (null until the address is known).
    """
    return {
        "id": refund.id,
        "invoice_id": refund.invoice_id,
        "store": refund.store,
        "order_id": refund.order_id,
        "external_id": refund.external_id,
        "status": refund.status,
        "reason": refund.reason,
        "currency": refund.currency,
        "amount": decimal_text(refund.amount),
        "chain": refund.chain,
        "chain_id": refund.chain_id,
        "asset": refund.asset,
        "contract": refund.contract,
        "decimals": refund.decimals,
        "rate": decimal_text(refund.rate),
        "amount_base_units": str(refund.amount_base_units),
        "asset_amount": decimal_text(from_base_units(refund.amount_base_units, refund.decimals)),
        "amount_source": refund.amount_source,
        "address": refund.to_address,
        "address_is_contract": refund.to_is_contract,
        "address_url": refund_url(public_url, secret_key, refund.id),
        "uri": refund_uri(refund),
        "tx_hash": refund.tx_hash,
        "log_index": refund.log_index,
        "from_address": refund.from_address or None,
        "paid_base_units": str(refund.paid_base_units),
        "paid_amount": decimal_text(from_base_units(refund.paid_base_units, refund.decimals)),
        "block_number": refund.block_number,
        "confirmations": refund.confirmations,
        "created_at": iso(refund.created_at),
        "address_at": iso(refund.address_at),
        "refunded_at": iso(refund.refunded_at),
        "cancelled_at": iso(refund.cancelled_at),
    }


def delivery_json(delivery: Delivery, attempts: bool = False) -> dict[str, Any]:
    """Return a delivery (and optionally its attempt log) as JSON-ready data."""
    data: dict[str, Any] = {
        "id": delivery.id,
        "event": delivery.event,
        "event_id": delivery.event_id,
        "invoice_id": delivery.invoice_id,
        "store": delivery.store,
        "order_id": delivery.order_id,
        "target": delivery.target,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "completed_at": iso(delivery.completed_at),
    }
    if attempts:
        data["attempt_log"] = [
            {
                "at": iso(a.at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "response_excerpt": a.response_excerpt,
                "error": a.error,
            }
            for a in delivery.attempt_log
        ]
    return data
