"""An inspector who declares a conflict of interest while already on an investigation's
team can no longer act on it: recording evidence or proposing a finding is refused and
changes nothing (the team guard looks at declarations, not only future teams)."""

from __future__ import annotations

import pytest
from helpers import user
from hostile_helpers import snapshot, staff
from investigation_helpers import VIOLATION, fire, officer, open_on_initiative

from oversight.services import investigations
from oversight.services.errors import Forbidden, IllegalTransition
from oversight.services.uow import unit_of_work
from workflows.roles import Role


@pytest.fixture
def conflicted(demo):
    """inspector (lead) and inspector2 (assistant) on a team; both then declare a
    conflict with the officer under investigation."""
    staff("inspector2", Role.INSPECTOR, "BJ-CY")
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector", assistants=["inspector2"])
    for name in ("inspector", "inspector2"):
        with unit_of_work():
            investigations.declare_conflict(user(name), officer=officer("BJ10001"),
                                            reason="系亲属关系")
    return inv


@pytest.mark.parametrize("who", ["inspector", "inspector2"])
def test_a_conflicted_team_member_cannot_record_evidence(conflicted, who):
    before = snapshot(conflicted)
    with pytest.raises((Forbidden, IllegalTransition)):
        fire(conflicted, "add_evidence", who, {"evidence_kind": "document",
                                               "evidence_title": "有利于亲属的材料"})
    assert snapshot(conflicted) == before


def test_a_conflicted_lead_cannot_propose_the_finding(conflicted):
    before = snapshot(conflicted)
    with pytest.raises((Forbidden, IllegalTransition)):
        fire(conflicted, "propose_cleared", "inspector",
             {"complaint_finding": "unfounded", "facts": "未见违规。"})
    assert snapshot(conflicted) == before


def test_a_conflicted_lead_cannot_propose_a_violation_either(conflicted):
    before = snapshot(conflicted)
    with pytest.raises((Forbidden, IllegalTransition)):
        fire(conflicted, "propose_violation", "inspector",
             {**VIOLATION, "category_codes": [conflicted.pack.categories[0].code]})
    assert snapshot(conflicted) == before
