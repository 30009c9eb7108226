"""Investigations: opened from complaints, on initiative or assigned down; the team and its
conflicts; the append-only evidence log; findings approved by another person; and what an
approval does in the same transaction (the complaints conclude, the suspension ends)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import make_complaint, organ, user
from investigation_helpers import (
    CLEARED,
    VIOLATION,
    add_user,
    events_of,
    fire,
    notices_of,
    officer,
    open_on_initiative,
    suspensions_of,
)

from oversight.extensions import db
from oversight.models import (
    Complaint,
    ConflictDeclaration,
    EvidenceEntry,
    Investigation,
    SearchOutbox,
)
from oversight.models.base import utcnow
from oversight.models.records import ImmutableRecordError
from oversight.services import events, investigations, suspensions
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData
from oversight.services.uow import unit_of_work
from workflows.complaint import ComplaintState, Finding
from workflows.investigation import InvestigationOrigin, InvestigationState
from workflows.roles import Role
from workflows.suspension import SuspensionState

S = InvestigationState


@pytest.fixture
def team(demo):
    """A second inspector and a second leader at 朝阳分局 besides the demo accounts."""
    add_user("inspector2", Role.INSPECTOR, "BJ-CY", "督察小李")
    add_user("leader2", Role.LEADER, "BJ-CY", "审批领导赵局")
    return demo


def accepted_complaint(**kwargs) -> Complaint:
    complaint, _code = make_complaint(**kwargs)
    fire(complaint, "accept", "intake")
    return complaint


def open_from(complaints, lead="inspector", assistants=("inspector2",), actor="inspector"):
    with unit_of_work():
        return investigations.open_investigation(
            user(actor), organ=organ("BJ-CY"), subject="三里屯路口辱骂群众",
            summary="两名群众分别投诉同一事件。", complaints=complaints, lead=user(lead),
            assistants=[user(a) for a in assistants], origin="complaint", now=utcnow())


def test_open_from_two_complaints_and_approve_violation_concludes_both(team):
    a, b = accepted_complaint(), accepted_complaint(name="李四", phone="13900139000")
    inv = open_from([a, b])

    assert inv.number.startswith("DC") and inv.state is S.INVESTIGATING
    assert inv.origin is InvestigationOrigin.COMPLAINT
    assert inv.officer_id == officer("BJ10001").id  # taken from the complaints
    assert inv.lead_id == user("inspector").id
    assert inv.assistant_ids == [user("inspector2").id]
    opening = events_of(inv)[0]
    assert (opening.trigger, opening.to_state) == ("open", "investigating")
    assert opening.payload["complaints"] == [a.number, b.number]
    assert "第二十四条" in opening.article  # 北京 complaint handling
    assert db.session.execute(sa.select(sa.func.count()).select_from(SearchOutbox).where(
        SearchOutbox.case_type == "investigation", SearchOutbox.case_id == inv.id)).scalar() == 1
    for c in (a, b):
        assert c.state is ComplaintState.INVESTIGATING and c.investigation_id == inv.id
        assert c.investigation_open
        assert events_of(c, "start_investigation")[0].payload == {"investigation": inv.number}
    # The complaint's own conclusion is closed while its investigation runs.
    with pytest.raises(IllegalTransition, match="并入调查"), unit_of_work():
        from oversight.services import workflow
        workflow.fire(a, "propose_conclusion", user("inspector"),
                      {"finding": "partly", "facts": "x", "handling": "y"})

    fire(inv, "add_evidence", "inspector2", {"evidence_kind": "interview",
                                             "evidence_title": "投诉人询问笔录"})
    code = inv.pack.categories[0].code
    fire(inv, "propose_violation", "inspector", {**VIOLATION, "category_codes": [code]})
    assert inv.state is S.VIOLATION_PENDING
    fire(inv, "approve_violation", "leader")

    assert inv.state is S.VIOLATION and inv.concluded_at is not None
    category = inv.pack.category(code).label
    for c in (a, b):
        assert c.state is ComplaintState.CONCLUDED
        assert c.finding is Finding.SUBSTANTIATED
        assert c.facts == VIOLATION["facts"]
        assert category in c.handling and "第二十五条" in c.handling
        ev = events_of(c, "conclude_by_investigation")[0]
        assert ev.actor_role is Role.SYSTEM and ev.actor_id is None
        assert not c.investigation_open
    # The complaint moves on to its outcome notice as usual.
    fire(a, "issue_notice", "intake")
    outcome = notices_of(a, "outcome")[0]
    assert VIOLATION["facts"] in outcome.body and "属实" in outcome.body
    assert list(events.verify_chains()) == []


def test_cleared_officer_is_reinstated_with_the_lifted_notice(team):
    complaint = accepted_complaint()
    inv = open_from([complaint])
    fire(inv, "request_suspension", "inspector", {"reason": "涉嫌辱骂群众，继续执勤影响调查"})
    suspension = suspensions_of("BJ10001")[0]
    assert suspension.state is SuspensionState.REQUESTED
    assert suspension.investigation_id == inv.id
    fire(suspension, "approve", "leader")
    assert officer("BJ10001").id in suspensions.suspended_officer_ids(utcnow())

    fire(inv, "propose_cleared", "inspector", CLEARED)
    fire(inv, "approve_cleared", "leader2")

    assert inv.state is S.CLEARED
    assert suspension.state is SuspensionState.LIFTED and suspension.ended_at is not None
    assert events_of(suspension, "lift_on_conclusion")[0].actor_role is Role.SYSTEM
    lifted = notices_of(suspension, "lifted")[0]
    assert "恢复履行职责" in lifted.body
    assert "违规不成立" in lifted.body and "不属实" in lifted.body and inv.number in lifted.body
    assert "北京市公安局朝阳分局" in lifted.body
    assert officer("BJ10001").id not in suspensions.suspended_officer_ids(utcnow())
    assert complaint.state is ComplaintState.CONCLUDED
    assert complaint.finding is Finding.UNFOUNDED
    assert "不属实" in complaint.handling


def test_a_pending_request_lapses_when_the_investigation_concludes(team):
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "request_suspension", "inspector", {"reason": "需暂停执勤"})
    fire(inv, "propose_cleared", "inspector", {**CLEARED, "complaint_finding": "unsubstantiated"})
    fire(inv, "approve_cleared", "leader")
    suspension = suspensions_of("BJ10001")[0]
    assert suspension.state is SuspensionState.REFUSED
    assert events_of(suspension, "lapse_request")[0].actor_role is Role.SYSTEM
    assert notices_of(suspension) == []  # nothing was in force, nothing to notify


def test_a_declared_conflict_blocks_assignment(team):
    complaint = accepted_complaint()
    with unit_of_work():
        decl = investigations.declare_conflict(user("inspector2"), officer=officer("BJ10001"),
                                               reason="该辅警系本人表弟")
    assert isinstance(decl, ConflictDeclaration)
    with pytest.raises(InvalidData) as info, unit_of_work():
        investigations.open_investigation(
            user("inspector"), organ=organ("BJ-CY"), subject="辱骂群众", complaints=[complaint],
            lead=user("inspector"), assistants=[user("inspector2")], origin="complaint",
            now=utcnow())
    assert info.value.errors == {"assistant_ids": "督察小李 已声明与本案存在利益冲突，不能指派"}
    assert complaint.state is ComplaintState.ACCEPTED
    assert db.session.execute(sa.select(sa.func.count(Investigation.id))).scalar() == 0

    # A conflict with the complaint (its complainant) blocks the lead just the same.
    with unit_of_work():
        investigations.declare_conflict(user("inspector"), complaint=complaint,
                                        reason="投诉人是本人邻居")
    with pytest.raises(InvalidData) as info, unit_of_work():
        investigations.open_investigation(
            user("inspector"), organ=organ("BJ-CY"), subject="辱骂群众", complaints=[complaint],
            lead=user("inspector"), origin="complaint", now=utcnow())
    assert "督察老孙" in info.value.errors["lead_id"]

    # ... and the team cannot be changed to include them later.
    inv = open_on_initiative("BJ-CY", "BJ10002", "inspector")
    with unit_of_work():
        investigations.declare_conflict(user("inspector2"), officer=officer("BJ10002"),
                                        reason="曾共同执勤发生矛盾")
    with pytest.raises(InvalidData) as info:
        fire(inv, "change_team", "leader", {"lead_id": str(user("inspector2").id),
                                            "reason": "调整"})
    assert "督察小李" in info.value.errors["lead_id"]
    # Declared after joining the team: the declaration names the team to change.
    decl = db.session.execute(sa.select(ConflictDeclaration).where(
        ConflictDeclaration.officer_id == officer("BJ10002").id)).scalar_one()
    assert investigations.conflicted_teams(decl) == []
    with unit_of_work():
        later = investigations.declare_conflict(user("inspector"), officer=officer("BJ10002"),
                                                reason="发现系远亲")
    assert investigations.conflicted_teams(later) == [inv]
    with pytest.raises(InvalidData, match="已声明过"), unit_of_work():
        investigations.declare_conflict(user("inspector"), officer=officer("BJ10002"),
                                        reason="重复")


def test_assigned_down_then_the_lower_leader_names_the_team(team):
    add_user("cityleader", Role.LEADER, "BJ", "市局督察长")
    with unit_of_work():
        inv = investigations.open_investigation(
            user("cityleader"), organ=organ("BJ-CY"), subject="交办：群众来信反映辅警违规收费",
            summary="市局信访转来。", officer=officer("BJ10002"), origin="assigned",
            now=utcnow())
    assert inv.state is S.ASSIGNED and inv.lead_id is None
    assert inv.assigned_by_organ_id == organ("BJ").id
    opening = events_of(inv)[0]
    assert opening.trigger == "assign_down" and opening.actor_id == user("cityleader").id
    # Inspectors cannot work on it before a team is named.
    with pytest.raises(IllegalTransition, match="已交办待分派"):
        fire(inv, "add_evidence", "inspector", {"evidence_kind": "document",
                                                "evidence_title": "来信"})
    fire(inv, "assign_team", "leader", {"lead_id": str(user("inspector").id),
                                        "assistant_ids": [str(user("inspector2").id)]})
    assert inv.state is S.INVESTIGATING
    assert inv.team_ids == {user("inspector").id, user("inspector2").id}
    assert events_of(inv, "assign_team")[0].payload == {"lead": "督察老孙",
                                                        "assistants": ["督察小李"]}

    # 交办 goes down only: not to one's own organ, not by an inspector, not outside.
    with pytest.raises(InvalidData) as info, unit_of_work():
        investigations.open_investigation(user("leader"), organ=organ("BJ-CY"), subject="x",
                                          origin="assigned", now=utcnow())
    assert "organ_id" in info.value.errors
    with pytest.raises(Forbidden), unit_of_work():
        investigations.open_investigation(user("inspector"), organ=organ("BJ-CY-SLT"),
                                          subject="x", origin="assigned", now=utcnow())
    with pytest.raises(InvalidData) as info, unit_of_work():
        investigations.open_investigation(user("leader"), organ=organ("BJ-HD"), subject="x",
                                          origin="assigned", now=utcnow())
    assert "organ_id" in info.value.errors


def test_evidence_is_append_only(team):
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector", assistants=["inspector2"])
    fire(inv, "add_evidence", "inspector", {"evidence_kind": "document",
                                            "evidence_title": "出警记录（错页）"})
    with pytest.raises(InvalidData) as info:
        fire(inv, "add_evidence", "inspector", {"evidence_kind": "recorder",
                                                "evidence_title": "执法记录仪视频"})
    assert info.value.errors == {"recorder_ref": "执法记录仪视频须注明记录仪编号和起止时间"}
    fire(inv, "add_evidence", "inspector2", {
        "evidence_kind": "recorder", "evidence_title": "执法记录仪视频",
        "recorder_ref": "BJ-CY-0231 2026-11-20 21:05—21:20", "evidence_description": "全程"})
    first, video = investigations.evidence_of(inv)
    assert video.added_by_id == user("inspector2").id and video.added_at is not None

    fire(inv, "supersede_evidence", "inspector", {"evidence_id": str(first.id),
                                                  "reason": "所附为其他警情的出警记录"})
    fire(inv, "add_evidence", "inspector", {"evidence_kind": "document",
                                            "evidence_title": "出警记录（更正）",
                                            "evidence_id": str(first.id)})
    entries = investigations.evidence_of(inv)
    assert [e.title for e in entries] == ["出警记录（错页）", "执法记录仪视频", "出警记录（更正）"]
    assert first.superseded_at is not None and first.superseded_by_id == user("inspector").id
    assert first.superseded_reason == "所附为其他警情的出警记录"
    assert first.replaced_by_entry_id == entries[2].id

    with pytest.raises(InvalidData, match="已于"):
        fire(inv, "supersede_evidence", "inspector", {"evidence_id": str(first.id),
                                                      "reason": "再次替代"})
    other = open_on_initiative("BJ-CY", "BJ10002", "inspector")
    with pytest.raises(InvalidData) as info:
        fire(other, "supersede_evidence", "inspector", {"evidence_id": str(video.id),
                                                        "reason": "跨案"})
    assert "evidence_id" in info.value.errors
    # Someone off the team may not touch the log.
    add_user("inspector3", Role.INSPECTOR, "BJ-CY", "督察小王")
    with pytest.raises(IllegalTransition, match="调查组成员"):
        fire(inv, "add_evidence", "inspector3", {"evidence_kind": "other",
                                                 "evidence_title": "x"})

    # The database layer refuses edits and deletions whatever the code path.
    video.title = "改过的标题"
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(EvidenceEntry, video.id))
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    entry = db.session.get(EvidenceEntry, first.id)
    entry.superseded_reason = "改写理由"
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(EvidenceEntry, first.id).superseded_reason == "所附为其他警情的出警记录"
    assert len(investigations.evidence_of(inv)) == 3


def test_four_eyes_and_lead_only_findings(team):
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector", assistants=["inspector2"])
    with pytest.raises(IllegalTransition, match="主办督察"):
        fire(inv, "propose_cleared", "inspector2", CLEARED)
    with pytest.raises(InvalidData) as info:
        fire(inv, "propose_cleared", "inspector", {**CLEARED, "complaint_finding": "partly"})
    assert "查无实据" in info.value.errors["complaint_finding"]
    with pytest.raises(InvalidData) as info:
        fire(inv, "propose_violation", "inspector", {**VIOLATION, "category_codes": ["nope"]})
    assert "category_codes" in info.value.errors
    fire(inv, "propose_cleared", "inspector", CLEARED)
    # The proposer, promoted to leader, still may not approve their own findings.
    with unit_of_work():
        proposer = user("inspector")
        proposer.role = Role.LEADER
    with pytest.raises(IllegalTransition, match="提出人不能审批自己的意见"):
        fire(inv, "approve_cleared", "inspector")
    fire(inv, "return_findings", "leader", {"reason": "补充询问现场群众"})
    assert inv.state is S.INVESTIGATING


def test_start_investigation_on_a_complaint_opens_or_joins_one(team):
    first = accepted_complaint()
    fire(first, "start_investigation", "inspector")
    inv = first.investigation
    assert inv is not None and inv.lead_id == user("inspector").id
    assert inv.officer_id == officer("BJ10001").id and first.number in inv.subject
    assert events_of(inv)[0].payload["complaints"] == [first.number]

    second = accepted_complaint()
    fire(second, "start_investigation", "inspector2", {"investigation_number": inv.number})
    assert second.investigation_id == inv.id
    assert [c.number for c in investigations.linked_complaints(inv)] == [first.number,
                                                                          second.number]
    other_officer = accepted_complaint(officer_badge="BJ10002")
    with pytest.raises(InvalidData, match="另一名辅警"):
        fire(other_officer, "start_investigation", "inspector",
             {"investigation_number": inv.number})
    with pytest.raises(InvalidData, match="未找到"):
        fire(other_officer, "start_investigation", "inspector",
             {"investigation_number": "DC2000000001"})
    assert other_officer.state is ComplaintState.ACCEPTED


def test_clarification_is_recorded_once(team):
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    fire(inv, "propose_cleared", "inspector", CLEARED)
    fire(inv, "approve_cleared", "leader")
    assert not investigations.needs_clarification_prompt(inv)  # 北京: not required
    fire(inv, "record_clarification", "inspector",
         {"clarification": "在朝阳分局官方微博发布情况通报，澄清事实。"})
    assert inv.clarified_at is not None and "微博" in inv.clarification
    with pytest.raises(IllegalTransition, match="已记录澄清"):
        fire(inv, "record_clarification", "leader", {"clarification": "再次"})
