"""Hand out an xpub deposit address only once it is checked unused on every chain the store accepts.

A relay started on a fresh database with the same xpub would derive its addresses from index 0
again, so an old customer's late payment could credit a new invoice. Two guards:

- the store key `first_address_index` is a floor kept outside the database (in the config file):
  no index below it is ever handed out. The only guard for addresses that were handed out and
  never paid (they look fresh on chain); `relay check-config` prints the highest index in use,
  which the merchant keeps with the config;
- before an index is handed out, its address is checked on each accepted chain (`UsageReader`,
  relay/runtime.py over relay/chain/rpc.py): a nonce, a native balance, a balance of a configured
  token, or a token Transfer to it in the last `address_check_blocks` blocks marks it used. A used
  index is recorded (table `address_checks`, with what showed its use) and skipped for good; an
  unused one is recorded too and trusted for CHECK_FRESH.

`prepare` does the chain reads outside any database transaction (SQLite holds a whole-database
lock during one); `take_index`, inside the invoice's transaction, takes the counter's next index
that is checked unused or raises `Unchecked` so the caller prepares again. A chain that cannot be
asked raises ChainError (HTTP 503; the inbox retries the order as for a rate outage): no unchecked
address is ever handed out. A store's collectors (`payout_address`) are unique per invoice id,
which is random (relay/invoices.py `new_invoice_id`), so they need no check.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from relay.addresses import derive_address, xpub_id
from relay.db import Database
from relay.errors import ChainError, ChainUnavailable
from relay.models import AddressCheck, AddressCounter, Invoice
from relay.settings import Settings, StoreSettings

log = logging.getLogger(__name__)

CHECK_FRESH = timedelta(minutes=10)  # an "unused" answer is trusted this long
MAX_CHECKS = 20  # addresses checked for one invoice at most; the next try goes on from there


class UsageReader(Protocol):
    """Tell what shows that `address` was used on `chain` (a short text), or None when nothing
    does; raises ChainUnavailable when the chain cannot be asked."""

    def __call__(self, chain: str, address: str) -> str | None: ...


class Unchecked(Exception):
    """The counter's next index has no fresh check (another invoice took the checked one)."""


def first_index(session: Session, store: StoreSettings) -> int:
    """Return the next index the counter would hand out: at or above `first_address_index`."""
    counter = session.get(AddressCounter, xpub_id(store.xpub))
    return max(counter.next_index if counter else 0, store.first_address_index)


def prepare(db: Database, store: StoreSettings, usage: UsageReader, now: datetime) -> None:
    """Check addresses from the counter's next index on until one is unused on every accepted
    chain, recording each answer. raises ChainError when a chain cannot be asked, or when
    MAX_CHECKS addresses in a row were used (the next call goes on after them)."""
    key = xpub_id(store.xpub)
    chains = sorted({chain for chain, _ in store.accept})
    with db.transaction() as session:
        index = first_index(session, store)
        known = {
            row.address_index: row
            for row in session.scalars(
                select(AddressCheck).where(
                    AddressCheck.xpub_id == key, AddressCheck.address_index >= index
                )
            )
        }
        session.expunge_all()
    checked = 0
    while True:
        row = known.get(index)
        if row is not None and row.used:
            index += 1
            continue
        if row is not None and row.checked_at > now - CHECK_FRESH:
            return
        if checked == MAX_CHECKS:
            raise ChainError(
                f"store {store.name}: {MAX_CHECKS} deposit addresses in a row up to index "
                f"{index - 1} were used before; checking goes on with the next invoice "
                "(set first_address_index above the highest index the xpub ever used)"
            )
        address = derive_address(store.xpub, index)
        evidence = _evidence(usage, chains, address)
        _record(db, key, index, address, evidence, now)
        checked += 1
        if evidence is None:
            return
        log.warning(
            "store %s: deposit address %s (index %d) was used before (%s); skipped for good",
            store.name,
            address,
            index,
            evidence,
        )
        index += 1


