"""The transition matrix of the recusal, investigation, suspension, disciplinary decision,
appeal and recovery tables, through the
real service: for every row, every role and every state, ``workflow.fire`` succeeds
exactly when the table says so, and a refusal leaves nothing behind. Built from the tables
themselves, so a new row is covered without touching this file. (The complaint's matrix
is tests/service/test_permission_matrix.py.)"""

import datetime as dt

import pytest
import sqlalchemy as sa
from helpers import organ, user

from oversight.extensions import db
from oversight.models import (
    Appeal,
    CaseEvent,
    DisciplinaryDecision,
    EvidenceEntry,
    Investigation,
    Officer,
    Recovery,
    Recusal,
    Suspension,
    User,
)
from oversight.models.base import utcnow
from oversight.services import workflow
from oversight.services.actors import PublicActor
from oversight.services.errors import Forbidden, IllegalTransition
from workflows.appeal import APPEAL, AppealState
from workflows.clocks import to_local
from workflows.complaint import Finding
from workflows.discipline import DISCIPLINE, STANDING, DisciplineState
from workflows.investigation import INVESTIGATION, InvestigationOrigin, InvestigationState
from workflows.recovery import RECOVERY, BasisKind, RecoveryState
from workflows.recusal import RECUSAL, RecusalOrigin, RecusalState
from workflows.roles import Role
from workflows.suspension import SUSPENSION, SuspensionState

ROLES = [Role.PUBLIC, Role.INTAKE, Role.INSPECTOR, Role.LEADER, Role.ADMIN, Role.OFFICER]
USERNAMES = {Role.INTAKE: "intake", Role.INSPECTOR: "inspector", Role.LEADER: "leader",
             Role.ADMIN: "admin", Role.OFFICER: "officer"}


def officer(badge="BJ10001"):
    return db.session.execute(sa.select(Officer).where(Officer.badge_no == badge)).scalar_one()


def new_recusal():
    now = utcnow()
    case = Recusal(number="HB2026999001", organ_id=organ("BJ-CY").id, state=RecusalState.FILED,
                   origin=RecusalOrigin.PUBLIC, applicant_role="party",
                   officer_id=officer().id, matter_ref="京公（朝）行罚决字〔2026〕1号",
                   ground_code="interest", facts="该辅警与对方当事人系亲属关系。",
                   created_at=now, updated_at=now)
    db.session.add(case)
    db.session.flush()
    return case


def shape_recusal(case, state, trigger):
    case.state = state
    case.earlier_acts_stand = True if state is RecusalState.GRANTED else None
    case.reconsidered = False
    case.reconsider_deadline_at = utcnow() + dt.timedelta(days=3)


def new_investigation():
    now = utcnow()
    case = Investigation(number="DC2026999001", organ_id=organ("BJ-CY").id,
                         state=InvestigationState.INVESTIGATING,
                         origin=InvestigationOrigin.INITIATIVE, officer_id=officer().id,
                         subject="三里屯路口执勤态度问题", lead_id=user("inspector").id,
                         created_at=now, updated_at=now)
    db.session.add(case)
    db.session.flush()
    db.session.add(EvidenceEntry(investigation_id=case.id, kind="document",
                                 title="现场照片", added_by_id=user("inspector").id))
    db.session.flush()
    return case


def shape_investigation(case, state, trigger):
    case.state = state
    case.complaint_finding = (Finding.SUBSTANTIATED if state is InvestigationState.VIOLATION
                              else Finding.UNFOUNDED)
    case.clarified_at = None


def new_suspension():
    now = utcnow()
    case = Suspension(number="TZ2026999001", organ_id=organ("BJ-CY").id,
                      state=SuspensionState.REQUESTED, officer_id=officer().id,
                      reason="涉嫌殴打群众，调查期间暂停履职", created_at=now, updated_at=now)
    db.session.add(case)
    db.session.flush()
    return case


def shape_suspension(case, state, trigger):
    now = utcnow()
    case.state = state
    case.started_at = now - dt.timedelta(days=1)
    case.ends_at = now + dt.timedelta(days=50)
    decided = trigger in ("dismiss_appeal", "revoke_on_appeal")
    case.appeal_at = now - dt.timedelta(hours=1) if decided else None
    case.appeal_text = "暂停履职没有事实依据" if decided else ""
    case.appeal_decided_at = None


def new_decision(state=DisciplineState.PROPOSED, approver=None):
    now = utcnow()
    inv = new_investigation()
    inv.state, inv.complaint_finding = InvestigationState.VIOLATION, Finding.SUBSTANTIATED
    case = DisciplinaryDecision(
        number=f"CF2026999{inv.id:03d}", organ_id=inv.organ_id, state=state,
        officer_id=inv.officer_id, investigation_id=inv.id, proposed_measure_code="demotion",
        proposed_severity=4, proposed_label="降低层级", proposed_by_id=user("inspector").id,
        measure_code="demotion", facts="辱骂群众", notified_at=now,
        statement_due_at=now + dt.timedelta(days=3), approved_by_id=approver,
        created_at=now, updated_at=now)
    db.session.add(case)
    db.session.flush()
    return case


def shape_decision(case, state, trigger):
    now = utcnow()
    leader = user("leader").id  # read before changing anything (autoflush)
    case.state = state
    window_open = trigger in ("state_defence", "waive_defence")
    case.statement_due_at = now + dt.timedelta(days=3 if window_open else -1)
    case.statement_at = None
    case.paused = False
    case.referred_at = None
    case.approved_by_id = leader if state in STANDING \
        or state is DisciplineState.EXECUTED else None
    case.served_at = now if state in (DisciplineState.SERVED, DisciplineState.EXECUTED) else None


