"""Declare the relay's tables: invoices, payment options, payments, refunds, deliveries, attempts,
cursors.

Money columns hold exact values: base-unit integers and fiat decimals are stored as decimal strings
(SQLite has no exact wide numeric type), times as UTC. The status columns without a state machine
of their own have their values here (PaymentState, DeliveryStatus, InboxStatus); invoice and
refund statuses live with their transition tables (relay/lifecycle.py, relay/refund_lifecycle.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# 2: invoices.subscription_id, refunds; 3: inbox; 4: inbox.dead_at; 5: several invoices per
# order, at most one open (uq_invoice_open_order), invoices.return_url and closed_by (relay/db.py)
SCHEMA_VERSION = 5


class PaymentState(StrEnum):
    """A payment's state (`payments.state`); the value is the stored and wire name."""

    COUNTED = "counted"  # in the invoice's fixed option, within the monitoring window: it pays
    OTHER_ASSET = "other_asset"  # an asset other than the fixed option's: reported, never summed
    AFTER_MONITORING = "after_monitoring"  # its block came after the monitoring window ended
    ORPHANED = "orphaned"  # its block left the canonical chain (a reorg)


class DeliveryStatus(StrEnum):
    """A delivery's status (`deliveries.status`); the value is the stored name."""

    PENDING = "pending"  # waiting for its next attempt
    SUCCEEDED = "succeeded"  # acknowledged
    FAILED = "failed"  # given up: the retries ran out, or the answer can never succeed


class InboxStatus(StrEnum):
    """An inbox row's status (`inbox.status`); the value is the stored name."""

    QUEUED = "queued"  # waiting for (another try at) its invoice
    DEAD = "dead"  # a dead letter: never tried again by itself; the reason is in `last_error`


class UTCDateTime(TypeDecorator[datetime]):
    """Store datetimes as naive UTC and hand them back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class BaseUnits(TypeDecorator[int]):
    """Store an unbounded non-negative integer (base units, wei) as its decimal string."""

    impl = String(80)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"base units must be int, got {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class ExactDecimal(TypeDecorator[Decimal]):
    """Store a Decimal as its exact string."""

    impl = String(80)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"expected Decimal, got {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    """Base of every table."""


class SchemaVersion(Base):
    """The schema version the database was created with."""

    __tablename__ = "schema_version"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)


# the invoice statuses an order may have only one invoice in (relay/order_invoices.py)
OPEN_OR_PAID = text("status IN ('new', 'processing', 'settled')")


class Invoice(Base):
    """The relay's gateway order for one storefront order (an order may have several, at most
    one of them open or paid: relay/order_invoices.py)."""

    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoice_order", "store", "order_id"),
        Index(
            "uq_invoice_open_order",
            "store",
            "order_id",
            unique=True,
            sqlite_where=OPEN_OR_PAID,
            postgresql_where=OPEN_OR_PAID,
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    store: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(128))
    order_number: Mapped[str] = mapped_column(String(128), default="")
    order_key: Mapped[str] = mapped_column(String(128), default="")
    customer_email: Mapped[str] = mapped_column(String(320), default="")
    # the storefront subscription a renewal order belongs to ("" for a one-off order)
    subscription_id: Mapped[str] = mapped_column(String(128), default="")
    # the payment page's "back to the store" link, on the store's host ("" for the default)
    return_url: Mapped[str] = mapped_column(String(2000), default="")
    # the order's other invoice that paid it, when that closed this one (then `expired`)
    closed_by: Mapped[str] = mapped_column(String(40), default="")
    currency: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    status: Mapped[str] = mapped_column(String(16), index=True)
    exception: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    monitoring_ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    address_index: Mapped[int] = mapped_column(Integer)
    deposit_address: Mapped[str] = mapped_column(String(42), unique=True)
    # "chain:ASSET" of the first payment: it fixes the option the invoice is paid in
    paid_option: Mapped[str | None] = mapped_column(String(64), nullable=True)
    paid_base_units: Mapped[int] = mapped_column(BaseUnits, default=0)
    # the deposit address's native balance (wei) as last seen by the watcher, and at which block
    native_balance: Mapped[int] = mapped_column(BaseUnits, default=0)
    native_balance_block: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the storefront order status last reported as disagreeing with the invoice (reconciliation)
    order_mismatch: Mapped[str] = mapped_column(String(64), default="")
    # options left out because no rate source answered: [{"chain", "asset", "reason"}]
    unavailable_options: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)

    # optimistic lock: two workers changing one invoice at once → the later commit fails and
    # its job retries on the next tick, so a transition and its deliveries are never doubled
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    options: Mapped[list[PaymentOption]] = relationship(
        back_populates="invoice", order_by="PaymentOption.id", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="invoice", order_by="Payment.id", cascade="all, delete-orphan"
    )


class PaymentOption(Base):
    """One way to pay an invoice: chain, asset, address, amount, EIP-681 URI, locked rate."""

    __tablename__ = "payment_options"
    __table_args__ = (UniqueConstraint("invoice_id", "chain", "asset", name="uq_option"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    chain: Mapped[str] = mapped_column(String(64))
    chain_id: Mapped[int] = mapped_column(Integer)
    asset: Mapped[str] = mapped_column(String(16))
    contract: Mapped[str | None] = mapped_column(String(42), nullable=True)
    decimals: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(42))
    amount_base_units: Mapped[int] = mapped_column(BaseUnits)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal)  # fiat per whole asset unit
    rate_source: Mapped[str] = mapped_column(String(200))
    rate_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uri: Mapped[str] = mapped_column(Text)

    invoice: Mapped[Invoice] = relationship(back_populates="options")


class Payment(Base):
    """One on-chain transfer to an invoice's deposit address; recorded once per (chain, tx, log)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("chain", "tx_hash", "log_index", name="uq_payment"),
        Index("ix_payment_chain_block", "chain", "block_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    chain: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(16))
    # "0x…" (66 chars); "balance:<block hash>:<address>" where only a balance showed the payment
    tx_hash: Mapped[str] = mapped_column(String(128))
    log_index: Mapped[int] = mapped_column(Integer)  # -1 native top-level, -2 untraced native
    from_address: Mapped[str] = mapped_column(String(42), default="")
    to_address: Mapped[str] = mapped_column(String(42))
    amount_base_units: Mapped[int] = mapped_column(BaseUnits)
    block_number: Mapped[int] = mapped_column(Integer)
    block_hash: Mapped[str] = mapped_column(String(66))
    block_time: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), default=PaymentState.COUNTED.value)
    confirmations: Mapped[int] = mapped_column(Integer, default=0)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)  # meets the chain's rule

    invoice: Mapped[Invoice] = relationship(back_populates="payments")


