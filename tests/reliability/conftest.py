"""Fixtures of the reliability tests that run the real server (test_crash.py, test_soak.py):
a seeded instance for each test.

On SQLite the instance is made the way an operator makes one (``oversight db upgrade``:
the migrations, then ``oversight seed-demo``), which costs two command-line runs, the
migrations and the production password hashing. That is done once per session into a
template instance that no server ever runs on; each test gets a copy of its whole folder
(the database file and the instance secret), which is what ``bench/server.py``'s
``prepare`` would have made for it, with the same demo logins. The tests run their servers
and commands on the copy only.

On PostgreSQL the instance is the suite's session schema, emptied and seeded in this
process (``server.instance_for_tests``), as before.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from helpers import PG_URL

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
try:
    import server
finally:
    sys.path.remove(str(ROOT / "bench"))


@pytest.fixture(scope="session")
def _prepared_instance(tmp_path_factory) -> server.Instance:
    """SQLite: an instance prepared through the migrations and ``oversight seed-demo``,
    once per session; only ever copied (see the module doc)."""
    return server.prepare(root=tmp_path_factory.mktemp("prepared") / "instance")


@pytest.fixture
def instance(request, tmp_path) -> server.Instance:
    """A seeded instance: on SQLite a copy of the session's prepared one (made through the
    migrations), or the suite's PostgreSQL."""
    if PG_URL:
        request.getfixturevalue("app")  # the session's schema, truncated (tests/conftest.py)
        return server.instance_for_tests(tmp_path / "instance", PG_URL)
    template = request.getfixturevalue("_prepared_instance")
    path = (tmp_path / "instance").resolve()
    shutil.copytree(template.path, path)
    database = template.sqlite_file
    assert database is not None and database.resolve().parent == template.path
    return server.Instance(path=path, database_url=f"sqlite:///{path / database.name}",
                           passwords=dict(template.passwords))