def take_index(session: Session, store: StoreSettings, now: datetime, *, checked: bool) -> int:
    """Take the next derivation index for the store's xpub (the counter row locked): at or above
    `first_address_index`, past every index recorded used; with `checked`, only one recorded
    unused within CHECK_FRESH, else raise Unchecked (nothing changed)."""
    key = xpub_id(store.xpub)
    counter = session.scalar(
        select(AddressCounter).where(AddressCounter.xpub_id == key).with_for_update()
    )
    if counter is None:
        counter = AddressCounter(xpub_id=key, next_index=0)
        session.add(counter)
    index = max(counter.next_index, store.first_address_index)
    rows = {
        row.address_index: row
        for row in session.scalars(
            select(AddressCheck).where(
                AddressCheck.xpub_id == key, AddressCheck.address_index >= index
            )
        )
    }
    while index in rows and rows[index].used:
        index += 1
    if checked and (index not in rows or rows[index].checked_at <= now - CHECK_FRESH):
        raise Unchecked(f"index {index} is not checked")
    counter.next_index = index + 1
    session.flush()
    return index


def highest_index(session: Session, store: StoreSettings) -> int | None:
    """Return the highest index this database handed out or found used for the store's xpub
    (None: none yet): what the merchant keeps `first_address_index` above after a reset."""
    key = xpub_id(store.xpub)
    counter = session.get(AddressCounter, key)
    used = session.scalar(
        select(func.max(AddressCheck.address_index)).where(
            AddressCheck.xpub_id == key, AddressCheck.used.is_(True)
        )
    )
    handed_out = session.scalar(
        select(func.max(Invoice.address_index)).where(Invoice.store == store.name)
    )
    found = [i for i in (used, handed_out) if i is not None]
    if counter is not None and counter.next_index > 0:
        found.append(counter.next_index - 1)
    return max(found) if found else None


def _evidence(usage: UsageReader, chains: list[str], address: str) -> str | None:
    """Return what shows `address` was used on any of `chains` ("chain: what; …"), or None."""
    found = []
    for chain in chains:
        try:
            evidence = usage(chain, address)
        except ChainUnavailable as exc:
            raise ChainError(
                f"cannot check deposit address {address} on {chain} before handing it out: "
                f"{exc.message}"
            ) from exc
        if evidence:
            found.append(f"{chain}: {evidence}")
    return "; ".join(found) or None


def _record(
    db: Database, key: str, index: int, address: str, evidence: str | None, now: datetime
) -> None:
    """Write one check's answer (a later check of the same index replaces it)."""
    values = {
        "xpub_id": key,
        "address_index": index,
        "address": address,
        "used": evidence is not None,
        "evidence": evidence or "",
        "checked_at": now,
    }
    insert = sqlite_insert if db.is_sqlite else pg_insert
    statement = insert(AddressCheck).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["xpub_id", "address_index"],
        set_={k: statement.excluded[k] for k in ("used", "evidence", "checked_at", "address")},
    )
    with db.transaction() as session:
        session.execute(statement)


def index_report(settings: Settings) -> list[str]:
    """Return `relay check-config`'s lines on xpub indexes: per xpub store, the highest index in
    use and the `first_address_index` to set if the database is ever lost (the database is only
    read; a missing or unreadable one is said so)."""
    stores = [store for store in settings.stores.values() if store.xpub]
    if not stores:
        return []
    lines = [
        "  keep with this file: each xpub store's highest deposit address index in use; on a new "
        "database set first_address_index above it (addresses handed out but never paid look "
        "unused on chain)"
    ]
    url = settings.relay.database_url
    path = url.partition(":///")[2]
    if url.startswith("sqlite") and (not path or not Path(path).exists()):
        return [*lines, "  no database yet: no deposit address handed out"]
    db = Database(url)
    try:
        with db.transaction() as session:
            found = {store.name: highest_index(session, store) for store in stores}
    except SQLAlchemyError as exc:
        return [*lines, f"  database not read ({type(exc).__name__}): indexes in use unknown"]
    finally:
        db.dispose()
    for store in stores:
        highest = found[store.name]
        if highest is None:
            lines.append(f"  store {store.name}: no deposit address handed out yet")
        else:
            lines.append(
                f"  store {store.name}: deposit address indexes in use up to {highest}; "
                f"on a new database set first_address_index = {highest + 1} (or higher)"
            )
    return lines
