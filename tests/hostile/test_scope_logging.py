"""PENDING (kept out of CI until fixed): a request for another organ's notice
(/staff/notices/<number>) is refused with 404 but not logged. Case pages, files and
actions are (``denied_view`` from services/cases.get_for, tested in test_scope.py); the
notice view checks ``can(..., "view_notices", case)`` itself and logs nothing."""

from __future__ import annotations

import pytest
from hostile_helpers import every_case_type, unlogged_attempts


@pytest.fixture
def world(demo):
    return every_case_type()


def test_an_out_of_scope_notice_request_is_logged(app, world, demo, caplog):
    assert unlogged_attempts(app, world, demo, caplog, notices_only=True) == []
