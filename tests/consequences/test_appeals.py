"""Appeals (申诉) against disciplinary decisions: the window, one appeal per decision, the
reviewer (upper organ, never the approver), upheld / varied / revoked and their effects on
the officer's record, and the pause the reviewer may order."""

from __future__ import annotations

import datetime as dt

import pytest
from consequence_helpers import propose, violation
from helpers import organ, user
from investigation_helpers import add_user, events_of, fire, notices_of, officer

from oversight.models.base import utcnow
from oversight.models.org import EmploymentStatus
from oversight.services import access, discipline
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData
from oversight.services.uow import unit_of_work
from workflows.appeal import AppealState
from workflows.discipline import DisciplineState
from workflows.roles import Role

A, D = AppealState, DisciplineState


def executed(measure: str = "demotion", **execute):
    d = propose(violation(), measure)
    fire(d, "approve", "leader", {"measure_code": measure, "reason": "情节较重"})
    fire(d, "serve", "inspector")
    fire(d, "execute", "leader", execute)
    return d


def file(decision, who: str = "officer", grounds: str = "事实认定有误，当时系依法制止。",
         now=None):
    with unit_of_work():
        return discipline.file_appeal(decision, user(who), grounds, now or utcnow())


def test_revoked_appeal_restores_level_and_records_clearance(demo):
    level = officer("BJ10001").level
    d = executed("demotion")
    assert officer("BJ10001").level == level - 1
    a = file(d)
    assert a.state is A.FILED and a.number.startswith("SS")
    assert a.organ == organ("BJ")  # the upper organ reviews
    assert not access.can(user("leader"), "view", a)  # 朝阳's approver cannot even see it
    fire(a, "revoke", "bj_leader", {"reason": "事实不清，撤销"})
    assert a.state is A.REVOKED and d.state is D.REVOKED and d.revoked_at is not None
    assert officer("BJ10001").level == level
    [ruling] = notices_of(a, "appeal_ruling")
    assert "撤销原处理决定" in ruling.body and "澄清" in ruling.body
    assert f"第{level}级" in ruling.body
    assert [e.trigger for e in events_of(d)][-1] == "revoke_on_appeal"


def test_revoked_appeal_restores_employment(demo):
    d = executed("not_retained", union_notified_on="2026-11-20")
    assert officer("BJ10001").employment is EmploymentStatus.ENDED
    fire(file(d), "revoke", "bj_leader", {"reason": "处理过重"})
    assert officer("BJ10001").employment is EmploymentStatus.EMPLOYED


def test_varied_appeal_applies_the_lighter_measure(demo):
    level = officer("BJ10001").level
    d = executed("not_retained", union_notified_on="2026-11-20")
    a = file(d)
    with pytest.raises(IllegalTransition, match="申诉不加重"):
        fire(a, "vary", "bj_leader", {"measure_code": "not_retained", "reason": "x"})
    fire(a, "vary", "bj_leader", {"measure_code": "demotion", "reason": "从轻"})
    assert a.state is A.VARIED and d.measure_code == "demotion" and d.state is D.EXECUTED
    assert officer("BJ10001").employment is EmploymentStatus.EMPLOYED
    assert officer("BJ10001").level == level - 1
    assert "变更原处理决定为：降低层级" in notices_of(a, "appeal_ruling")[0].body


def test_upheld_appeal_changes_nothing(demo):
    level = officer("BJ10001").level
    d = executed("demotion")
    fire(file(d), "uphold", "bj_leader", {"reason": "事实清楚"})
    assert d.state is D.EXECUTED and officer("BJ10001").level == level - 1


