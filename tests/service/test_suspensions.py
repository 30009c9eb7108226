"""Duty suspensions: request and approval, the officer's 申诉 (which never pauses it), one
open suspension per officer (also under a race), lifting early, expiry by the sweep, the
derived duty status, and what the officer may do."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from helpers import PG_URL, sql_statements, user
from investigation_helpers import (
    add_user,
    events_of,
    fire,
    notices_of,
    officer,
    open_on_initiative,
    staff_at,
    suspensions_of,
)
from sqlalchemy.exc import IntegrityError

from oversight.extensions import db
from oversight.models import CaseClock, ClockOutcome, Investigation, Suspension
from oversight.models.base import utcnow
from oversight.services import access, suspensions, workflow
from oversight.services.errors import Forbidden, IllegalTransition
from oversight.services.uow import unit_of_work
from workflows.clocks import due_at, to_local
from workflows.roles import Role
from workflows.suspension import SuspensionState

S = SuspensionState
#: When the fixture's suspension was approved: a little before now, so that "now" in the
#: services (``utcnow()``) falls inside its term.
T0 = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)


@pytest.fixture
def active(demo):
    """BJ10001 (the demo officer account's roster record) suspended on request at T0."""
    inv = open_on_initiative("BJ-CY", "BJ10001", "inspector", now=T0)
    fire(inv, "request_suspension", "inspector", {"reason": "涉嫌辱骂群众，暂停执勤"}, now=T0)
    suspension = suspensions_of("BJ10001")[0]
    fire(suspension, "approve", "leader", now=T0)
    return suspension


def clock_of(suspension) -> CaseClock:
    return db.session.execute(sa.select(CaseClock).where(
        CaseClock.case_type == "suspension", CaseClock.case_id == suspension.id)).scalar_one()


def test_request_approve_appeal_does_not_pause_then_dismiss(active):
    s = active
    assert s.state is S.ACTIVE and s.started_at == T0
    request = events_of(s)[0]
    assert (request.trigger, request.actor_id) == ("request", user("inspector").id)
    # The pack's maximum (60 calendar days), by the clocks' own arithmetic.
    assert s.ends_at == due_at(T0, 60, "calendar_days")
    assert clock_of(s).due_at == s.ends_at and clock_of(s).kind == "suspension_max"
    assert to_local(s.ends_at).time() == dt.time(23, 59, 59)  # the end of a local day
    assert (to_local(s.ends_at).date() - to_local(T0).date()).days == 60
    decision = notices_of(s, "decision")[0]
    for words in ("北京市公安局朝阳分局", "张伟", "BJ10001", "涉嫌辱骂群众，暂停执勤",
                  "全国公安机关警务辅助人员管理通行做法", "本地规定未作规定",
                  "参照《公安机关督察条例》第十二条", "60", "申诉", "申诉期间，不停止本决定的执行"):
        assert words in decision.body, words

    fire(s, "appeal", "officer", {"reason": "本人没有辱骂群众，请求撤销暂停"},
         now=T0 + dt.timedelta(days=1))
    assert s.state is S.ACTIVE and s.appeal_at is not None
    assert s.in_force(T0 + dt.timedelta(days=2))
    assert officer("BJ10001").id in suspensions.suspended_officer_ids(T0 + dt.timedelta(days=2))
    with pytest.raises(IllegalTransition, match="已对本次暂停履职提出过申诉"):
        fire(s, "appeal", "officer", {"reason": "再次申诉"})

    fire(s, "dismiss_appeal", "leader", {"reason": "现有证据显示确有不当言语"},
         now=T0 + dt.timedelta(days=3))
    assert s.state is S.ACTIVE and s.appeal_outcome.value == "upheld"
    decided = notices_of(s, "appeal_decision")[0]
    assert "维持" in decided.body and "本人没有辱骂群众" in decided.body
    assert "现有证据显示确有不当言语" in decided.body
    with pytest.raises(IllegalTransition, match="已作出决定"):
        fire(s, "revoke_on_appeal", "leader", {"reason": "改判"})


def test_revoke_on_appeal_ends_the_suspension(active):
    fire(active, "appeal", "officer", {"reason": "不服"})
    fire(active, "revoke_on_appeal", "leader", {"reason": "暂停依据不足"})
    assert active.state is S.REVOKED and active.ended_at is not None
    assert officer("BJ10001").id not in suspensions.suspended_officer_ids(utcnow())
    assert "撤销" in notices_of(active, "appeal_decision")[0].body


def test_requester_may_not_approve_and_a_leader_may_refuse(demo):
    inv = open_on_initiative("BJ-CY", "BJ10002", "inspector")
    fire(inv, "request_suspension", "inspector", {"reason": "暂停执勤"})
    s = suspensions_of("BJ10002")[0]
    with unit_of_work():
        user("inspector").role = Role.LEADER  # promoted: still the requester
    with pytest.raises(IllegalTransition, match="提出人不能审批"):
        fire(s, "approve", "inspector")
    fire(s, "refuse", "leader", {"reason": "无暂停必要"})
    assert s.state is S.REFUSED
    assert officer("BJ10002").id not in suspensions.suspended_officer_ids(utcnow())


def test_a_second_open_suspension_is_refused(active):
    inv = db.session.get(Investigation, active.investigation_id)
    with pytest.raises(IllegalTransition, match=active.number):
        fire(inv, "request_suspension", "inspector", {"reason": "再次申请"})
    other = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    with pytest.raises(IllegalTransition, match="不能重复暂停"):
        fire(other, "request_suspension", "inspector", {"reason": "另案申请"})
    assert len(suspensions_of("BJ10001")) == 1


def test_the_unique_index_refuses_a_second_open_suspension(active):
    """What the service's check cannot see (a concurrent transaction) the database refuses."""
    row = dict(number="TZ-RACE", organ_id=active.organ_id, state=S.REQUESTED,
               officer_id=active.officer_id, reason="并发", automatic=False)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(Suspension(**row))
    # Closed suspensions do not count: a lifted one leaves room for a new one.
    db.session.add(Suspension(**{**row, "number": "TZ-OLD", "state": S.REFUSED}))
    db.session.flush()


def test_a_lost_race_is_reported_clearly(active, monkeypatch):
    """The check before the insert saw nothing (the other transaction had not committed):
    the insert fails on the unique index inside a savepoint and the service names the
    suspension that won, leaving the transaction usable."""
    real = suspensions.open_suspension_of
    calls = []

    def blind_first(officer_id):
        calls.append(officer_id)
        return None if len(calls) == 1 else real(officer_id)

    monkeypatch.setattr(suspensions, "open_suspension_of", blind_first)
    other = open_on_initiative("BJ-CY", "BJ10001", "inspector")
    with pytest.raises(IllegalTransition, match=active.number), unit_of_work():
        workflow.fire(other, "request_suspension", user("inspector"), {"reason": "并发申请"})
    assert len(calls) == 2
    assert len(suspensions_of("BJ10001")) == 1


def test_two_investigations_racing_create_one_mandatory_suspension(app, demo):
    """Two inspectors open investigations into the same Yunnan officer at the same moment
    from two sessions (SQLite file database, or PostgreSQL when TEST_DATABASE_URL is set):
    exactly one automatic suspension exists afterwards and the other opening names it."""
    staff_at("YN-KM-WH", "yn")
    add_user("yn-insp3", Role.INSPECTOR, "YN-KM-WH", "督察丁")
    db.session.commit()
    barrier = threading.Barrier(2, timeout=30)
    results, errors = {}, []

    def open_one(lead: str):
        try:
            with app.app_context():
                barrier.wait()
                inv = open_on_initiative("YN-KM-WH", "YN50001", lead)
                results[lead] = (inv.number, events_of(inv)[0].payload)
                db.session.remove()
        except Exception as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(who,)) for who in ("yn-insp", "yn-insp3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [], errors
    db.session.rollback()
    held = [s for s in suspensions_of("YN50001") if s.state in (S.REQUESTED, S.ACTIVE)]
    assert len(held) == 1 and held[0].automatic
    payloads = [payload for _number, payload in results.values()]
    assert sorted("suspension" in p for p in payloads) == [False, True]
    loser = next(p for p in payloads if "suspension" not in p)
    assert loser["suspension_existing"] == held[0].number
    assert db.session.execute(sa.select(sa.func.count(Investigation.id))).scalar() == 2
    dialect = db.engine.dialect.name
    assert dialect == ("postgresql" if PG_URL else "sqlite")


def test_mandatory_suspension_continues_under_the_other_investigation(app, demo):
    staff_at("YN-KM-WH", "yn")
    first = open_on_initiative("YN-KM-WH", "YN50001", "yn-insp")
    second = open_on_initiative("YN-KM-WH", "YN50001", "yn-insp2")
    (s,) = suspensions_of("YN50001")
    assert s.investigation_id == first.id
    assert events_of(second)[0].payload["suspension_existing"] == s.number
    fire(first, "propose_cleared", "yn-insp", {"complaint_finding": "unsubstantiated",
                                                "facts": "查无实据"})
    fire(first, "approve_cleared", "yn-lead")
    # 云南: suspended while any investigation runs — it goes on under the second one.
    assert s.state is S.ACTIVE and s.investigation_id == second.id
    assert events_of(first, "approve_cleared")[0].payload["suspension_continues"] == {
        "suspension": s.number, "investigation": second.number}
    fire(second, "propose_cleared", "yn-insp2", {"complaint_finding": "unsubstantiated",
                                                 "facts": "查无实据"})
    fire(second, "approve_cleared", "yn-lead")
    assert s.state is S.LIFTED


def test_lift_early(active):
    fire(active, "lift", "leader", {"reason": "已查明不影响继续执勤"},
         now=T0 + dt.timedelta(days=5))
    assert active.state is S.LIFTED and active.ended_at == T0 + dt.timedelta(days=5)
    assert clock_of(active).outcome is ClockOutcome.MET
    body = notices_of(active, "lifted")[0].body
    assert "提前解除" in body and "已查明不影响继续执勤" in body and "恢复履行职责" in body
    assert officer("BJ10001").id not in suspensions.suspended_officer_ids(
        T0 + dt.timedelta(days=6))


def test_expiry_by_sweep_with_a_frozen_now(active):
    ends = active.ends_at
    with unit_of_work():
        assert suspensions.sweep_expired(T0 + dt.timedelta(days=30)) == []
    assert active.state is S.ACTIVE
    # Derived status: in force up to ends_at, not after — even before any sweep runs.
    just_before = ends - dt.timedelta(seconds=1)
    assert officer("BJ10001").id in suspensions.suspended_officer_ids(just_before)
    assert officer("BJ10001").id not in suspensions.suspended_officer_ids(ends)
    assert not active.in_force(ends)

    late = ends + dt.timedelta(hours=7)
    with unit_of_work():
        assert suspensions.sweep_expired(late) == [active.number]
    assert active.state is S.LIFTED and active.ended_at == ends
    assert clock_of(active).outcome is ClockOutcome.MET  # the maximum was kept
    expire = events_of(active, "expire")[0]
    assert expire.actor_role is Role.SYSTEM and expire.at == late
    body = notices_of(active, "lifted")[0].body
    assert "届满" in body and "恢复履行职责" in body
    with unit_of_work():
        assert suspensions.sweep_expired(late + dt.timedelta(days=1)) == []


def test_expire_command(app, active):
    from oversight.cli import expire_suspensions_command

    with unit_of_work():
        active.ends_at = utcnow() - dt.timedelta(minutes=1)
    result = app.test_cli_runner().invoke(expire_suspensions_command)
    assert result.exit_code == 0, result.output
    assert active.number in result.output
    db.session.rollback()
    assert db.session.get(Suspension, active.id).state is S.LIFTED


def test_the_officer_may_appeal_only_their_own(active):
    me = user("officer")  # the demo account of BJ10001
    assert access.can(me, "view", active) and access.can(me, "fire:appeal", active)
    assert not access.can(me, "fire:approve", active)
    assert not access.can(me, "fire:lift", active)
    inv = db.session.get(Investigation, active.investigation_id)
    assert not access.can(me, "view", inv)  # not a party to the investigation's page

    other_inv = open_on_initiative("BJ-CY", "BJ10002", "inspector")
    fire(other_inv, "request_suspension", "inspector", {"reason": "暂停"})
    other = suspensions_of("BJ10002")[0]
    fire(other, "approve", "leader")
    assert not access.can(me, "view", other)
    with pytest.raises(Forbidden):
        fire(other, "appeal", "officer", {"reason": "替同事申诉"})
    assert other.appeal_at is None
    # Intake staff record a 申诉 made in person.
    fire(other, "appeal", "intake", {"reason": "当面提出申诉"})
    assert other.appeal_text == "当面提出申诉"


def test_is_suspended_is_read_once_per_request(app, active):
    bj1, bj2 = officer("BJ10001"), officer("BJ10002")
    with app.test_request_context(), sql_statements() as statements:
        flags = [suspensions.is_suspended(o) for o in (bj1, bj2, bj1, bj2)]
    assert flags == [True, False, True, False]
    assert len(statements) == 1
