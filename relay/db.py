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
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVarTuple, cast

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Table,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import CreateIndex, CreateTable

from relay.models import SCHEMA_VERSION, Base, Invoice, SchemaVersion

SQLITE_BUSY_TIMEOUT_SECONDS = 30
_SINGLE = "relay_single_statements"  # execution option: SQLite runs the statement without BEGIN
Ts = TypeVarTuple("Ts")


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

    def for_claim(self, query: Select[*Ts]) -> Select[*Ts]:
        """Return a claim's SELECT locking its rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL,
        so concurrent workers claim different rows; SQLite serializes the whole transaction."""
        return query if self.is_sqlite else query.with_for_update(skip_locked=True)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """Yield a Core connection inside one transaction (hot paths that need no ORM objects)."""
        with self._turn, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def single_statements(self) -> Iterator[Connection]:
        """Yield a Core connection on which each statement is its own transaction, atomic and
        committed when it returns: no BEGIN or COMMIT around it (SQLite's autocommit mode;
        PostgreSQL's AUTOCOMMIT isolation level), so a write that fits one statement costs
        one step of SQLite, or one round trip to PostgreSQL."""
        options = {_SINGLE: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        with self._turn, self.engine.connect() as connection:
            yield connection.execution_options(**options)
            connection.commit()  # closes SQLAlchemy's own bookkeeping; nothing is left open

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class GroupedInserts:
    """Insert rows into one table from many threads, committing concurrent rows together.

    `insert(row)` returns once its row is committed, or raises what the commit raised; a row
    whose own values are wrong (a missing column, a null in a NOT NULL column, a value its
    column type refuses) is refused in its caller's thread before it is queued, so it fails no
    other caller's row. A thread that finds no write running becomes the writer: it writes
    every row queued so far (up to `MAX_ROWS`) with one multi-row INSERT statement, which is its
    own transaction (`Database.single_statements`), wakes their threads, and hands the writing
    on to the first thread that queued meanwhile (group commit). Waiting threads sleep on their
    own event, so a commit wakes each of them once. A batch's rows are committed together or
    not at all.

    The statement is made once per batch size from the table's columns, and the values go
    through each column type's own bind processor (JSON, UTC datetimes), so a batch costs SQLite
    one prepare and one step and PostgreSQL one round trip, with none of the per-execution
    work of a Core `insert()` (bench/README.md, ingest). Every row gives every column but an
    autoincrement primary key.
    """

    MAX_ROWS = 500  # below SQLite's 32,766 and PostgreSQL's 65,535 parameters per statement

    def __init__(self, db: Database, table: Table) -> None:
        dialect = db.engine.dialect
        quote = dialect.identifier_preparer
        mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
        if mark is None:
            raise ValueError(f"GroupedInserts: unsupported paramstyle {dialect.paramstyle!r}")
        columns = [column for column in table.columns if column is not table.autoincrement_column]
        self._db = db
        self._columns = [
            (
                column.name,
                column.nullable is not False,
                column.type.dialect_impl(dialect).bind_processor(dialect),
            )
            for column in columns
        ]
        names = ", ".join(quote.format_column(column) for column in columns)
        self._head = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES "
        self._group = "(" + ", ".join([mark] * len(columns)) + ")"
        self._sql: dict[int, str] = {}
        self._lock = threading.Lock()
        self._queue: list[_QueuedRow] = []
        self._writing = False

    def insert(self, row: dict[str, Any]) -> None:
        """Insert one row (column name → value); return when it is committed.

        raises KeyError naming a column the row lacks, ValueError naming a NOT NULL column it
        gives None, or what a column type's bind processor raises for a value (e.g. ValueError
        for a naive datetime), with nothing queued.
        """
        mine = _QueuedRow(self.values(row))
        with self._lock:
            self._queue.append(mine)
            writer = not self._writing
            self._writing = True
        if not writer:
            mine.event.wait()
            if not mine.writer:
                if mine.error is not None:
                    raise mine.error
                return
        with self._lock:
            batch = self._queue[: self.MAX_ROWS]
            del self._queue[: self.MAX_ROWS]
        error: BaseException | None = None
        try:
            self._write([item.values for item in batch])
        except BaseException as exc:
            error = exc
        with self._lock:
            successor = self._queue[0] if self._queue else None
            self._writing = successor is not None
        for item in batch:
            if item is not mine:
                item.error = error
                item.event.set()
        if successor is not None:
            successor.writer = True
            successor.event.set()
        if error is not None:
            raise error

    def values(self, row: dict[str, Any], encoded: Collection[str] = ()) -> tuple[Any, ...]:
        """Return a row's values in column order, as the database driver takes them; raises
        as `insert` does for a row whose values are wrong. The columns named in `encoded` hold
        what the driver takes already (JSON text for a JSON column: both drivers let the
        database parse it)."""
        values = []
        for name, nullable, process in self._columns:
            if name not in row:
                raise KeyError(f"row has no value for column {name!r}")
            value = row[name]
            if value is None and not nullable:
                raise ValueError(f"column {name!r} may not be null")
            values.append(value if process is None or name in encoded else process(value))
        return tuple(values)

    def insert_values(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows of driver values (from `values`) now, `MAX_ROWS` per statement, each
        statement its own transaction (a failure leaves the earlier statements committed)."""
        for start in range(0, len(rows), self.MAX_ROWS):
            self._write(rows[start : start + self.MAX_ROWS])

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows of driver values with one statement (one transaction)."""
        sql = self._sql.get(len(rows))
        if sql is None:
            sql = self._sql.setdefault(len(rows), self._head + ", ".join([self._group] * len(rows)))
        with self._db.single_statements() as connection:
            connection.exec_driver_sql(sql, tuple(value for row in rows for value in row))


class _QueuedRow:
    __slots__ = ("error", "event", "values", "writer")

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values
        self.event = threading.Event()
        self.writer = False  # set when this row's thread is to write the next batch
        self.error: BaseException | None = None


# Columns added to existing tables since schema version 1: (table, column, DDL type and default).
ADDED_COLUMNS = (
    ("invoices", "subscription_id", "VARCHAR(128) NOT NULL DEFAULT ''"),
    ("deliveries", "action", "VARCHAR(120) NOT NULL DEFAULT ''"),
    ("inbox", "dead_at", "TIMESTAMP NULL"),
    ("invoices", "return_url", "VARCHAR(2000) NOT NULL DEFAULT ''"),
    ("invoices", "closed_by", "VARCHAR(40) NOT NULL DEFAULT ''"),
)
# Stored values renamed since: (table, column, old value, new value). Inbox rows an older relay
# marked "failed" are dead letters now (relay/inbox.py), to be listed and retried as such.
RENAMED_VALUES = (("inbox", "status", "failed", "dead"),)


# Before schema version 5 an order had one invoice: this constraint said so.
ONE_INVOICE_PER_ORDER = "uq_invoice_store_order"


def _upgrade(engine: Engine) -> None:
    """Bring a database made by an older relay to the current schema (new tables come from
    create_all): add the columns it lacks, rename stored values, drop the one-invoice-per-order
    constraint, and add the invoices' indexes it lacks (one open invoice per order among them)."""
    for table, column, ddl in ADDED_COLUMNS:
        if _has_column(engine, table, column):
            continue
        try:
            with engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
        except DBAPIError:
            if not _has_column(engine, table, column):  # not another process's upgrade: real
                raise
    with engine.begin() as connection:
        for table, column, old, new in RENAMED_VALUES:
            connection.execute(
                text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old"),
                {"old": old, "new": new},
            )
    if engine.dialect.name == "sqlite":
        _rebuild_sqlite_invoices(engine)
    else:
        with engine.begin() as connection:
            connection.execute(
                text(f"ALTER TABLE invoices DROP CONSTRAINT IF EXISTS {ONE_INVOICE_PER_ORDER}")
            )
    for index in cast(Table, Invoice.__table__).indexes:
        try:
            with engine.begin() as connection:
                index.create(connection, checkfirst=True)
        except DBAPIError:
            if index.name not in {i["name"] for i in inspect(engine).get_indexes("invoices")}:
                raise


def _rebuild_sqlite_invoices(engine: Engine) -> None:
    """Remake SQLite's invoices table without the old constraint, rows kept.

    SQLite cannot drop a table constraint, so this follows its documented way of changing a
    table (sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes"):
    with foreign keys off, create the new table, copy the rows, drop the old one, rename the new
    one, make its indexes, check the foreign keys; in one immediate transaction, so a second
    process starting at once waits and then finds nothing left to do.
    """
    table = cast(Table, Invoice.__table__)
    columns = ", ".join(engine.dialect.identifier_preparer.quote(c.name) for c in table.columns)
    with engine.connect() as pooled:
        connection = pooled.execution_options(**{_SINGLE: True})
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                ddl = connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'invoices'"
                ).scalar()
                if ddl is not None and ONE_INVOICE_PER_ORDER in str(ddl):
                    create = str(CreateTable(table).compile(engine))
                    renamed = "CREATE TABLE invoices_upgrade "
                    connection.exec_driver_sql(create.replace("CREATE TABLE invoices ", renamed, 1))
                    connection.exec_driver_sql(
                        f"INSERT INTO invoices_upgrade ({columns}) SELECT {columns} FROM invoices"
                    )
                    connection.exec_driver_sql("DROP TABLE invoices")
                    connection.exec_driver_sql("ALTER TABLE invoices_upgrade RENAME TO invoices")
                    for index in table.indexes:
                        connection.exec_driver_sql(str(CreateIndex(index).compile(engine)))
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"invoices upgrade broke foreign keys: {broken[:5]}")
                connection.exec_driver_sql("COMMIT")
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            pooled.commit()


def _has_column(engine: Engine, table: str, column: str) -> bool:
    return column in {c["name"] for c in inspect(engine).get_columns(table)}


def _configure_sqlite(engine: Engine) -> None:
    """Use WAL and immediate transactions (pysqlite's own BEGIN handling is turned off), except
    on `Database.single_statements` connections, whose statements commit by themselves."""

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
        if not connection.get_execution_options().get(_SINGLE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
