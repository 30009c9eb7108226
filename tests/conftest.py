"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set) and demo data. Helpers live in tests/helpers.py."""

from __future__ import annotations

import pytest
from helpers import PG_URL, make_app, prepare_database

from oversight import create_app
from oversight.extensions import db
from oversight.services.uow import unit_of_work


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


@pytest.fixture
def app(request, tmp_path, _pg_schema):
    # Indexing after every commit is the app's default; tests that do not search skip that
    # work (their outbox rows stay for a later pass, as in production without a worker).
    inline = request.node.get_closest_marker("search") is not None
    application = make_app(tmp_path, SEARCH_INLINE=inline)
    with application.app_context():
        prepare_database()
        yield application
        db.session.remove()
        db.engine.dispose()  # close pooled connections: -W error turns leaks into failures


@pytest.fixture
def demo(app):
    """Seed the demo organs, officers and users; return {username: password}."""
    from oversight.seed import seed_demo

    with unit_of_work():
        return seed_demo()


@pytest.fixture
def client(app):
    return app.test_client()
