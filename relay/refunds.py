"""Open refund requests for paid invoices, take the customer's address, cancel, choose amounts.

The relay holds no key, so it never sends a refund: it makes one easy and safe for the merchant's
own wallet. When the storefront records a refund on a paid order (WooCommerce `refunds[]`,
Shopify `refunds/create`, the relay protocol), `request_refunds` opens one request per storefront
refund id (idempotent: a repeated webhook opens nothing) and queues `invoice.refund_requested`,
whose storefront action asks the customer for an address through a signed link (never the
sending address, often an exchange's hot wallet). `submit_address` checks the address (EIP-55,
not the store's own deposit address nor the token contract, a contract only once the customer
confirms) and queues `invoice.refund_ready` with an EIP-681 link paying the amount in base units
at the invoice's locked rate (or an amount the merchant chose, `set_refund_amount`). The watcher
(relay/watcher/refunds.py) sees the transfer and, once confirmed, `complete_refund` queues
`invoice.refunded` with the tx hash. `cancel_refund` lets the merchant withdraw a request.
Statuses and moves: relay/refund_lifecycle.py. Every function writes one transaction and its
outbox rows together.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from relay.db import Database
from relay.errors import AddressError, ChainError, NotFound, RefundConflict
from relay.events import EventType
from relay.invoices import find_invoice
from relay.lifecycle import InvoiceStatus
from relay.links import refund_url
from relay.models import Invoice, Refund
from relay.outbox import queue_event
from relay.pricing import from_base_units
from relay.records import RefundRequest
from relay.refund_lifecycle import (
    OPEN,
    RefundStatus,
    check_refund_address,
    check_refund_transition,
    is_contract_code,
    refund_base_units,
)
from relay.serialize import refund_json, refund_uri
from relay.settings import Settings

log = logging.getLogger(__name__)

OPEN_RETRIES = 5
# (chain name, address) → the code the address holds (b"" for an account without code)
CodeReader = Callable[[str, str], bytes]


def new_refund_id() -> str:
    """Return a fresh, unguessable refund id."""
    return "rfd_" + secrets.token_urlsafe(16)


def load_refund(session: Session, refund_id: str) -> Refund | None:
    """Return a refund with its invoice (options, payments) loaded, or None."""
    return session.scalar(
        select(Refund)
        .where(Refund.id == refund_id)
        .options(
            selectinload(Refund.invoice).selectinload(Invoice.options),
            selectinload(Refund.invoice).selectinload(Invoice.payments),
        )
    )


def refundable_reason(invoice: Invoice) -> str | None:
    """Return why an invoice cannot be refunded through the relay, or None when it can.

    Refundable: a settled invoice, or an expired one that received counted payments (the
    customer paid part and the merchant gives it back). Never an invalid one.
    """
    if invoice.paid_option is None or invoice.paid_base_units <= 0:
        return f"invoice {invoice.id} received no payment"
    if invoice.status not in (InvoiceStatus.SETTLED.value, InvoiceStatus.EXPIRED.value):
        return f"invoice {invoice.id} is {invoice.status}; only paid invoices are refunded"
    return None


def request_refunds(
    db: Database,
    settings: Settings,
    store: str,
    order_id: str,
    refunds: Sequence[RefundRequest],
    now: datetime,
) -> list[tuple[Refund, bool]]:
    """Open a refund request per storefront refund; return (refund, opened now) for each.

    Idempotent per (invoice, storefront refund id), concurrent duplicates included. The amount
    in base units is the fiat amount at the invoice's locked rate. raises NotFound when the
    order has no invoice, RefundConflict when its invoice was not paid (nothing is stored).
    """
    for _ in range(OPEN_RETRIES):
        try:
            with db.transaction() as session:
                return _open_refunds(session, settings, store, order_id, refunds, now)
        except IntegrityError:
            continue  # a concurrent delivery of the same webhook won; read again
    raise RefundConflict("could not open the refund: the database kept refusing it")


def _open_refunds(
    session: Session,
    settings: Settings,
    store: str,
    order_id: str,
    refunds: Sequence[RefundRequest],
    now: datetime,
) -> list[tuple[Refund, bool]]:
    invoice = find_invoice(session, store, order_id)
    if invoice is None:
        raise NotFound(f"order {order_id} of store {store} has no invoice")
    result: list[tuple[Refund, bool]] = []
    known = {
        r.external_id: r
        for r in session.scalars(select(Refund).where(Refund.invoice_id == invoice.id))
    }
    for request in refunds:
        existing = known.get(request.external_id)
        if existing is not None:
            result.append((existing, False))
            continue
        reason = refundable_reason(invoice)
        if reason is not None:
            raise RefundConflict(reason)
        option = next(o for o in invoice.options if f"{o.chain}:{o.asset}" == invoice.paid_option)
        refund = Refund(
            id=new_refund_id(),
            invoice_id=invoice.id,
            store=invoice.store,
            order_id=invoice.order_id,
            external_id=request.external_id,
            status=RefundStatus.AWAITING_ADDRESS.value,
            reason=request.reason,
            currency=invoice.currency,
            amount=request.amount,
            chain=option.chain,
            chain_id=option.chain_id,
            asset=option.asset,
            contract=option.contract,
            decimals=option.decimals,
            rate=option.rate,
            amount_base_units=refund_base_units(request.amount, option.rate, option.decimals),
            amount_source="locked_rate",
            created_at=now,
            from_address="",
            paid_base_units=0,
            confirmations=0,
        )
        refund.invoice = invoice
        session.add(refund)
        session.flush()
        known[request.external_id] = refund
        log.info(
            "store %s order %s: refund %s (%s %s) opened as %s",
            store,
            order_id,
            request.external_id,
            request.amount,
            invoice.currency,
            refund.id,
        )
        _queue(session, settings, refund, EventType.REFUND_REQUESTED, now)
        result.append((refund, True))
    return result


def submit_address(
    db: Database,
    settings: Settings,
    refund_id: str,
    text: str,
    confirm_contract: bool,
    read_code: CodeReader,
    now: datetime,
) -> Refund:
    """Take the customer's refund address; queue `invoice.refund_ready`; return the refund.

    raises NotFound (no such refund), RefundConflict (the address was already given, or the
    refund is paid or cancelled), AddressError (not an address, a bad EIP-55 checksum, the zero
    address, one of the store's deposit addresses, the token contract, or a contract address
    without `confirm_contract`), ChainError (the chain could not be asked whether the address
    holds code). Nothing is stored when it raises.
    """
    with db.transaction() as session:
        refund = load_refund(session, refund_id)
        if refund is None:
            raise NotFound("no such refund")
        _require(refund, RefundStatus.AWAITING_ADDRESS, "take an address")
        own = {refund.invoice.deposit_address.lower(): "This is the store's own deposit address."}
        if refund.contract:
            own[refund.contract.lower()] = (
                f"This is the {refund.asset} token contract itself: tokens sent to it are lost."
            )
        address = check_refund_address(text, own)
        if session.scalar(select(Invoice.id).where(Invoice.deposit_address == address)):
            raise AddressError("own_address", "This is one of the store's own deposit addresses.")
        chain, asset = refund.chain, refund.asset
    try:
        code = read_code(chain, address)
    except Exception as exc:  # any RPC failure: fail closed, the customer tries again
        log.warning("refund %s: could not read the code at %s: %s", refund_id, address, exc)
        raise ChainError("The address cannot be checked right now; please try again.") from None
    contract = is_contract_code(code)
    if contract and not confirm_contract:
        raise AddressError(
            "contract_address",
            f"This address is a smart contract, not a wallet account. Only confirm it if you "
            f"are sure it can receive {asset} on {chain} (a multisig or smart wallet you own); "
            f"an exchange or app contract may lose the refund.",
        )
    with db.transaction() as session:
        refund = load_refund(session, refund_id)
        if refund is None:
            raise NotFound("no such refund")
        _require(refund, RefundStatus.AWAITING_ADDRESS, "take an address")
        _move(refund, RefundStatus.AWAITING_PAYMENT)
        refund.to_address, refund.to_is_contract, refund.address_at = address, contract, now
        _queue(session, settings, refund, EventType.REFUND_READY, now)
        return refund


def cancel_refund(db: Database, settings: Settings, refund_id: str, now: datetime) -> Refund:
    """Cancel a refund request the merchant will not pay; queue `invoice.refund_cancelled`.

    raises NotFound, or RefundConflict once a transfer was seen or the refund is final.
    """
    with db.transaction() as session:
        refund = load_refund(session, refund_id)
        if refund is None:
            raise NotFound("no such refund")
        if RefundStatus(refund.status) not in OPEN:
            raise RefundConflict(f"refund {refund.id} is {refund.status}; it cannot be cancelled")
        _move(refund, RefundStatus.CANCELLED)
        refund.cancelled_at = now
        _queue(session, settings, refund, EventType.REFUND_CANCELLED, now)
        return refund


def set_refund_amount(
    db: Database, settings: Settings, refund_id: str, base_units: int, now: datetime
) -> Refund:
    """Set the amount the merchant chose (base units of the refund's asset); return the refund.

    When the address is already known, `invoice.refund_ready` is queued again with the new
    payment link. raises ValueError when `base_units` is not a positive integer, NotFound, or
    RefundConflict once a transfer was seen or the refund is final.
    """
    if isinstance(base_units, bool) or not isinstance(base_units, int) or base_units <= 0:
        raise ValueError("the amount must be a positive integer of base units")
    with db.transaction() as session:
        refund = load_refund(session, refund_id)
        if refund is None:
            raise NotFound("no such refund")
        if RefundStatus(refund.status) not in OPEN:
            raise RefundConflict(f"refund {refund.id} is {refund.status}; its amount is fixed")
        if refund.amount_base_units == base_units:
            return refund
        refund.amount_base_units, refund.amount_source = base_units, "merchant"
        if refund.status == RefundStatus.AWAITING_PAYMENT.value:
            _queue(session, settings, refund, EventType.REFUND_READY, now)
        return refund


def record_refund_transfer(
    refund: Refund,
    *,
    tx_hash: str,
    log_index: int,
    from_address: str,
    amount: int,
    block_number: int,
    block_hash: str,
    block_time: datetime,
) -> None:
    """Note the transfer that pays a refund (amount in base units); it now waits to confirm."""
    _move(refund, RefundStatus.CONFIRMING)
    refund.tx_hash, refund.log_index, refund.from_address = tx_hash, log_index, from_address
    refund.paid_base_units = amount
    refund.block_number, refund.block_hash, refund.block_time = block_number, block_hash, block_time
    refund.confirmations = 0


def drop_refund_transfer(refund: Refund) -> None:
    """Forget a refund's transfer whose block left the canonical chain; it waits again."""
    _move(refund, RefundStatus.AWAITING_PAYMENT)
    refund.tx_hash = refund.log_index = refund.block_number = None
    refund.block_hash = refund.block_time = None
    refund.from_address, refund.paid_base_units, refund.confirmations = "", 0, 0


def complete_refund(session: Session, settings: Settings, refund: Refund, now: datetime) -> None:
    """Mark a refund whose transfer is confirmed as refunded; queue `invoice.refunded`."""
    _move(refund, RefundStatus.REFUNDED)
    refund.refunded_at = now
    _queue(session, settings, refund, EventType.REFUNDED, now)


def refund_values(refund: Refund, settings: Settings) -> dict[str, str]:
    """Return the `refund_*` placeholder values of the spec's refund event templates."""
    contract_note = (
        f" The address is a smart contract; the customer confirmed it can receive "
        f"{refund.asset} on {refund.chain}."
        if refund.to_is_contract
        else ""
    )
    return {
        "refund_id": refund.id,
        "refund_external_id": refund.external_id,
        "refund_reason": refund.reason or "none given",
        "refund_amount": str(refund.amount),
        "refund_asset_amount": str(from_base_units(refund.amount_base_units, refund.decimals)),
        "refund_address": refund.to_address or "",
        "refund_address_url": refund_url(
            settings.relay.public_url, settings.relay.secret_key, refund.id
        ),
        "refund_uri": refund_uri(refund) or "",
        "refund_contract_note": contract_note,
        "refund_tx_hash": refund.tx_hash or "",
        "refund_paid_amount": str(from_base_units(refund.paid_base_units, refund.decimals)),
    }


def _require(refund: Refund, status: RefundStatus, step: str) -> None:
    if refund.status != status.value:
        messages = {
            RefundStatus.AWAITING_PAYMENT.value: "The refund address was already given.",
            RefundStatus.CONFIRMING.value: "The refund has been sent and is being confirmed.",
            RefundStatus.REFUNDED.value: "The refund has been sent.",
            RefundStatus.CANCELLED.value: "This refund request was cancelled by the store.",
        }
        raise RefundConflict(messages.get(refund.status, f"cannot {step} now"))


def _move(refund: Refund, target: RefundStatus) -> None:
    check_refund_transition(RefundStatus(refund.status), target)
    refund.status = target.value


def _queue(session: Session, settings: Settings, refund: Refund, event: str, now: datetime) -> None:
    queue_event(
        session,
        settings,
        refund.invoice,
        event,
        now,
        extra={"refund": refund_json(refund, settings.relay.public_url, settings.relay.secret_key)},
        values=refund_values(refund, settings),
    )