def test_the_approver_never_reviews(demo):
    # A top organ reviews its own decisions: its approver must not be the reviewer.
    add_user("bj-insp", Role.INSPECTOR, "BJ")
    add_user("bj-lead2", Role.LEADER, "BJ")
    from investigation_helpers import open_on_initiative
    inv = open_on_initiative("BJ", "BJ10001", "bj-insp")
    from investigation_helpers import VIOLATION
    fire(inv, "propose_violation", "bj-insp", {**VIOLATION, "category_codes": ["other"]})
    fire(inv, "approve_violation", "bj_leader")
    d = propose(inv, "demotion", who="bj-insp", now=utcnow() - dt.timedelta(days=20))
    fire(d, "approve", "bj_leader", {"measure_code": "demotion", "reason": "x"})
    fire(d, "serve", "bj-insp")
    a = file(d)
    assert a.organ == organ("BJ")
    with pytest.raises(IllegalTransition, match="批准人不能复查"):
        fire(a, "uphold", "bj_leader", {"reason": "x"})
    with pytest.raises(IllegalTransition, match="不能指定原处理决定的批准人"):
        fire(a, "designate_reviewer", "bj-lead2", {"reviewer_id": str(user("bj_leader").id)})
    assert user("bj_leader") not in discipline.eligible_reviewers(a)
    fire(a, "designate_reviewer", "bj-lead2", {"reviewer_id": str(user("bj-lead2").id)})
    fire(a, "uphold", "bj-lead2", {"reason": "维持"})
    assert a.state is A.UPHELD and a.decided_by_id == user("bj-lead2").id


def test_designated_reviewer_decides_alone(demo):
    add_user("bj-lead2", Role.LEADER, "BJ")
    a = file(executed())
    fire(a, "designate_reviewer", "bj_leader", {"reviewer_id": str(user("bj-lead2").id)})
    with pytest.raises(IllegalTransition, match="指定专人"):
        fire(a, "uphold", "bj_leader", {"reason": "x"})
    with pytest.raises(InvalidData):
        fire(a, "designate_reviewer", "bj-lead2", {"reviewer_id": "999999"})


def test_appeal_window_and_one_appeal_per_decision(demo):
    d = executed()
    late = d.appeal_due_at + dt.timedelta(seconds=1)
    with pytest.raises(IllegalTransition, match=r"申诉期限已于 \d{4}-\d\d-\d\d \d\d:\d\d 届满"):
        file(d, now=late)
    with pytest.raises(InvalidData) as exc:
        file(d, grounds="  ")
    assert "grounds" in exc.value.errors
    file(d)
    with pytest.raises(IllegalTransition, match="已对该处理决定提出过申诉"):
        file(d)


def test_only_the_officer_or_intake_files_and_not_before_service(demo):
    d = propose(violation(), "demotion")
    fire(d, "approve", "leader", {"measure_code": "demotion", "reason": "x"})
    with pytest.raises(IllegalTransition, match="送达后"):
        file(d)
    fire(d, "serve", "inspector")
    with pytest.raises(Forbidden):
        file(d, who="inspector")
    a = file(d, who="intake")
    assert a.filed_in_person


def test_not_paused_unless_the_reviewer_orders_it(demo):
    d = propose(violation(), "demotion")
    fire(d, "approve", "leader", {"measure_code": "demotion", "reason": "x"})
    fire(d, "serve", "inspector")
    a = file(d)
    assert not d.paused  # an appeal alone never pauses
    fire(a, "order_pause", "bj_leader", {"reason": "待复查期间暂缓"})
    assert d.paused
    with pytest.raises(IllegalTransition, match="暂停执行"):
        fire(d, "execute", "leader")
    fire(a, "uphold", "bj_leader", {"reason": "维持"})
    assert not d.paused
    fire(d, "execute", "leader")
    assert d.state is D.EXECUTED


def test_withdrawal_lifts_the_pause(demo):
    d = propose(violation(), "demotion")
    fire(d, "approve", "leader", {"measure_code": "demotion", "reason": "x"})
    fire(d, "serve", "inspector")
    a = file(d)
    fire(a, "order_pause", "bj_leader", {"reason": "暂缓"})
    fire(a, "withdraw", "officer")
    assert a.state is A.WITHDRAWN and not d.paused


def test_pause_cannot_be_ordered_after_execution(demo):
    a = file(executed())
    with pytest.raises(IllegalTransition, match="已执行"):
        fire(a, "order_pause", "bj_leader", {"reason": "x"})
