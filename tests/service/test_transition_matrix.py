"""The transition matrix of the recusal, investigation and suspension tables, through the
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
    CaseEvent,
    EvidenceEntry,
    Investigation,
    Officer,
    Recusal,
    Suspension,
)
from oversight.models.base import utcnow
from oversight.services import workflow
from oversight.services.actors import PublicActor
from oversight.services.errors import Forbidden, IllegalTransition
from workflows.complaint import Finding
from workflows.investigation import INVESTIGATION, InvestigationOrigin, InvestigationState
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
    }


CASES = {
    "recusal": (RECUSAL, new_recusal, shape_recusal),
    "investigation": (INVESTIGATION, new_investigation, shape_investigation),
    "suspension": (SUSPENSION, new_suspension, shape_suspension),
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
