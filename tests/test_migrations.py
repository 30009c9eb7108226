"""The Alembic history builds exactly the schema the models declare, with one head."""

import os
import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from oversight import create_app
from oversight.config import REPO_ROOT
from oversight.extensions import db

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


def test_models_and_migrations_agree(tmp_path):
    url, pg = _fresh_url(tmp_path)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url,
                          "INSTANCE_PATH": str(tmp_path / "instance")})
        with app.app_context():
            upgrade()
            with db.engine.connect() as conn:
                ctx = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(ctx, db.metadata)
            assert diff == [], diff
            db.session.remove()
            db.engine.dispose()
    finally:
        if pg:
            engine, schema = pg
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
