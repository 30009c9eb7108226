"""Engine set-up for SQLite and PostgreSQL.

SQLite needs three things to behave under several gunicorn workers: WAL so readers don't
block the writer, a busy timeout so a second writer waits instead of failing, and write
transactions opened with ``BEGIN IMMEDIATE``. Without the last one a transaction that read
first and then writes fails at once with "database is locked" when another worker
committed in between (see SQLAlchemy's "Serializable isolation / Savepoints / Transactional
DDL" recipe for pysqlite).

The write lock is held from ``BEGIN IMMEDIATE`` to the commit, so a write transaction
should begin where the writing does (``unit_of_work``), not where a request first reads:
``begin_writing`` ends a transaction that was opened only to read. With the lock held for
a whole POST request (form, menus, validation), two gunicorn workers filing complaints
spent over half their time waiting for each other in SQLite's busy handler.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import logging
import os
import stat
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

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


def writing() -> bool:
    """Whether the current context is inside ``write_intent`` (a unit of work)."""
    return _write_intent.get()


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _on_pg_connect(dbapi_connection, _record):
            # psycopg prepares a statement it has run five times on a connection, and
            # PostgreSQL may then plan it once for any values. A scope is one array
            # parameter (``any_of``), so a station's queue and a city bureau's are one
            # statement whose best plans differ (read the station's few cases from the
            # organ index; walk the dates for the bureau's thousands): plan each
            # execution for its own values, as an unprepared statement is.
            with dbapi_connection.cursor() as cur:
                cur.execute("SET plan_cache_mode = force_custom_plan")
            dbapi_connection.commit()
        return
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
        immediate = _write_intent.get()
        conn.info[_BEGUN] = (immediate, conn.connection.dbapi_connection.total_changes)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


#: connection info: (begun IMMEDIATE?, the connection's total_changes at the BEGIN)
_BEGUN = "oversight_begun"


def begin_writing(session) -> None:
    """Before a unit of work: on SQLite, end the session's transaction if it was begun
    only to read, so that the unit of work begins its own, IMMEDIATE, at its first
    statement. What was read stays in the session and is read again, fresh, when used
    (the commit expires it).

    Only a transaction that has read and nothing else is ended: one begun IMMEDIATE (an
    enclosing unit of work) is kept, and so is one that changed a row or holds unflushed
    changes: those must commit or roll back with the unit of work, never here."""
    if not session.in_transaction() or session.get_bind().dialect.name != "sqlite":
        return
    if session.new or session.dirty or session.deleted:
        return
    conn = session.connection()
    immediate, changes_at_begin = conn.info.get(_BEGUN, (True, None))
    if not immediate and conn.connection.dbapi_connection.total_changes == changes_at_begin:
        session.commit()


def dialect_insert(session):
    """The INSERT construct of the database (SQLite's or PostgreSQL's) of ``session`` (or
    of a connection), the one that knows ``ON CONFLICT``."""
    bind = session if isinstance(session, sa.Connection) else session.get_bind()
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


_turn_held: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "oversight_turn_held", default=False
)


def _turn_file(session) -> str | None:
    """The file whose lock gives a unit of work its turn to write: beside the SQLite
    database file (None for PostgreSQL, or a database in memory)."""
    bind = session.get_bind()
    database = bind.url.database if bind.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + "-turn"


def _open_turn_file(path: str) -> int | None:
    """The turn file, opened; made like SQLite makes its ``-wal`` file: with the database
    file's permissions and, for root, its owner, so that a command run as root does not
    lock the web workers out of it. None when it cannot be opened (another user's file, a
    read-only folder): the unit of work then waits in SQLite's busy handler, as before."""
    database = path.removesuffix("-turn")
    try:
        st = os.stat(database)
        mode = stat.S_IMODE(st.st_mode) & 0o666 or 0o600
    except OSError:
        st, mode = None, 0o600
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    except OSError:
        if not _turn_unavailable:
            _turn_unavailable.append(path)
            log.warning("cannot open %s: writers wait in SQLite's busy handler", path)
        return None
    if st is not None and os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.fchown(fd, st.st_uid, st.st_gid)
    return fd


#: the turn files this process could not open (warned once)
_turn_unavailable: list[str] = []


@contextlib.contextmanager
def writer_turn(session) -> Iterator[None]:
    """On SQLite, wait for the write lock in the kernel's queue rather than in SQLite's.

    A transaction that finds the database locked sleeps in SQLite's busy handler and
    tries again: 1, 2, 5, 10, 15, 20… ms apart. Two gunicorn workers filing complaints
    (the lock held a few ms at a time) spent a quarter of their time asleep there, often
    after the lock was free, and a worker could take the lock again before the other
    woke. Here a unit of work that is about to begin its own write transaction first
    takes an exclusive ``flock`` on a file beside the database, and is woken the moment
    the holder's unit of work ends. Each turn opens the file afresh, so two threads of one
    process wait for each other too, and a worker that dies releases its turn.

    Writers outside a unit of work (the bulk seeder, a migration) still meet SQLite's own
    lock: nothing depends on the turn for correctness. No turn is taken inside one
    already held (a unit of work within another), nor by a session already inside a
    transaction: it may hold SQLite's lock, and waiting for a turn then could hold up the
    one who has the turn."""
    path = _turn_file(session)
    fd = None
    if path is not None and not _turn_held.get() and not session.in_transaction():
        fd = _open_turn_file(path)
    if fd is None:
        yield
        return
    token = _turn_held.set(True)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        _turn_held.reset(token)
        os.close(fd)  # closing the file releases its lock


def insert_ignoring_conflict(session, table, **values) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either database (counter rows, reminders).
    Returns whether this call inserted the row."""
    # rowcount is not reliable here on every driver (psycopg reports -1): ask for the key
    # back, which comes only from a row this statement inserted.
    statement = (dialect_insert(session)(table).values(**values).on_conflict_do_nothing()
                 .returning(*table.primary_key.columns))
    return session.execute(statement).first() is not None


def page_of(query, limit: int, offset: int = 0):
    """``query`` limited to ``limit`` rows from ``offset``, both written into the SQL as
    numbers rather than sent as parameters (still one cached statement: SQLAlchemy fills
    them in at execution).

    SQLite plans a query with ``LIMIT ?`` as though it did not know how few rows are
    wanted. For a list of rare states in a wide scope (the city bureau's to-do queue: 67
    complaints of 37,000) it then walked the whole created_at index, checking each row,
    instead of reading the matches from the (organ_id, state, created_at) index and
    sorting them: 33 ms instead of 0.2 ms at 10k cases, 46 ms instead of 0.5 ms for the
    open complaints at 1M. With the numbers in the SQL it picks the second plan where it
    is cheaper and keeps walking the dates where that is (all of a wide scope's cases)."""
    return (query.limit(sa.literal(int(limit), literal_execute=True))
            .offset(sa.literal(int(offset), literal_execute=True)))


def any_of(column, values, dialect: str):
    """``column`` is one of ``values`` (integers), as each database takes it best.

    SQLite: ``IN (?, ?, …)``, a parameter per value; its planner counts them (see
    ``services.organs``). PostgreSQL: ``= ANY(%s)``, one array parameter. With a
    parameter per value, a city bureau's 46 organs made each statement a long text that
    SQLAlchemy rendered afresh for every execution (a cast per value) and psycopg parsed
    again every time (it caches statements shorter than 4 kB only); the queue page's counts
    spent several milliseconds on that alone. PostgreSQL plans both the same: it turns the
    list into an array itself."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(sa.Integer)))
    return column.in_(values)
