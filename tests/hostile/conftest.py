"""Fixtures of the hostile suite: every request in its own app context, and a second app
on the same database with CSRF protection on (the production setting)."""

from __future__ import annotations

import hostile_helpers  # noqa: F401  (puts tests/web on the path first)
import pytest
from helpers import make_app
from webhelpers import isolate_requests


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)


@pytest.fixture
def csrf_app(app, tmp_path):
    """The same database and instance folder as ``app``, with real CSRF tokens."""
    application = make_app(tmp_path, WTF_CSRF_ENABLED=True,
                           SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    isolate_requests(application)
    yield application
    with application.app_context():
        from oversight.extensions import db

        db.session.remove()
        db.engine.dispose()
