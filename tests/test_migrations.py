"""The Alembic history builds exactly the schema the models declare, with one head."""

import contextlib
import os
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from oversight import create_app
from oversight.config import REPO_ROOT
from oversight.extensions import bind_migrations, db

PG_URL = os.environ.get("TEST_DATABASE_URL", "")


def test_single_head():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1


def _fresh_url(tmp_path):
    if not PG_URL:
        return f"sqlite:///{tmp_path / 'migrated.db'}", None
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", (engine, schema)


def _drop(pg) -> None:
    if pg:
        engine, schema = pg
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def _storage_parameters(conn) -> dict[str, list[str]]:
    """Each table's PostgreSQL storage parameters, as ``name=value`` (none on SQLite)."""
    if conn.dialect.name != "postgresql":
        return {}
    rows = conn.execute(sa.text(
        "SELECT relname, reloptions FROM pg_class WHERE relkind = 'r' "
        "AND relnamespace = current_schema()::regnamespace AND reloptions IS NOT NULL"))
    return {name: sorted(options) for name, options in rows}


def test_models_and_migrations_agree(tmp_path):
    url, pg = _fresh_url(tmp_path)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url,
                          "INSTANCE_PATH": str(tmp_path / "instance")})
        bind_migrations(app)
        with app.app_context():
            upgrade()
            with db.engine.connect() as conn:
                ctx = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(ctx, db.metadata)
                migrated = _storage_parameters(conn)
            assert diff == [], diff
            # Alembic does not compare tables' PostgreSQL storage parameters
            # (``postgresql_with``: models.base.CASE_TABLE_STORAGE); this does.
            declared = {t.name: sorted(f"{k}={v}" for k, v in options.items())
                        for t in db.metadata.sorted_tables
                        if (options := t.dialect_options["postgresql"]["with"])}
            assert len(declared) == 8  # the seven case tables and the clocks
            assert migrated == (declared if pg else {})  # SQLite has none
            db.session.remove()
            db.engine.dispose()
    finally:
        _drop(pg)


@contextlib.contextmanager
def _demo_at_head(tmp_path) -> Iterator[None]:
    """A fresh database migrated to head with the demo data, in its app's context."""
    from oversight.seed import seed_demo
    from oversight.services.uow import unit_of_work

    url, pg = _fresh_url(tmp_path)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_INLINE": False,
                          "INSTANCE_PATH": str(tmp_path / "instance")})
        bind_migrations(app)
        with app.app_context():
            upgrade()
            with unit_of_work():
                seed_demo()
            yield
            db.session.remove()
            db.engine.dispose()
    finally:
        _drop(pg)


def test_existing_clocks_get_their_cases_organ(tmp_path):
    """c511afa91d07 fills case_clock.organ_id in from each clock's case: cases and
    clocks written at head lose the column on the way down and get it back on the way up."""
    from helpers import make_complaint, organ

    with _demo_at_head(tmp_path):
        chaoyang, _code = make_complaint()
        haidian, _code = make_complaint(organ_id=organ("BJ-HD").id, officer_badge="BJ10003")
        expected = {("complaint", chaoyang.id): organ("BJ-CY").id,
                    ("complaint", haidian.id): organ("BJ-HD").id}
        db.session.remove()
        downgrade(revision="f5a086444e81")
        upgrade()
        with db.engine.connect() as conn:
            clocks = conn.execute(sa.text(
                "SELECT case_type, case_id, organ_id FROM case_clock")).all()
        assert clocks and {(t, i): o for t, i, o in clocks} == expected


def test_the_counts_of_existing_cases_are_filled_in(tmp_path):
    """fb4018120ad8 creates case_count and counts the cases already there: cases of
    several types written at head, the table dropped on the way down, and counted again
    on the way up, equal to the cases."""
    from consequence_helpers import open_recovery, propose, violation
    from helpers import make_complaint

    from oversight.models import CaseCount
    from oversight.services import counts

    with _demo_at_head(tmp_path):
        make_complaint()
        make_complaint()
        propose(violation())
        open_recovery()
        expected = {(c.case_type, c.organ_id, c.state): c.n
                    for c in db.session.execute(sa.select(CaseCount)).scalars() if c.n}
        assert {t for t, _o, _s in expected} == {
            "complaint", "investigation", "discipline", "recovery"}, expected
        db.session.remove()
        downgrade(revision="c9e5a1b3d7f2")
        with db.engine.connect() as conn:
            assert not sa.inspect(conn).has_table("case_count")
        upgrade()
        with db.engine.connect() as conn:
            counted = {(t, o, s): n for t, o, s, n in conn.execute(sa.text(
                "SELECT case_type, organ_id, state, n FROM case_count"))}
            assert counts.check(conn) == []
        assert counted == expected
