"""Make the engine and sessions; create the schema on start. Only this module makes sessions.

SQLite runs in WAL mode with `BEGIN IMMEDIATE` for every transaction, so concurrent writers wait
for each other (busy timeout) instead of failing on a lock upgrade. PostgreSQL runs each
transaction at READ COMMITTED; callers lock rows with `SELECT … FOR UPDATE` where they must.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
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

    def create_schema(self) -> None:
        """Create missing tables and record the schema version (idempotent)."""
        Base.metadata.create_all(self.engine)
        with self.transaction() as session:
            if session.scalar(select(SchemaVersion.version)) is None:
                session.add(SchemaVersion(version=SCHEMA_VERSION))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session inside one transaction: commit on success, roll back on error."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


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
