"""Queue outgoing deliveries for an invoice event, inside the caller's transaction.

One event becomes one storefront delivery (when the platform spec has an action for it) plus one
delivery per subscribed status-webhook endpoint. They share an event id, which status webhooks
send as `webhook-id` on every retry so receivers can de-duplicate.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from relay.config import Settings
from relay.events import EventType
from relay.models import Delivery, Invoice
from relay.pricing import from_base_units
from relay.serialize import invoice_json, iso
from relay.specs import load_spec

STOREFRONT = "storefront"


def new_event_id() -> str:
    """Return a fresh event id (`msg_` + 24 random URL-safe characters)."""
    return "msg_" + secrets.token_urlsafe(18)


def template_values(invoice: Invoice, settings: Settings) -> dict[str, str]:
    """Return the placeholder values the spec's note and field templates may use."""
    data = invoice_json(invoice, settings.relay.public_url, settings.relay.secret_key)
    option = next(
        (o for o in invoice.options if f"{o.chain}:{o.asset}" == invoice.paid_option),
        invoice.options[0] if invoice.options else None,
    )
    counted = [p for p in invoice.payments if p.state == "counted"]
    paid = sum(p.amount_base_units for p in counted)
    values = {
        "invoice_id": invoice.id,
        "payment_url": data["payment_url"],
        "amount": str(invoice.amount),
        "currency": invoice.currency,
        "status": invoice.status,
        "exception": invoice.exception or "none",
        "expires_at": invoice.expires_at.strftime("%Y-%m-%d %H:%M"),
        "tx_hash": counted[-1].tx_hash if counted else "",
        "tx_hashes": ", ".join(dict.fromkeys(p.tx_hash for p in counted)) or "none",
        "confirmations": str(min((p.confirmations for p in counted), default=0)),
    }
    if option is not None:
        chain = settings.chains.get(option.chain)
        due = option.amount_base_units
        values |= {
            "asset": option.asset,
            "chain": option.chain,
            "asset_amount": str(from_base_units(due, option.decimals)),
            "paid_amount": str(from_base_units(paid, option.decimals)),
            "remaining_amount": str(from_base_units(max(due - paid, 0), option.decimals)),
            "required_confirmations": (
                chain.finality
                if chain and chain.finality
                else str(chain.confirmations if chain else "")
            ),
        }
    return values


def queue_event(
    session: Session,
    settings: Settings,
    invoice: Invoice,
    event: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> list[Delivery]:
    """Write the deliveries for one invoice event in the caller's transaction; return them."""
    store = settings.stores.get(invoice.store)
    if store is None:
        return []
    event_id = new_event_id()
    data = invoice_json(invoice, settings.relay.public_url, settings.relay.secret_key)
    body: dict[str, Any] = {"type": event, "timestamp": iso(now), "data": data}
    if extra:
        body["extra"] = extra
    deliveries = []
    spec = load_spec(store)
    variant = _variant(invoice, event, extra or {})
    if spec.action_for(event, variant) is not None:
        values = template_values(invoice, settings)
        values |= {f"payment_{k}": str(v) for k, v in (extra or {}).items() if k in PAYMENT_KEYS}
        values["unavailable_options"] = (
            "; ".join(
                f"{o['chain']}:{o['asset']} ({o['reason']})"
                for o in invoice.unavailable_options or []
            )
            or "none"
        )
        storefront_payload = {
            "event": event,
            "exception": variant,
            "order_id": invoice.order_id,
            "values": values,
        }
        deliveries.append(_delivery(invoice, event, event_id, STOREFRONT, storefront_payload, now))
    for hook in store.webhooks:
        if event in hook.events:
            deliveries.append(_delivery(invoice, event, event_id, hook.url, body, now))
    session.add_all(deliveries)
    return deliveries


PAYMENT_KEYS = ("tx_hash", "amount", "asset", "chain", "state")


def _variant(invoice: Invoice, event: str, extra: dict[str, Any]) -> str:
    """Return the spec action variant: the invoice's exception, or what sets this event apart.

    `invoice.payment_received` of a payment that does not count is told apart by the payment's
    state (`after_monitoring`, `other_asset`); `invoice.created` of an invoice whose options
    could not all be priced by `options_unavailable`.
    """
    if event == EventType.PAYMENT_RECEIVED and extra.get("state", "counted") != "counted":
        return str(extra["state"])
    if event == EventType.CREATED and invoice.unavailable_options:
        return "options_unavailable"
    return invoice.exception


def _delivery(
    invoice: Invoice, event: str, event_id: str, target: str, payload: dict[str, Any], now: datetime
) -> Delivery:
    return Delivery(
        event_id=event_id,
        event=event,
        invoice_id=invoice.id,
        store=invoice.store,
        order_id=invoice.order_id,
        target=target,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        last_error="",
    )
