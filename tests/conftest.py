"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set) and demo data. Helpers live in tests/helpers.py.

Every test starts from the same empty schema, and most from the same demo data; making
them again for each of the suite's ~1,800 tests was a large part of its time. So both are
made once per session, by the same code as before, and copied into each test:

- the schema: on SQLite ``create_all`` runs once into a template file, and each test's
  database file is a byte copy of it (PostgreSQL keeps its one session schema, emptied
  with TRUNCATE … RESTART IDENTITY before each test, as before);
- the demo data: ``seed_demo`` runs once, in a database of its own kind, and its rows are
  kept; ``demo`` inserts those rows, with the same ids, into the test's empty database
  (on PostgreSQL it also sets each sequence where the seeding left it), and returns the
  passwords ``seed_demo`` returned. A test sees the tables, the rows, the ids and the next
  ids it would have seen had it seeded itself; what differs is only what ``seed_demo``
  draws afresh each time (passwords, session nonces) and its timestamps, which are the
  session's start instead of the test's. The ``demo`` rows must be the first ones in the
  test's database: rows written before would clash on their ids (a loud error);
- the compiled templates: each test's app has a new Jinja environment, which compiled
  every template it rendered again (about 15 ms a template, several per page test). The
  apps share one in-memory bytecode cache instead (Jinja's own mechanism), keyed by the
  template, its source and every environment setting that shapes the compiled code, so an
  app whose templates or settings differ compiles its own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

import jinja2
import pytest
import sqlalchemy as sa
from helpers import PG_URL, make_app, prepare_database

from oversight import create_app
from oversight.extensions import db
from oversight.services.uow import unit_of_work

# test_bench_search.py checks bench/search.py, which builds its own SQLite database whatever
# TEST_DATABASE_URL says, and the benchmark's corpus generator (no database at all). The
# PostgreSQL suite would repeat both unchanged (about 20 s of the longer suite), so only the
# SQLite suite collects it; the same goes for tests/perf/test_load_smoke.py (see
# tests/perf/conftest.py). Nothing is skipped: each runs once in every CI run.
collect_ignore = ["test_bench_search.py"] if PG_URL else []


@pytest.fixture(scope="session")
def _pg_schema():
    """Create the PostgreSQL schema once per session; tests truncate."""
    if not PG_URL:
        yield None
        return
    app = create_app({"SQLALCHEMY_DATABASE_URI": PG_URL, "TESTING": True})
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    yield PG_URL


@dataclass
class DemoRows:
    """What ``seed_demo`` wrote into an empty database: the rows per table (in the order
    the tables are created), where it left PostgreSQL's sequences, and its passwords."""

    tables: list[tuple[sa.Table, list[dict]]] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    def insert(self) -> dict[str, str]:
        """Write the rows into the current app's (empty) database, as ``seed_demo`` and
        its commit would; return a copy of the passwords."""
        with unit_of_work():
            conn = db.session.connection()
            for table, rows in self.tables:
                conn.execute(table.insert(), rows)
            for sequence, value in self.sequences.items():
                conn.execute(sa.text("SELECT setval(CAST(:sequence AS regclass), :value)"),
                             {"sequence": sequence, "value": value})
        return dict(self.passwords)


class CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in memory for the session and shared by the apps
    (see the module doc). Jinja checks the source's checksum itself; the key adds what
    else the compiled code depends on: the environment's settings and extensions, and how
    each filter and test takes its arguments."""

    def __init__(self):
        self._code: dict[tuple, object] = {}

    @staticmethod
    def _settings(env: jinja2.Environment) -> tuple:
        def named(value):
            return (getattr(value, "__module__", None), value.__qualname__) \
                if callable(value) else value

        def passing(functions: dict) -> tuple:
            return tuple(sorted((k, repr(getattr(f, "jinja_pass_arg", None)))
                                for k, f in functions.items()))

        return (type(env), env.code_generator_class, named(env.autoescape),
                named(env.finalize), env.optimized, env.is_async,
                getattr(env, "newstyle_gettext", None), tuple(sorted(env.extensions)),
                env.block_start_string, env.block_end_string, env.variable_start_string,
                env.variable_end_string, env.comment_start_string, env.comment_end_string,
                env.line_statement_prefix, env.line_comment_prefix, env.trim_blocks,
                env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline,
                passing(env.filters), passing(env.tests))

    def get_bucket(self, environment, name, filename, source):
        key = (self._settings(environment), self.get_cache_key(name, filename))
        bucket = jinja2.bccache.Bucket(environment, key, self.get_source_checksum(source))
        bucket.code = self._code.get((key, bucket.checksum))
        return bucket

    def set_bucket(self, bucket):
        self._code[(bucket.key, bucket.checksum)] = bucket.code


@pytest.fixture(scope="session")
def compiled_templates() -> CompiledTemplates:
    """One Jinja bytecode cache for every app of the session (see the module doc)."""
    return CompiledTemplates()


def _pg_sequences() -> dict[str, int]:
    """{qualified name: last value} of the sequences that have given out a value."""
    rows = db.session.execute(sa.text(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value "
        "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"))
    return {name: value for name, value in rows}


@pytest.fixture(scope="session")
def _prepared(_pg_schema, tmp_path_factory):
    """(SQLite schema file or None, DemoRows), made once per session (see the module doc).
    On PostgreSQL the demo is seeded into the session schema, read, and truncated away
    before any test runs."""
    from oversight.seed import seed_demo

    schema_file = None
    if not PG_URL:
        folder = tmp_path_factory.mktemp("schema")
        application = make_app(folder)
        with application.app_context():
            db.create_all()
            db.session.remove()
            db.engine.dispose()
        schema_file = folder / "test.db"
        leftovers = [p.name for p in folder.iterdir() if p.name.startswith("test.db-")]
        assert leftovers == [], f"the template database is not closed cleanly: {leftovers}"

    folder = tmp_path_factory.mktemp("demo")
    if schema_file is not None:
        shutil.copyfile(schema_file, folder / "test.db")
    application = make_app(folder, SEARCH_INLINE=False)
    demo_rows = DemoRows()
    with application.app_context():
        try:
            if PG_URL:
                prepare_database()  # empty the session schema (the SQLite copy is empty)
            with unit_of_work():
                demo_rows.passwords = seed_demo()
            db.session.remove()
            for table in db.metadata.sorted_tables:
                rows = db.session.execute(
                    sa.select(table).order_by(*table.primary_key.columns)).all()
                if rows:
                    demo_rows.tables.append((table, [
                        {c.key: row._mapping[c] for c in table.columns} for row in rows]))
            if PG_URL:
                demo_rows.sequences = _pg_sequences()
                db.session.commit()
                prepare_database()  # leave the session schema empty, as each test expects
        finally:
            db.session.remove()
            db.engine.dispose()
    assert demo_rows.tables, "seed_demo wrote nothing"
    return schema_file, demo_rows


@pytest.fixture
def app(request, tmp_path, _prepared, compiled_templates):
    # Indexing after every commit is the app's default; tests that do not search skip that
    # work (their outbox rows stay for a later pass, as in production without a worker).
    inline = request.node.get_closest_marker("search") is not None
    schema_file, _demo_rows = _prepared
    if schema_file is not None:
        # SQLite: the file create_all made once (module doc); make_app's database path.
        shutil.copyfile(schema_file, tmp_path / "test.db")
    application = make_app(tmp_path, SEARCH_INLINE=inline)
    application.jinja_env.bytecode_cache = compiled_templates
    with application.app_context():
        if PG_URL:
            prepare_database()  # TRUNCATE … RESTART IDENTITY
        yield application
        db.session.remove()
        try:
            _counts_follow_the_cases()
        finally:
            db.engine.dispose()  # close pooled connections: -W error turns leaks into failures


def _counts_follow_the_cases() -> None:
    """After every test, the kept counts of cases (services.counts) equal the case tables:
    whatever the test did through the app (intake, transitions, cascades, savepoints
    rolled back, requests that failed), no write path left a count behind."""
    from oversight.services import counts

    with db.engine.connect() as conn:
        if not sa.inspect(conn).has_table("case_count"):
            return  # a test that dropped the schema
        wrong = counts.check(conn)
    assert wrong == [], f"case_count differs from the cases ((key, kept, actual)): {wrong}"


@pytest.fixture
def demo(app, _prepared):
    """The demo organs, officers and users (``seed_demo``'s rows, made once per session:
    see the module doc); return {username: password}."""
    _schema_file, demo_rows = _prepared
    return demo_rows.insert()


@pytest.fixture
def client(app):
    return app.test_client()
