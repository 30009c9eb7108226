"""Statutory clocks end to end: working days across the National Day week, the one
extension of at most 30 days, a 复核 hearing that pauses the clock, idempotent reminders,
and 督办 visibility (the upper organ sees and issues it; a sibling organ sees nothing)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from consequence_helpers import propose, violation
from helpers import make_complaint, organ, user
from investigation_helpers import add_user, events_of, fire, notices_of

from oversight.extensions import db
from oversight.models import CaseClock, ClockReminder, MailOutbox, Supervision
from oversight.models.base import utcnow
from oversight.services import access, supervision, workflow
from oversight.services.actors import PublicActor
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData
from oversight.services.uow import unit_of_work
from workflows.clocks import LOCAL_TZ, to_local
from workflows.complaint import ComplaintState
from workflows.roles import Role

S = ComplaintState


def local(*args):
    return dt.datetime(*args, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


def clock(case, kind) -> CaseClock:
    return db.session.execute(sa.select(CaseClock).where(
        CaseClock.case_type == case.case_type, CaseClock.case_id == case.id,
        CaseClock.kind == kind).order_by(CaseClock.id.desc())).scalars().first()


def public(case, trigger, data, now):
    with unit_of_work():
        workflow.fire(case, trigger, PublicActor("complaint", case.id), data, now=now)


def reviewed(now):
    """A complaint concluded, notified, reviewed and upheld on review at ``now``."""
    case, _code = make_complaint(now=now)
    fire(case, "accept", "intake", now=now)
    fire(case, "propose_conclusion", "inspector", {"finding": "partly", "facts": "部分属实",
                                                   "handling": "批评教育"}, now=now)
    fire(case, "approve_conclusion", "leader", now=now)
    fire(case, "issue_notice", "intake", now=now)
    public(case, "request_review", {"reason": "处理过轻"}, now)
    fire(case, "uphold_on_review", "leader", {"reason": "维持"}, now=now)
    return case


def test_statement_window_across_the_national_day_week(demo):
    # Told on Tue 29 Sept 2026: Sept 30 (1), Oct 1–7 holidays, Thu Oct 8 (2), Fri Oct 9
    # (3), Sat Oct 10 is a 调休 working day (4), Sun Oct 11 is not, Mon Oct 12 (5).
    told = local(2026, 9, 29, 10, 0)
    d = propose(violation(now=told), "demotion", now=told)
    assert to_local(d.statement_due_at) == dt.datetime(2026, 10, 12, 23, 59, 59,
                                                        tzinfo=LOCAL_TZ)
    fire(d, "state_defence", "officer", {"statement": "假期后提交"},
         now=local(2026, 10, 10, 9, 0))  # the make-up Saturday is inside the window


def test_one_extension_of_at_most_thirty_days_with_a_notice(demo):
    now = utcnow()
    case, _code = make_complaint(now=now)
    fire(case, "accept", "intake", now=now)
    due = clock(case, "conclude").due_at
    with pytest.raises(InvalidData) as exc:
        fire(case, "extend", "leader", {"extension_days": "31", "reason": "情况复杂"})
    assert "30" in exc.value.errors["extension_days"]
    with pytest.raises(Forbidden):
        fire(case, "extend", "inspector", {"extension_days": "10", "reason": "x"})
    fire(case, "extend", "leader", {"extension_days": "20", "reason": "需调取多处监控"})
    c = clock(case, "conclude")
    assert c.due_at == due + dt.timedelta(days=20) and c.extended_days == 20
    assert c.base_due_at == due
    [notice] = notices_of(case, "extension")
    assert "需调取多处监控" in notice.body and "延长 20 日" in notice.body
    assert notice.public
    with pytest.raises(IllegalTransition, match="已延长过一次"):
        fire(case, "extend", "leader", {"extension_days": "5", "reason": "再延"})
    assert [e.trigger for e in events_of(case)].count("extend") == 1


def test_recheck_hearing_pauses_the_clock(demo):
    t0 = utcnow() - dt.timedelta(days=10)
    case = reviewed(t0)
    assert case.state is S.CLOSED and case.recheck_deadline_at is not None
    public(case, "request_recheck", {"reason": "对复查意见不服"}, t0)
    assert case.state is S.UNDER_RECHECK
    due = clock(case, "recheck_answer").due_at
    hearing_start, hearing_end = t0 + dt.timedelta(days=2), t0 + dt.timedelta(days=5, hours=3)
    fire(case, "start_hearing", "leader", {"reason": "举行听证"}, now=hearing_start)
    c = clock(case, "recheck_answer")
    assert c.paused_at == hearing_start and case.hearing_open
    with pytest.raises(IllegalTransition, match="听证正在进行"):
        fire(case, "uphold_on_recheck", "leader", {"reason": "x"}, now=hearing_start)
    # A paused clock is not due: not on the overdue list nor reminded.
    assert supervision.due_rows(user("leader"), due + dt.timedelta(days=1)) == []
    fire(case, "end_hearing", "leader", now=hearing_end)
    c = clock(case, "recheck_answer")
    assert c.paused_at is None
    assert c.due_at == due + (hearing_end - hearing_start)
    assert c.pauses == [{"from": hearing_start.isoformat(), "to": hearing_end.isoformat(),
                         "reason": "举行听证"}]
    fire(case, "uphold_on_recheck", "leader", {"reason": "维持复查意见"},
         now=hearing_end + dt.timedelta(days=1))
    assert case.state is S.CLOSED
    assert "复核意见为最终意见" in notices_of(case, "recheck_decision")[0].body
    with pytest.raises(IllegalTransition, match="已请求过复核"):
        public(case, "request_recheck", {"reason": "再次"}, hearing_end + dt.timedelta(days=2))


def test_recheck_window_closes(demo):
    t0 = utcnow() - dt.timedelta(days=60)
    case = reviewed(t0)
    with pytest.raises(IllegalTransition, match="请求复核的期限已于"):
        public(case, "request_recheck", {"reason": "迟了"}, utcnow())


def _overdue_complaint(now):
    case, _code = make_complaint(now=now - dt.timedelta(days=30))
    return case  # its 15-day acknowledge clock ran out two weeks ago


def test_reminders_are_sent_once(demo):
    now = utcnow()
    case = _overdue_complaint(now)
    with unit_of_work():
        user("inspector").email = "sun@example.gov.cn"
    with unit_of_work():
        first = supervision.send_reminders(now)
    assert first == {"due_soon": 0, "overdue": 1, "mails": 1}
    with unit_of_work():
        second = supervision.send_reminders(now + dt.timedelta(hours=1))
    assert second == {"due_soon": 0, "overdue": 0, "mails": 0}
    [mail] = db.session.query(MailOutbox).all()
    assert mail.recipient == "sun@example.gov.cn" and case.number in mail.subject
    assert "王小明" not in mail.body and "13800138000" not in mail.body
    assert db.session.query(ClockReminder).one().recipients == 1
    result = CliRunner().invoke(args=["deadlines"], cli=_cli())
    assert result.exit_code == 0 and "已超期 0 件" in result.output


def _cli():
    from flask import current_app

    from oversight.cli import build_cli

    cli = build_cli()
    cli.create_app = lambda: current_app  # the test's app, already configured
    return cli


def test_supervision_is_seen_by_the_upper_organ_not_a_sibling(demo):
    now = utcnow()
    case = _overdue_complaint(now)
    add_user("hd-leader", Role.LEADER, "BJ-HD")
    # The upper organ sees the overdue case on its list; the sibling organ does not.
    assert [r.case.number for r in supervision.due_rows(user("bj_leader"), now)] == [case.number]
    assert supervision.due_rows(user("hd-leader"), now) == []
    assert not access.can(user("hd-leader"), "view", case)
    # The handling organ's own leader cannot 督办 its own case; the upper organ's can.
    with pytest.raises(Forbidden), unit_of_work():
        supervision.issue(user("leader"), case, deadline="2099-01-01", text="x", now=now)
    with pytest.raises(InvalidData) as exc, unit_of_work():
        supervision.issue(user("bj_leader"), case, deadline="2000-01-01", text="", now=now)
    assert set(exc.value.errors) == {"deadline", "text"}
    with unit_of_work():
        supervision.issue(user("bj_leader"), case, deadline=to_local(now).date().isoformat(),
                          text="请三日内受理并告知投诉人", now=now)
    item = db.session.query(Supervision).one()
    assert item.handler_organ_id == organ("BJ-CY").id
    assert supervision.open_for(user("inspector")) == [item]
    assert supervision.open_for(user("hd-leader")) == []
    assert [e.trigger for e in events_of(case)][-1] == "supervise"
    with pytest.raises(Forbidden), unit_of_work():
        supervision.acknowledge(user("bj_leader"), item, "x", now)
    with unit_of_work():
        supervision.acknowledge(user("inspector"), item, "已受理，正在调查", now)
    assert supervision.open_for(user("inspector")) == []
    assert [e.trigger for e in events_of(case)][-1] == "answer_supervision"
