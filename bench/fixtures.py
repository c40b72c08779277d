"""Fill a relay database fast with SQLAlchemy core: open invoices, and settled ones with history.

Rows look like what `open_invoice` and the watcher write (same tables, same value shapes) but are
inserted in bulk with executemany, so 100,000 invoices take seconds rather than the minutes the
web route would need. Deposit addresses are random: nothing derives them again.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from web3 import Web3

from relay.db import Database
from relay.eip681 import payment_uri
from relay.models import Delivery, Invoice, Payment, PaymentOption
from relay.settings import Settings

CHUNK = 5000
AMOUNT_USD = Decimal("25.00")


@dataclass(frozen=True)
class Inserted:
    """What was inserted: invoice ids and deposit addresses (checksummed) of the open invoices."""

    open_ids: list[str]
    open_addresses: list[str]
    closed: int


def _chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def random_address() -> str:
    """Return a random checksummed address."""
    return Web3.to_checksum_address("0x" + secrets.token_hex(20))


def _invoice_row(
    number: int, store: str, address: str, status: str, created: datetime, native_block: int | None
) -> dict[str, Any]:
    return {
        "id": f"inv_bench{number:09d}",
        "store": store,
        "order_id": str(number),
        "order_number": str(number),
        "order_key": f"wc_order_bench{number:09d}",
        "customer_email": "ada@example.com",
        "currency": "USD",
        "amount": AMOUNT_USD,
        "status": status,
        "exception": "",
        "created_at": created,
        "expires_at": created + timedelta(minutes=30),
        "monitoring_ends_at": created + timedelta(minutes=90),
        "settled_at": created + timedelta(minutes=5) if status == "settled" else None,
        "address_index": number,
        "deposit_address": address,
        "paid_option": "dev:USDC" if status == "settled" else None,
        "paid_base_units": 25_000_000 if status == "settled" else 0,
        "native_balance": 0,
        "native_balance_block": native_block,
        "unavailable_options": [],
        "version": 1,
    }


def _option_rows(
    settings: Settings,
    accept: Sequence[tuple[str, str]],
    invoice_id: str,
    address: str,
    at: datetime,
) -> Iterator[dict[str, Any]]:
    for chain_name, symbol in accept:
        chain = settings.chains[chain_name]
        asset = chain.assets[symbol]
        rate = Decimal(1) if asset.contract else Decimal(2000)
        amount = int(AMOUNT_USD / rate * 10**asset.decimals)
        yield {
            "invoice_id": invoice_id,
            "chain": chain_name,
            "chain_id": chain.chain_id,
            "asset": symbol,
            "contract": asset.contract,
            "decimals": asset.decimals,
            "address": address,
            "amount_base_units": amount,
            "rate": rate,
            "rate_source": "peg:USD" if asset.contract else "fixed:USD:2000.00",
            "rate_at": at,
            "uri": payment_uri(
                chain_id=chain.chain_id, to=address, amount=amount, token=asset.contract
            ),
        }


def _history_rows(
    invoice_id: str, number: int, address: str, created: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return a settled invoice's payment and its two acknowledged storefront deliveries."""
    payment = {
        "invoice_id": invoice_id,
        "chain": "dev",
        "asset": "USDC",
        "tx_hash": "0x" + secrets.token_hex(32),
        "log_index": 0,
        "from_address": random_address(),
        "to_address": address,
        "amount_base_units": 25_000_000,
        "block_number": number,
        "block_hash": "0x" + secrets.token_hex(32),
        "block_time": created + timedelta(minutes=1),
        "seen_at": created + timedelta(minutes=1),
        "state": "counted",
        "confirmations": 12,
        "confirmed": True,
    }
    deliveries = []
    for event, minutes in (("invoice.created", 0), ("invoice.settled", 5)):
        at = created + timedelta(minutes=minutes)
        deliveries.append(
            {
                "event_id": "msg_" + secrets.token_urlsafe(18),
                "event": event,
                "invoice_id": invoice_id,
                "store": "shop",
                "order_id": str(number),
                "target": "storefront",
                "payload": {
                    "event": event,
                    "exception": "",
                    "order_id": str(number),
                    "values": {
                        "invoice_id": invoice_id,
                        "payment_url": f"https://pay.example.com/pay/{invoice_id}.signature",
                        "amount": "25.00",
                        "currency": "USD",
                        "status": "settled" if minutes else "new",
                        "tx_hash": payment["tx_hash"] if minutes else "",
                        "asset": "USDC",
                        "chain": "dev",
                        "asset_amount": "25",
                    },
                },
                "status": "succeeded",
                "attempts": 1,
                "next_attempt_at": at,
                "claimed_until": None,
                "last_error": "",
                "created_at": at,
                "completed_at": at,
            }
        )
    return payment, deliveries


def insert_invoices(
    db: Database,
    settings: Settings,
    *,
    open_count: int,
    closed_count: int = 0,
    accept: Sequence[tuple[str, str]] = (("dev", "USDC"),),
    now: datetime,
    native_block: int | None = None,
    first_number: int = 0,
) -> Inserted:
    """Insert `open_count` new invoices and `closed_count` settled ones (60 days old, paid, with
    two delivered storefront messages each) with their payment options; return what was opened.

    Open invoices were created a minute before `now`; `native_block` is the block at which their
    native balance was last read (the watcher's baseline), None for never.
    """
    old = now - timedelta(days=60)
    open_ids: list[str] = []
    addresses: list[str] = []

    def invoices(count: int, status: str, start: int) -> Iterator[dict[str, Any]]:
        for number in range(start, start + count):
            address = random_address()
            created = now - timedelta(minutes=1) if status == "new" else old
            if status == "new":
                open_ids.append(f"inv_bench{number:09d}")
                addresses.append(address)
            yield _invoice_row(number, "shop", address, status, created, native_block)

    with db.engine.begin() as conn:
        for status, count, start in (
            ("settled", closed_count, first_number),
            ("new", open_count, first_number + closed_count),
        ):
            for batch in _chunks(invoices(count, status, start)):
                conn.execute(insert(Invoice), batch)
                options = [
                    row
                    for inv in batch
                    for row in _option_rows(
                        settings, accept, inv["id"], inv["deposit_address"], inv["created_at"]
                    )
                ]
                conn.execute(insert(PaymentOption), options)
                if status == "settled":
                    history = [
                        _history_rows(inv["id"], int(inv["order_id"]), inv["deposit_address"], old)
                        for inv in batch
                    ]
                    conn.execute(insert(Payment), [p for p, _ in history])
                    conn.execute(insert(Delivery), [d for _, ds in history for d in ds])
    return Inserted(open_ids, addresses, closed_count)
