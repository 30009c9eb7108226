"""A request for another organ's notice (/staff/notices/<number>) is refused with 404
and logged on the security log, like case pages, files and actions (services/cases.get_for,
tested in test_scope.py)."""

from __future__ import annotations

import pytest
from hostile_helpers import every_case_type, unlogged_attempts


@pytest.fixture
def world(demo):
    return every_case_type()


def test_an_out_of_scope_notice_request_is_logged(app, world, demo, caplog):
    assert unlogged_attempts(app, world, demo, caplog, notices_only=True) == []
