"""Queue outgoing deliveries for an invoice event, inside the caller's transaction.

One event becomes one storefront delivery (when the platform spec has an action for it; the
delivery carries the action's key, resolved here once; for a spec with a callback, such as a
WooCommerce plugin store's, the delivery carries `CALLBACK` and the event itself, for every
event) plus one delivery per subscribed status-webhook endpoint. They share an event id, which
status webhooks send as `webhook-id` on every retry so receivers can de-duplicate.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from relay.events import EventType
from relay.links import payment_url
from relay.models import Delivery, DeliveryStatus, Invoice, PaymentState
from relay.pricing import from_base_units
from relay.serialize import invoice_json, iso
from relay.settings import Settings
from relay.specs import load_spec

STOREFRONT = "storefront"
# the action of a storefront delivery that POSTs the event to the spec's `outbound.callback`
CALLBACK = "callback"


def new_event_id() -> str:
    """Return a fresh event id (`msg_` + 24 random URL-safe characters)."""
    return "msg_" + secrets.token_urlsafe(18)


def template_values(invoice: Invoice, settings: Settings) -> dict[str, str]:
    """Return the placeholder values the spec's note and field templates may use."""
    option = next(
        (o for o in invoice.options if f"{o.chain}:{o.asset}" == invoice.paid_option),
        invoice.options[0] if invoice.options else None,
    )
    counted = [p for p in invoice.payments if p.state == PaymentState.COUNTED]
    paid = sum(p.amount_base_units for p in counted)
    values = {
        "invoice_id": invoice.id,
        "payment_url": payment_url(
            settings.relay.public_url, settings.relay.secret_key, invoice.id
        ),
        "amount": str(invoice.amount),
        "currency": invoice.currency,
        "status": invoice.status,
        "exception": invoice.exception or "none",
        "expires_at": invoice.expires_at.strftime("%Y-%m-%d %H:%M"),
        "tx_hash": counted[-1].tx_hash if counted else "",
        "tx_hashes": ", ".join(dict.fromkeys(p.tx_hash for p in counted)) or "none",
        "confirmations": str(min((p.confirmations for p in counted), default=0)),
        "subscription_id": invoice.subscription_id or "",
        "closed_by": invoice.closed_by,
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
    values: Mapping[str, str] | None = None,
) -> list[Delivery]:
    """Write the deliveries for one invoice event in the caller's transaction; return them.

    extra: added to the status webhook body as `extra` (payment keys also become `payment_*`
    placeholders); values: more placeholder values for the storefront action (refund events).
    """
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
    variants = action_variants(invoice, event, extra or {})
    action = spec.action_key(event, *variants)
    if spec.callback is not None:
        deliveries.append(_delivery(invoice, event, event_id, STOREFRONT, body, now, CALLBACK))
    elif action is not None:
        filled = template_values(invoice, settings)
        filled |= {f"payment_{k}": str(v) for k, v in (extra or {}).items() if k in PAYMENT_KEYS}
        filled |= dict(values or {})
        filled["unavailable_options"] = (
            "; ".join(
                f"{o['chain']}:{o['asset']} ({o['reason']})"
                for o in invoice.unavailable_options or []
            )
            or "none"
        )
        storefront_payload = {
            "event": event,
            "exception": variants[0],
            "variants": list(variants),
            "order_id": invoice.order_id,
            "values": filled,
        }
        deliveries.append(
            _delivery(invoice, event, event_id, STOREFRONT, storefront_payload, now, action)
        )
    for hook in store.webhooks:
        if event in hook.events:
            deliveries.append(_delivery(invoice, event, event_id, hook.url, body, now))
    session.add_all(deliveries)
    return deliveries


PAYMENT_KEYS = ("tx_hash", "amount", "asset", "chain", "state")


def action_variants(
    invoice: Invoice, event: str, extra: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """Return the spec action variants for an event, most specific first (see specs.action_for).

    First the invoice's exception, or what sets this event apart: `invoice.payment_received` of a
    payment that does not count is told apart by the payment's state (`after_monitoring`,
    `other_asset`); `invoice.created` of an invoice whose options could not all be priced by
    `options_unavailable`. `closed` comes before it on `invoice.expired` and
    `invoice.payment_received` of an invoice closed because another invoice paid its order
    (relay/order_invoices.py). Then `renewal` when the invoice is for a subscription renewal order.
    """
    extra = extra or {}
    if (
        event == EventType.PAYMENT_RECEIVED
        and extra.get("state", PaymentState.COUNTED) != PaymentState.COUNTED
    ):
        first = str(extra["state"])
    elif event == EventType.CREATED and invoice.unavailable_options:
        first = "options_unavailable"
    else:
        first = invoice.exception
    variants: tuple[str, ...] = (first,)
    if invoice.closed_by and event in (EventType.EXPIRED, EventType.PAYMENT_RECEIVED):
        variants = ("closed", first)
    return (*variants, "renewal") if invoice.subscription_id else variants


def _delivery(
    invoice: Invoice,
    event: str,
    event_id: str,
    target: str,
    payload: dict[str, Any],
    now: datetime,
    action: str = "",
) -> Delivery:
    return Delivery(
        event_id=event_id,
        event=event,
        invoice_id=invoice.id,
        store=invoice.store,
        order_id=invoice.order_id,
        target=target,
        action=action,
        payload=payload,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        last_error="",
    )