def second_leader() -> User:
    from investigation_helpers import add_user

    found = db.session.execute(sa.select(User).where(User.username == "leader2")).scalar()
    return found or add_user("leader2", Role.LEADER, "BJ-CY")[0]


def new_appeal():
    now = utcnow()
    approver = second_leader().id  # the matrix's leader must not be the approver
    decision = new_decision(DisciplineState.SERVED, approver)
    decision.served_at, decision.appeal_due_at = now, now + dt.timedelta(days=30)
    # Reviewed at the decision's own organ here, so one leader account covers the matrix.
    case = Appeal(number="SS2026999001", organ_id=decision.organ_id, state=AppealState.FILED,
                  officer_id=decision.officer_id, decision_id=decision.id,
                  grounds="事实认定有误", created_at=now, updated_at=now)
    db.session.add(case)
    db.session.flush()
    return case


def shape_appeal(case, state, trigger):
    case.state = state
    case.reviewer_id = None
    case.pause_ordered = False
    case.decision.state = DisciplineState.SERVED
    case.decision.paused = False


def new_recovery():
    now = utcnow()
    case = Recovery(number="ZC2026999001", organ_id=organ("BJ-CY").id,
                    state=RecoveryState.OPENED, officer_id=officer().id, paid_fen=100000,
                    payee="张某", paid_on=now.date() - dt.timedelta(days=3),
                    basis_kind=BasisKind.CIVIL_JUDGMENT, basis_ref="（2026）京0105民初1号",
                    mandatory=False, rule_key="recovery_civil", created_at=now, updated_at=now)
    db.session.add(case)
    db.session.flush()
    return case


def shape_recovery(case, state, trigger):
    now = utcnow()
    S = RecoveryState
    case.state = state
    after_proposal = state in (S.PROPOSED, S.WAIVER_PENDING, S.ORDERED, S.REPAYING, S.SETTLED)
    case.proposed_fen = 50000 if after_proposal else None
    case.ordered_fen = 50000 if state in (S.ORDERED, S.REPAYING, S.SETTLED) else None
    window_open = trigger in ("state_defence", "waive_defence")
    case.statement_due_at = now + dt.timedelta(days=3 if window_open else -1)
    case.statement_at = None


def data_for(case):
    evidence = db.session.execute(sa.select(EvidenceEntry.id)).scalars().first()
    return {
        "reason": "理由充分，依法决定",
        "earlier_acts": "stand",
        "note": "电话联系申请人核实情况",
        "lead_id": str(user("inspector").id),
        "assistant_ids": [],
        "evidence_kind": "document",
        "evidence_title": "询问笔录",
        # add_evidence reads it as "the entry this one replaces": only supersede sends it
        "evidence_id": (str(evidence) if evidence and getattr(case, "_trigger", "")
                        == "supersede_evidence" else ""),
        "complaint_finding": (Finding.SUBSTANTIATED.value
                              if case.state is InvestigationState.VIOLATION_PENDING
                              or "violation" in getattr(case, "_trigger", "")
                              else Finding.UNFOUNDED.value),
        "facts": "经调取执法记录仪视频查明相关事实。",
        "category_codes": [organ("BJ-CY").pack.categories[0].code],
        "clarification": "在分局官方网站发布情况通报，澄清事实。",
        "statement": "我对拟处理意见有异议。",
        "new_facts": "另查明其曾收受当事人财物。",
        "measure_code": "criticism",
        "supervisor_name": "民警王某",
        "referred_to": "分局纪检监察室",
        "reviewer_id": str(user("leader").id),
        "fault": ("ordinary_negligence" if getattr(case, "_trigger", "") == "close_no_fault"
                  else "intent"),
        "amount": "100",
        "waiver_basis": "国家赔偿法第十六条；家庭确有困难",
        "instalments": "2",
        "first_due_on": to_local(utcnow()).date().isoformat(),
        "paid_on": to_local(utcnow()).date().isoformat(),
        "union_notified_on": "",
    }


CASES = {
    "recusal": (RECUSAL, new_recusal, shape_recusal),
    "investigation": (INVESTIGATION, new_investigation, shape_investigation),
    "suspension": (SUSPENSION, new_suspension, shape_suspension),
    "discipline": (DISCIPLINE, new_decision, shape_decision),
    "appeal": (APPEAL, new_appeal, shape_appeal),
    "recovery": (RECOVERY, new_recovery, shape_recovery),
}
ROWS = [(name, t) for name, (spec, _n, _s) in CASES.items() for t in spec.transitions]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
@pytest.mark.parametrize(("name", "t"), ROWS, ids=lambda x: getattr(x, "trigger", x))
def test_transition_allowed_exactly_per_table(demo, name, t, role):
    spec, make, shape = CASES[name]
    case = make()
    case_id, model = case.id, type(case)
    db.session.commit()
    actor = (PublicActor(name, case_id) if role is Role.PUBLIC else user(USERNAMES[role]))
    for state in spec.states:
        case = db.session.get(model, case_id)
        shape(case, state, t.trigger)
        db.session.flush()
        case._trigger = t.trigger
        data = data_for(case)
        allowed = state in t.source and role in t.roles
        before = db.session.execute(sa.select(sa.func.count(CaseEvent.id))).scalar()
        if allowed:
            event = workflow.fire(case, t.trigger, actor, data)
            assert event.trigger == t.trigger
            assert case.state is (t.dest or state)
        else:
            with pytest.raises((Forbidden, IllegalTransition)):
                workflow.fire(case, t.trigger, actor, data)
            assert case.state is state
            after = db.session.execute(sa.select(sa.func.count(CaseEvent.id))).scalar()
            assert after == before
        db.session.rollback()
