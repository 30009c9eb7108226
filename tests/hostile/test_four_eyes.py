"""Four eyes and conflicts: nobody approves their own proposal, not even after being made
a leader (every ``not_by_actor_of`` row of the state tables, and the disciplinary
decision's proposer rule), and an inspector who declared a conflict is kept off the team.
Each refusal changes nothing; another leader then succeeds, so the refusal was the rule."""

from __future__ import annotations

import pytest
from consequence_helpers import LONG_AGO, open_recovery, propose, violation
from helpers import login, make_complaint, user
from hostile_helpers import snapshot, staff
from investigation_helpers import VIOLATION, fire, officer, open_on_initiative, suspensions_of

from oversight.services import investigations, registry
from oversight.services.errors import IllegalTransition
from oversight.services.uow import unit_of_work
from workflows.roles import Role

FINDING = {"finding": "partly", "facts": "经查，辅警言语失当属实。", "handling": "批评教育"}


def promote(username: str) -> None:
    """The proposer becomes a leader: the role check alone would now let them approve."""
    with unit_of_work():
        user(username).role = Role.LEADER


def refused_then_approved(case, trigger: str, proposer: str, data: dict, other: str):
    before = snapshot(case)
    with pytest.raises(IllegalTransition):
        fire(case, trigger, proposer, data)
    assert snapshot(case) == before
    fire(case, trigger, other, data)  # a different leader: allowed
    assert snapshot(case)[2] > before[2]


def complaint_refusal():
    case, _code = make_complaint()
    fire(case, "propose_refusal", "intake", {"reason": "不属于受理范围"})
    return case, "intake", "approve_refusal", {}


def complaint_conclusion():
    case, _code = make_complaint()
    fire(case, "accept", "intake")
    fire(case, "propose_conclusion", "inspector", FINDING)
    return case, "inspector", "approve_conclusion", {}


def investigation_violation():
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "propose_violation", "inspector",
         {**VIOLATION, "category_codes": [inv.pack.categories[0].code]})
    return inv, "inspector", "approve_violation", {}


def investigation_cleared():
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "propose_cleared", "inspector",
         {"complaint_finding": "unfounded", "facts": "经调取视频，未见违规。"})
    return inv, "inspector", "approve_cleared", {}


def suspension(trigger: str):
    def build():
        inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
        fire(inv, "request_suspension", "inspector", {"reason": "暂停执勤"})
        return suspensions_of("BJ10001")[-1], "inspector", trigger, {"reason": "同意"}
    return build


def recovery_order():
    r = open_recovery(now=LONG_AGO)
    fire(r, "find_fault", "inspector", {"fault": "gross_negligence", "facts": "闯红灯。"},
         now=LONG_AGO)
    fire(r, "propose_amount", "inspector", {"amount": "6000", "reason": "按过错程度"},
         now=LONG_AGO)
    return r, "inspector", "order", {"amount": "6000", "reason": "维持"}


def recovery_waiver():
    r = open_recovery()
    fire(r, "find_fault", "inspector", {"fault": "intent", "facts": "故意损毁财物。"})
    fire(r, "propose_waiver", "inspector", {"waiver_basis": "国家赔偿法第十六条", "reason": "困难"})
    return r, "inspector", "approve_waiver", {"reason": "同意"}


def discipline(trigger: str):
    def build():
        d = propose(violation(), "demotion", who="inspector")
        data = {"measure_code": "demotion", "reason": "情节较重"}
        return d, "inspector", trigger, data
    return build


SCENARIOS = {
    "complaint.approve_refusal": complaint_refusal,
    "complaint.approve_conclusion": complaint_conclusion,
    "investigation.approve_violation": investigation_violation,
    "investigation.approve_cleared": investigation_cleared,
    "suspension.approve": suspension("approve"),
    "suspension.refuse": suspension("refuse"),
    "recovery.order": recovery_order,
    "recovery.approve_waiver": recovery_waiver,
    "discipline.approve": discipline("approve"),
    "discipline.drop": discipline("drop"),
}


def test_every_four_eyes_row_of_the_tables_is_covered():
    rows = {f"{name}.{t.trigger}" for name in registry.case_types()
            for t in registry.spec_for(name).transitions if t.not_by_actor_of}
    assert rows <= set(SCENARIOS), rows - set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_nobody_approves_their_own_proposal(demo, scenario):
    case, proposer, trigger, data = SCENARIOS[scenario]()
    promote(proposer)
    refused_then_approved(case, trigger, proposer, data, "leader")


def test_own_proposal_refused_through_the_page_too(app, demo):
    case, proposer, trigger, _data = complaint_conclusion()
    promote(proposer)
    client = app.test_client()
    login(client, demo, proposer)
    before = snapshot(case)
    client.post(f"/staff/complaints/{case.id}/{trigger}", data={"version": str(case.version)})
    assert snapshot(case) == before


def declare(username: str, **party) -> None:
    with unit_of_work():
        investigations.declare_conflict(user(username), reason="系亲属关系", **party)


@pytest.mark.parametrize("party", ["officer", "complaint"])
def test_a_conflicted_inspector_cannot_be_put_on_the_team(app, demo, party):
    staff("inspector2", Role.INSPECTOR, "BJ-CY")
    complaint, _code = make_complaint()
    fire(complaint, "accept", "intake")
    fire(complaint, "start_investigation", "inspector")
    inv = complaint.investigation
    declare("inspector2", **({"officer": officer("BJ10001")} if party == "officer"
                             else {"complaint": complaint}))
    client = app.test_client()
    login(client, demo, "leader")
    for extra in ({"lead_id": str(user("inspector2").id)},
                  {"lead_id": str(user("inspector").id),
                   "assistant_ids": [str(user("inspector2").id)]}):
        before = snapshot(inv)
        response = client.post(f"/staff/investigations/{inv.id}/change_team",
                               data={"version": str(inv.version), "reason": "调整", **extra})
        assert response.status_code == 400
        assert "利益冲突" in response.get_data(as_text=True)
        assert snapshot(inv) == before
        assert user("inspector2").id not in inv.team_ids
