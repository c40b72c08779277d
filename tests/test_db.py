"""The schema: a database made by an older relay is upgraded in place on start."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import inspect, select, text

from relay.config import parse_settings
from relay.db import Database
from relay.invoices import OrderData, find_invoice, open_invoice
from relay.models import SCHEMA_VERSION, SchemaVersion, utcnow
from tests.conftest import config_dict


def test_a_version_1_database_gets_the_renewal_column_refunds_and_the_inbox(db: Database) -> None:
    settings = parse_settings(config_dict(), env={})
    order = OrderData(store="shop", order_id="1", currency="USD", total=Decimal("5.00"))
    open_invoice(db, settings, order, utcnow())
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
        assert session.scalar(select(SchemaVersion.version)) == SCHEMA_VERSION == 3
        invoice = find_invoice(session, "shop", "1")
        assert invoice is not None and invoice.subscription_id == ""
