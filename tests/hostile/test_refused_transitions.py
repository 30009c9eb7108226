"""Illegal, repeated, stale and late transitions answer 409 (403 is for a step the role may
never take), change nothing (no state, version, event, notice or mail) and are logged."""

from __future__ import annotations

import logging

import pytest
from hostile_helpers import mentions, refused_attempt, row_counts, snapshot

KINDS = ["illegal", "repeated", "stale", "late"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_transition_answers_409_changes_nothing_and_is_logged(app, demo, kind,
                                                                         caplog):
    case, attempt = refused_attempt(app, demo, kind)
    before, counts = snapshot(case), row_counts()
    with caplog.at_level(logging.INFO):
        response = attempt()
    assert response.status_code == 409
    assert snapshot(case) == before
    assert row_counts() == counts
    assert mentions(caplog.records, case), [r.getMessage() for r in caplog.records]
