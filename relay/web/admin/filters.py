"""Format what the dashboard's templates show: amounts, times, chain names, block-explorer links.

Registered on the dashboard's blueprint (on import) as template filters and globals `admin_*`.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from flask import current_app

from relay.pricing import from_base_units
from relay.web.admin.blueprint import bp
from relay.web.context import settings_of
from relay.web.display import chain_name

_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def units(base_units: int, decimals: int) -> str:
    """Return base units as whole units of the asset, exactly, e.g. 12500000, 6 → "12.5"."""
    return str(from_base_units(base_units, decimals))


def fiat(amount: Decimal) -> str:
    """Return a fiat Decimal as its exact string."""
    return str(amount)


def when(moment: datetime | None) -> str:
    """Return a UTC time to the second, e.g. "2026-12-01 14:05:09 UTC" ("" for None)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def chain_label(chain: str) -> str:
    """Return the name people know for a configured chain (its config name when unknown)."""
    configured = settings_of(current_app).chains.get(chain)
    return chain_name(configured.chain_id, chain) if configured else chain


def _explorer(chain: str) -> str:
    configured = settings_of(current_app).chains.get(chain)
    return configured.explorer_url.rstrip("/") if configured else ""


def tx_link(chain: str, tx_hash: str | None) -> str | None:
    """Return the chain's block-explorer page of a transaction, or None (no `explorer_url`, or
    not a transaction hash: a payment seen only in a balance)."""
    base = _explorer(chain)
    if not base or not tx_hash or not _TX_HASH.match(tx_hash):
        return None
    return f"{base}/tx/{tx_hash}"


def address_link(chain: str, address: str | None) -> str | None:
    """Return the chain's block-explorer page of an address, or None."""
    base = _explorer(chain)
    if not base or not address or not _ADDRESS.match(address):
        return None
    return f"{base}/address/{address}"


# every template may use them, as `admin_*` filters and globals
bp.add_app_template_filter(units, "admin_units")
bp.add_app_template_filter(fiat, "admin_fiat")
bp.add_app_template_filter(when, "admin_when")
bp.add_app_template_filter(chain_label, "admin_chain")
bp.add_app_template_global(tx_link, "admin_tx_link")
bp.add_app_template_global(address_link, "admin_address_link")
