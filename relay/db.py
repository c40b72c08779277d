"""Make the engine and sessions; create the schema on start. Only this module makes sessions.

SQLite runs in WAL mode with `BEGIN IMMEDIATE` for every transaction, so concurrent writers wait
for each other (busy timeout) instead of failing on a lock upgrade. Within one process the
transactions also take a lock of the process first: SQLite's busy handler waits by sleeping (up to
100 ms a turn) and so leaves the database idle while threads sleep, whereas a waiter on the lock
starts the moment the previous transaction ends (bench/README.md, ingest). PostgreSQL runs each
transaction at READ COMMITTED; callers lock rows with `SELECT … FOR UPDATE` where they must.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from relay.models import SCHEMA_VERSION, Base, SchemaVersion

SQLITE_BUSY_TIMEOUT_SECONDS = 30


class Database:
    """Own the engine and the session factory for one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {
                "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                "check_same_thread": False,
            }
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite takes one writer at a time anyway; queue this process's threads here instead
        self._turn: AbstractContextManager[Any] = (
            threading.RLock() if self.is_sqlite else nullcontext()
        )

    def create_schema(self) -> None:
        """Create missing tables, upgrade older ones and record the schema version (idempotent)."""
        Base.metadata.create_all(self.engine)
        _upgrade(self.engine)
        with self.transaction() as session:
            row = session.scalar(select(SchemaVersion).with_for_update())
            if row is None:
                session.add(SchemaVersion(version=SCHEMA_VERSION))
            elif row.version < SCHEMA_VERSION:
                row.version = SCHEMA_VERSION

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session inside one transaction: commit on success, roll back on error."""
        with self._turn:
            session = self._sessions()
            try:
                with session.begin():
                    yield session
            finally:
                session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


# Columns added to existing tables since schema version 1: (table, column, DDL type and default).
ADDED_COLUMNS = (("invoices", "subscription_id", "VARCHAR(128) NOT NULL DEFAULT ''"),)


def _upgrade(engine: Engine) -> None:
    """Add the columns a database made by an older relay lacks (new tables come from create_all)."""
    for table, column, ddl in ADDED_COLUMNS:
        if _has_column(engine, table, column):
            continue
        try:
            with engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
        except DBAPIError:
            if not _has_column(engine, table, column):  # not another process's upgrade: real
                raise


def _has_column(engine: Engine, table: str, column: str) -> bool:
    return column in {c["name"] for c in inspect(engine).get_columns(table)}


def _configure_sqlite(engine: Engine) -> None:
    """Use WAL and immediate transactions (pysqlite's own BEGIN handling is turned off)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