class Refund(Base):
    """A refund of (part of) a paid invoice, recorded once per storefront refund id.

    The relay holds no key: it asks the customer for an address (a signed link), gives the
    merchant an EIP-681 link for their own wallet and records the transfer when it is confirmed.
    Amounts: `amount` fiat in the invoice's currency; `amount_base_units` and `paid_base_units` in
    base units of the invoice's paid asset. Statuses: relay/refund_lifecycle.py.
    """

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("invoice_id", "external_id", name="uq_refund_external"),
        Index("ix_refund_watch", "chain", "status"),
        Index("ix_refund_order", "store", "order_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    store: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(128))
    external_id: Mapped[str] = mapped_column(String(128))  # the storefront's refund id
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    chain: Mapped[str] = mapped_column(String(64))
    chain_id: Mapped[int] = mapped_column(Integer)
    asset: Mapped[str] = mapped_column(String(16))
    contract: Mapped[str | None] = mapped_column(String(42), nullable=True)
    decimals: Mapped[int] = mapped_column(Integer)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal)  # the invoice's locked rate
    amount_base_units: Mapped[int] = mapped_column(BaseUnits)
    amount_source: Mapped[str] = mapped_column(String(16))  # locked_rate | merchant
    to_address: Mapped[str | None] = mapped_column(String(42), nullable=True)
    to_is_contract: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    address_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the transfer that pays the refund, once seen (cleared if its block leaves the chain)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    log_index: Mapped[int | None] = mapped_column(Integer, nullable=True)  # -1 native
    from_address: Mapped[str] = mapped_column(String(42), default="")
    paid_base_units: Mapped[int] = mapped_column(BaseUnits, default=0)
    block_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    block_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    block_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmations: Mapped[int] = mapped_column(Integer, default=0)

    # optimistic lock: the watcher and an operator changing one refund at once never both win
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    invoice: Mapped[Invoice] = relationship()


class Delivery(Base):
    """One outgoing message kept in the outbox until acknowledged (storefront call or webhook)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_order", "store", "order_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40))  # the same on every retry (webhook-id)
    event: Mapped[str] = mapped_column(String(40))
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    store: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(String(600))  # "storefront" or a webhook URL
    # a storefront delivery's spec action (`invoice.expired.paid_partial`), resolved when queued
    # (relay/outbox.py); "" for webhooks and for storefront rows queued before the column existed
    action: Mapped[str] = mapped_column(String(120), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="delivery", order_by="DeliveryAttempt.id", cascade="all, delete-orphan"
    )


class DeliveryAttempt(Base):
    """One try of a delivery: when, HTTP status, latency, response excerpt, error."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")

    delivery: Mapped[Delivery] = relationship(back_populates="attempt_log")


class InboxOrder(Base):
    """A verified storefront order the webhook route accepted, waiting for its invoice.

    `order` holds relay.records.OrderData's fields (`total` a decimal string). The inbox job
    (relay/inbox.py) deletes the row once the invoice is open; `status` "dead" keeps a row whose
    order cannot be invoiced (a permanent cause, or a transient one past its retries), with the
    reason in `last_error` and the time in `dead_at`, until an operator retries it. A spool line
    that could not even be stored as a row is kept as a dead row whose `order` is
    `{"raw": <the line as text>}`.
    """

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(128))
    topic: Mapped[str] = mapped_column(String(64), default="")
    order: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)  # also the claim's lease
    last_error: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChainCursor(Base):
    """The last block a chain's watcher has scanned, with its hash to notice reorgs."""

    __tablename__ = "chain_cursors"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int] = mapped_column(Integer)
    block_hash: Mapped[str] = mapped_column(String(66))
    block_time: Mapped[datetime] = mapped_column(UTCDateTime)  # decides when expiry is safe
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AddressCounter(Base):
    """The next unused derivation index per xpub (keyed by its SHA-256)."""

    __tablename__ = "address_counters"

    xpub_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_index: Mapped[int] = mapped_column(Integer)


class AddressCheck(Base):
    """What the chains showed of an xpub address before it was handed out (relay/address_checks.py).

    `used` rows are skipped for good; an unused row is trusted for a few minutes only.
    `evidence` says what showed use (per chain: nonce, balance, token balance or transfer).
    """

    __tablename__ = "address_checks"

    xpub_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    address_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    used: Mapped[bool] = mapped_column(Boolean)
    evidence: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)
