"""Fixtures of the hostile suite: every request in its own app context, and a second app
on the same database with CSRF protection on (the production setting).

test_protections_are_load_bearing.py collects its mutants by database: all of them in the
SQLite suite, only those whose protection lives in the database (``database=True``) in the
PostgreSQL suite. A mutant proves that a test fails without its protection, which holds or
not whatever database the child run uses, except where the database is the protection;
collecting the rest once saves the PostgreSQL suite (the longer one) about two minutes of
child runs. The reason is written out in that module's docstring; it is not a skip."""

from __future__ import annotations

import hostile_helpers  # noqa: F401  (puts tests/web on the path first)
import pytest
from helpers import make_app
from webhelpers import isolate_requests


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)


@pytest.fixture
def csrf_app(app, tmp_path, compiled_templates):
    """The same database and instance folder as ``app``, with real CSRF tokens."""
    application = make_app(tmp_path, WTF_CSRF_ENABLED=True,
                           SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    application.jinja_env.bytecode_cache = compiled_templates  # tests/conftest.py
    isolate_requests(application)
    yield application
    with application.app_context():
        from oversight.extensions import db

        db.session.remove()
        db.engine.dispose()
