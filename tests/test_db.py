"""The schema: a database made by an older relay is upgraded in place on start; statements that
commit by themselves."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import pytest
from sqlalchemy import Table, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from relay.config import parse_settings
from relay.db import Database
from relay.invoices import find_invoice, open_invoice
from relay.models import SCHEMA_VERSION, InboxOrder, SchemaVersion, utcnow
from relay.pricing import Rates
from relay.records import OrderData
from tests.conftest import config_dict
from tests.support import inbox_row


def test_a_version_1_database_gets_the_renewal_column_refunds_and_the_inbox(db: Database) -> None:
    settings = parse_settings(config_dict(), env={})
    order = OrderData(store="shop", order_id="1", currency="USD", total=Decimal("5.00"))
    open_invoice(db, settings, order, utcnow(), Rates(settings))
    with db.engine.begin() as connection:  # what schema version 1 looked like
        connection.execute(text("DROP TABLE refunds"))
        connection.execute(text("DROP TABLE inbox"))
        connection.execute(text("ALTER TABLE invoices DROP COLUMN subscription_id"))
        connection.execute(text("UPDATE schema_version SET version = 1"))
    assert "subscription_id" not in {c["name"] for c in inspect(db.engine).get_columns("invoices")}

    db.create_schema()
    db.create_schema()  # idempotent
    assert {"refunds", "inbox"} <= set(inspect(db.engine).get_table_names())
    with db.transaction() as session:
        assert session.scalar(select(SchemaVersion.version)) == SCHEMA_VERSION == 5
        invoice = find_invoice(session, "shop", "1")
        assert invoice is not None and invoice.subscription_id == ""


def test_a_version_3_inbox_gets_dead_at_and_its_failed_rows_become_dead_letters(
    db: Database,
) -> None:
    with db.engine.begin() as connection:  # what schema version 3's inbox looked like
        connection.execute(cast(Table, InboxOrder.__table__).insert(), [inbox_row("1")])
        connection.execute(text("ALTER TABLE inbox DROP COLUMN dead_at"))
        connection.execute(text("UPDATE inbox SET status = 'failed'"))
        connection.execute(text("UPDATE schema_version SET version = 3"))
    db.create_schema()
    db.create_schema()  # idempotent
    with db.transaction() as session:
        assert session.scalar(select(SchemaVersion.version)) == SCHEMA_VERSION == 5
        row = session.scalars(select(InboxOrder)).one()
        assert (row.status, row.dead_at) == ("dead", None)


def test_a_single_statement_is_committed_when_it_returns_and_whole_or_not_at_all(
    db: Database,
) -> None:
    table = cast(Table, InboxOrder.__table__)
    with db.single_statements() as connection:
        connection.execute(table.insert(), [inbox_row("1")])
        connection.execute(table.insert().values([inbox_row("2"), inbox_row("3")]))
        with db.transaction() as session:  # another connection sees both: already committed
            assert set(session.scalars(select(InboxOrder.order_id))) == {"1", "2", "3"}
        with pytest.raises(IntegrityError):  # the second row breaks NOT NULL: neither is stored
            connection.execute(table.insert().values([inbox_row("4"), inbox_row("5", store=None)]))
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(InboxOrder)) == 3
        stored = session.scalars(select(InboxOrder).where(InboxOrder.order_id == "2")).one()
        assert stored.order == {"order_id": "2"} and stored.received_at.tzinfo is not None
