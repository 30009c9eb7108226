"""Engine set-up for SQLite and PostgreSQL.

SQLite needs three things to behave under several gunicorn workers: WAL so readers don't
block the writer, a busy timeout so a second writer waits instead of failing, and write
transactions opened with ``BEGIN IMMEDIATE``. Without the last one a transaction that read
first and then writes fails at once with "database is locked" when another worker
committed in between (see SQLAlchemy's "Serializable isolation / Savepoints / Transactional
DDL" recipe for pysqlite).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "oversight_write_intent", default=False
)


@contextlib.contextmanager
def write_intent() -> Iterator[None]:
    """Mark the current context as one that will write, so SQLite begins IMMEDIATE."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def set_write_intent(value: bool) -> contextvars.Token:
    return _write_intent.set(value)


def reset_write_intent(token: contextvars.Token) -> None:
    _write_intent.reset(token)


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised via engine
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own implicit BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def insert_ignoring_conflict(session, table, **values) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either database (counter rows, reminders).
    Returns whether this call inserted the row."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # rowcount is not reliable here on every driver (psycopg reports -1): ask for the key
    # back, which comes only from a row this statement inserted.
    statement = (insert(table).values(**values).on_conflict_do_nothing()
                 .returning(*table.primary_key.columns))
    return session.execute(statement).first() is not None
