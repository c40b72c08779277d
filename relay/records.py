"""Declare the plain records that cross module boundaries: an order read from a storefront, a
refund it recorded, a transfer seen on a chain. Frozen dataclasses; no I/O, no behaviour.

Who makes and who takes them: relay/inbound.py reads OrderData and RefundRequest from webhook
bodies for relay/inbox.py, relay/invoices.py and relay/refunds.py; relay/watcher.py turns chain
logs and blocks into ObservedTransfer for relay/invoices.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class OrderData:
    """A storefront order as the inbound layer read it; `total` in the order's currency.

    `subscription_id` names the subscription a renewal order pays for ("" for a one-off order);
    `return_url` is where the payment page's "back to the store" link goes ("" for the store's
    default page; relay/inbound.py checks it is on the store's host).
    """

    store: str
    order_id: str
    currency: str
    total: Decimal
    order_number: str = ""
    order_key: str = ""
    customer_email: str = ""
    subscription_id: str = ""
    return_url: str = ""


@dataclass(frozen=True)
class RefundRequest:
    """A refund the storefront recorded on an order.

    external_id: the storefront's refund id; amount: fiat in the order's currency, positive;
    reason: the merchant's text, may be "".
    """

    external_id: str
    amount: Decimal
    reason: str = ""


@dataclass(frozen=True)
class ObservedTransfer:
    """A transfer to a deposit address; `amount` in base units, `log_index` -1 when native."""

    chain: str
    asset: str
    tx_hash: str
    log_index: int
    from_address: str
    to_address: str
    amount: int
    block_number: int
    block_hash: str
    block_time: datetime
