"""For every row of the complaint table, every role and every state: the transition is
allowed exactly when the table says so. Parametrised from the table itself."""

import datetime as dt

import pytest
import sqlalchemy as sa
from helpers import make_complaint, organ, user

from oversight.extensions import db
from oversight.models import CaseEvent
from oversight.models.base import utcnow
from oversight.services import clocks, workflow
from oversight.services.actors import PublicActor
from oversight.services.errors import Forbidden, IllegalTransition
from workflows.complaint import COMPLAINT, ComplaintState, Finding
from workflows.roles import Role

ROLES = [Role.PUBLIC, Role.INTAKE, Role.INSPECTOR, Role.LEADER, Role.ADMIN, Role.OFFICER]
USERNAMES = {Role.INTAKE: "intake", Role.INSPECTOR: "inspector", Role.LEADER: "leader",
             Role.ADMIN: "admin", Role.OFFICER: "officer"}


def valid_data(trigger, other):
    return {
        "reason": "理由充分",
        "target_organ_id": str(organ("BJ-HD").id),
        "target_number": other.number,
        "note": "询问笔录一份",
        "finding": Finding.PARTLY.value,
        "facts": "经查部分属实",
        "handling": "批评教育",
        "rating": "4",
        "material": "补充说明",
        "extension_days": "10",
    }


def force_state(case, state, trigger, other):
    """Put the case in ``state`` with the columns that state implies."""
    case.state = state
    case.finding = Finding.PARTLY
    case.merged_into_id = other.id if state is ComplaintState.MERGED else None
    case.transferred_to_id = other.id if state is ComplaintState.TRANSFERRED else None
    now = utcnow()
    past, future = now - dt.timedelta(days=1), now + dt.timedelta(days=10)
    case.review_deadline_at = past if trigger == "close" else future
    case.recheck_deadline_at, case.recheck_requested_at = future, None
    case.rating = None
    db.session.flush()
    # The clocks some rows act on: extend needs a running 办结 clock, end_hearing a paused
    # 复核 clock (start_hearing and the 复核 decisions need none paused).
    if trigger == "extend":
        clocks.start(case, "conclude", case.pack, now)
    if trigger == "end_hearing":
        clocks.start(case, "recheck_answer", case.pack, now)
        db.session.flush()
        clocks.pause(case, ("recheck_answer",), now, "听证")
    db.session.flush()


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
@pytest.mark.parametrize("t", COMPLAINT.transitions, ids=lambda t: t.trigger)
def test_transition_allowed_exactly_per_table(demo, t, role):
    case, _code = make_complaint()
    other, _ = make_complaint(narrative="同一事项的另一件投诉，用于合并测试的目标案件。")
    actor = PublicActor("complaint", case.id) if role is Role.PUBLIC else user(USERNAMES[role])
    for state in ComplaintState:
        force_state(case, state, t.trigger, other)
        allowed = state in t.source and role in t.roles
        before = db.session.execute(sa.select(sa.func.count(CaseEvent.id))).scalar()
        if allowed:
            event = workflow.fire(case, t.trigger, actor, valid_data(t.trigger, other))
            assert event.trigger == t.trigger
            assert case.state is (t.dest or state)
        else:
            with pytest.raises((Forbidden, IllegalTransition)):
                workflow.fire(case, t.trigger, actor, valid_data(t.trigger, other))
            assert case.state is state
            after = db.session.execute(sa.select(sa.func.count(CaseEvent.id))).scalar()
            assert after == before
        db.session.rollback()
        case = db.session.get(type(case), case.id)
        other = db.session.get(type(other), other.id)
