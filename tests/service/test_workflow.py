"""The workflow service: one transaction per transition, optimistic locking, clocks,
notices, outbox and the hash-chained log."""

import datetime as dt

import pytest
import sqlalchemy as sa
from helpers import append_only_lifted, make_complaint, organ, user

from oversight.extensions import db
from oversight.models import (
    CaseClock,
    CaseEvent,
    ClockOutcome,
    Complaint,
    MailOutbox,
    Notice,
    SearchOutbox,
)
from oversight.models.base import utcnow
from oversight.models.records import ImmutableRecordError
from oversight.services import events, registry, workflow
from oversight.services.actors import PublicActor
from oversight.services.errors import IllegalTransition, InvalidData, StaleCase
from oversight.services.uow import unit_of_work
from workflows.complaint import ComplaintState

HAPPY_PATH = [
    ("accept", "intake", {}),
    ("add_note", "inspector", {"note": "调取执法记录仪视频"}),
    ("propose_conclusion", "inspector",
     {"finding": "substantiated", "facts": "经调取执法记录仪视频，反映情况属实。",
      "handling": "对该辅警批评教育，并在全队通报。"}),
    ("approve_conclusion", "leader", {}),
    ("issue_notice", "intake", {}),
]


def run(case, steps, now=None):
    for trigger, who, data in steps:
        with unit_of_work():
            workflow.fire(case, trigger, user(who), data, now=now)


def counts(case):
    def n(model, *where):
        return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)
                                  ).scalar()
    return (
        n(CaseEvent, CaseEvent.case_id == case.id),
        n(CaseClock, CaseClock.case_id == case.id),
        n(Notice, Notice.case_id == case.id),
        n(SearchOutbox, SearchOutbox.case_id == case.id),
        n(MailOutbox),
    )


def test_happy_path_writes_events_clocks_notices_outbox(demo):
    case, _ = make_complaint()
    run(case, HAPPY_PATH)
    assert case.state is ComplaintState.NOTIFIED
    kinds = [n.kind for n in db.session.execute(sa.select(Notice).order_by(Notice.id)).scalars()]
    assert kinds == ["acknowledgement", "outcome"]
    clocks = {c.kind: c for c in db.session.execute(sa.select(CaseClock)).scalars()}
    assert clocks["acknowledge"].outcome is ClockOutcome.MET
    assert clocks["conclude"].outcome is ClockOutcome.MET
    assert case.review_deadline_at > utcnow() + dt.timedelta(days=29)
    # every event also wrote an outbox row; email went to the outbox (no SMTP configured)
    events_n, _clocks_n, notices_n, outbox_n, mail_n = counts(case)
    assert outbox_n == events_n == 1 + len(HAPPY_PATH)
    assert mail_n == notices_n == 2
    outcome = db.session.execute(sa.select(Notice).where(Notice.kind == "outcome")).scalar_one()
    assert "属实" in outcome.body and "第" in outcome.body and "复查" in outcome.body
    assert "王小明" not in outcome.body  # the complainant's identity is never in a notice
    assert list(events.verify_chains()) == []


def test_failure_in_the_middle_leaves_nothing(demo, monkeypatch):
    case, _ = make_complaint()
    before = counts(case)
    version = case.version

    def explode(**_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(events, "append", explode)
    with pytest.raises(RuntimeError), unit_of_work():
        workflow.fire(case, "accept", user("intake"))
    db.session.expire_all()
    case = db.session.get(Complaint, case.id)
    assert case.state is ComplaintState.SUBMITTED and case.version == version
    assert counts(case) == before
    assert db.session.execute(sa.select(CaseClock.outcome)).scalars().all() == [
        ClockOutcome.RUNNING]


def test_stale_version_is_refused_with_a_clear_message(demo):
    case, _ = make_complaint()
    with pytest.raises(StaleCase, match="刷新后重试"), unit_of_work():
        workflow.fire(case, "accept", user("intake"), expected_version=case.version - 1)
    assert db.session.get(Complaint, case.id).state is ComplaintState.SUBMITTED


def test_concurrent_update_is_detected_at_flush(demo):
    case, _ = make_complaint()
    # Another request bumps the version behind this session's back.
    table = Complaint.__table__
    db.session.execute(sa.update(table).where(table.c.id == case.id)
                       .values(version=table.c.version + 1))
    with pytest.raises(StaleCase), unit_of_work():
        workflow.fire(case, "accept", user("intake"))
    db.session.expire_all()
    assert db.session.execute(sa.select(sa.func.count(CaseEvent.id))
                              .where(CaseEvent.trigger == "accept")).scalar() == 0


def test_illegal_trigger_changes_nothing_and_says_why(demo):
    case, _ = make_complaint()
    with pytest.raises(IllegalTransition, match="当前状态为「待受理」"), unit_of_work():
        workflow.fire(case, "start_investigation", user("inspector"))
    assert case.state is ComplaintState.SUBMITTED


def test_required_data_missing(demo):
    case, _ = make_complaint()
    with pytest.raises(InvalidData) as info, unit_of_work():
        workflow.fire(case, "propose_refusal", user("intake"), {"reason": "  "})
    assert info.value.errors == {"reason": "此项必填"}


def test_four_eyes_proposer_cannot_approve(demo, app):
    from oversight.models import User
    from workflows.roles import Role

    case, _ = make_complaint()
    run(case, HAPPY_PATH[:3])
    # The proposer is later promoted to leader: the same person still may not approve.
    proposer = user("inspector")
    with unit_of_work():
        proposer.role = Role.LEADER
    with pytest.raises(IllegalTransition, match="提出人不能审批"), unit_of_work():
        workflow.fire(case, "approve_conclusion", db.session.get(User, proposer.id))


def test_review_window(demo):
    case, _ = make_complaint()
    run(case, HAPPY_PATH)
    actor = PublicActor("complaint", case.id)
    late = case.review_deadline_at + dt.timedelta(seconds=1)
    with pytest.raises(IllegalTransition, match="已超过申请复查的期限"), unit_of_work():
        workflow.fire(case, "request_review", actor, {"reason": "不服"}, now=late)
    with unit_of_work():
        workflow.fire(case, "request_review", actor, {"reason": "不服"})
    assert case.state is ComplaintState.UNDER_REVIEW
    with unit_of_work():
        workflow.fire(case, "uphold_on_review", user("leader"), {"reason": "事实清楚"})
    assert case.state is ComplaintState.CLOSED
    kinds = db.session.execute(sa.select(Notice.kind).order_by(Notice.id)).scalars().all()
    assert kinds[-1] == "review_decision"


def test_close_waits_for_the_review_window(demo):
    case, _ = make_complaint()
    run(case, HAPPY_PATH)
    with pytest.raises(IllegalTransition, match="尚未届满"), unit_of_work():
        workflow.fire(case, "close", user("intake"))
    with unit_of_work():
        workflow.fire(case, "close", user("intake"),
                      now=case.review_deadline_at + dt.timedelta(minutes=1))
    assert case.state is ComplaintState.CLOSED


def test_transfer_creates_a_case_at_the_officers_organ(demo):
    case, code = make_complaint(officer_badge="BJ10003")  # officer of 海淀分局
    with unit_of_work():
        workflow.fire(case, "transfer", user("intake"),
                      {"target_organ_id": str(organ("BJ-HD").id), "reason": "属海淀分局管辖"})
    assert case.state is ComplaintState.TRANSFERRED
    new = case.transferred_to
    assert new.organ.code == "BJ-HD" and new.state is ComplaintState.SUBMITTED
    assert new.access_code_hash == case.access_code_hash
    new_clock = db.session.execute(sa.select(CaseClock).where(
        CaseClock.case_id == new.id)).scalar_one()
    assert new_clock.kind == "acknowledge"
    # each clock carries its own case's organ: the deadlines list of 海淀 finds the new one
    assert new_clock.organ_id == organ("BJ-HD").id
    assert {c.organ_id for c in db.session.execute(sa.select(CaseClock).where(
        CaseClock.case_id == case.id)).scalars()} == {organ("BJ-CY").id}
    notice = db.session.execute(sa.select(Notice).where(Notice.case_id == case.id)).scalar_one()
    assert new.number in notice.body and "海淀分局" in notice.body
    assert list(events.verify_chains()) == []


def test_a_cases_organ_never_changes_once_it_is_opened(demo):
    """A transfer opens a new case: moving a case itself would leave its clocks (which
    carry its organ) and its issued notices behind, so the models refuse it."""
    case, _code = make_complaint()
    case.organ_id = organ("BJ-HD").id
    with pytest.raises(registry.OrganFixed), unit_of_work():
        db.session.flush()
    db.session.rollback()
    case.organ = organ("BJ-HD")
    with pytest.raises(registry.OrganFixed), unit_of_work():
        db.session.flush()
    db.session.rollback()
    assert db.session.get(type(case), case.id).organ.code == "BJ-CY"


def test_merge_needs_an_open_target_in_scope(demo):
    case, _ = make_complaint()
    other, _ = make_complaint()
    with pytest.raises(InvalidData) as info, unit_of_work():
        workflow.fire(case, "merge", user("intake"), {"target_number": case.number,
                                                      "reason": "重复"})
    assert "自身" in info.value.errors["target_number"]
    with unit_of_work():
        workflow.fire(case, "merge", user("intake"), {"target_number": other.number,
                                                      "reason": "重复"})
    assert case.merged_into_id == other.id


def test_withdraw_cancels_running_clocks(demo):
    case, _ = make_complaint()
    with unit_of_work():
        workflow.fire(case, "withdraw", PublicActor("complaint", case.id))
    assert {c.outcome for c in db.session.execute(sa.select(CaseClock)).scalars()} == {
        ClockOutcome.CANCELLED}


def test_breached_clock_recorded(demo):
    case, _ = make_complaint(now=utcnow() - dt.timedelta(days=20))
    with unit_of_work():
        workflow.fire(case, "accept", user("intake"))
    ack = db.session.execute(sa.select(CaseClock).where(CaseClock.kind == "acknowledge")
                             ).scalar_one()
    assert ack.outcome is ClockOutcome.BREACHED


def test_events_and_notices_are_append_only(demo):
    case, _ = make_complaint()
    run(case, HAPPY_PATH[:1])
    ev = db.session.execute(sa.select(CaseEvent)).scalars().first()
    ev.reason = "篡改"
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()
    notice = db.session.execute(sa.select(Notice)).scalars().first()
    db.session.delete(notice)
    with pytest.raises(ImmutableRecordError):
        db.session.flush()
    db.session.rollback()


def test_event_payload_never_carries_identity(demo):
    case, _ = make_complaint()
    run(case, HAPPY_PATH)
    for ev in db.session.execute(sa.select(CaseEvent)).scalars():
        text = str(ev.payload) + ev.reason
        assert "王小明" not in text and "13800138000" not in text
    assert events.redact({"phone": "1", "x": 2}) == {"phone": "[已隐去]", "x": 2}


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_tampering_is_detected(demo, tamper):
    case, _ = make_complaint()
    run(case, HAPPY_PATH[:3])
    assert list(events.verify_chains()) == []
    table = CaseEvent.__table__
    # The database refuses it outright…
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), unit_of_work():
        db.session.execute(sa.update(table).where(table.c.seq == 2).values(reason="篡改"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), unit_of_work():
        db.session.execute(sa.delete(table).where(table.c.seq == 2))
    # …and when someone with DDL rights lifts the guard, the hash chain still tells.
    with unit_of_work(), append_only_lifted(db.session.connection()):
        if tamper == "edit":
            db.session.execute(sa.update(table).where(table.c.seq == 2)
                               .values(reason="事后篡改"))
        else:
            db.session.execute(sa.delete(table).where(table.c.seq == 2))
    breaks = list(events.verify_chains())
    assert breaks and breaks[0].seq in (2, 3)


def test_merged_complainants_receive_the_outcome(demo):
    joined, _ = make_complaint(name="李四", email="li@example.com",
                               narrative="同一事件：辅警在三里屯路口推搡群众，我也在现场目睹。")
    target, _ = make_complaint()
    with unit_of_work():
        workflow.fire(joined, "merge", user("intake"), {"target_number": target.number,
                                                        "reason": "同一事项"})
    run(target, HAPPY_PATH)
    shared = db.session.execute(sa.select(Notice).where(
        Notice.case_id == joined.id, Notice.kind == "outcome")).scalar_one()
    assert target.number in shared.body and target.facts in shared.body
    assert "属实" in shared.body and "王小明" not in shared.body
    assert joined.state is ComplaintState.MERGED
    last = workflow.history(joined)[-1]
    assert last.trigger == "share_outcome" and last.actor_role.value == "system"
    assert last.public and last.payload["notice"] == shared.number
    mails = db.session.execute(sa.select(MailOutbox.recipient)).scalars().all()
    assert "li@example.com" in mails
    assert list(events.verify_chains()) == []


def test_same_submission_key_files_once_even_when_the_check_is_raced(demo, monkeypatch):
    from oversight.services.errors import AlreadySubmitted

    first, _ = make_complaint(submission_key="k-123")
    # Simulate the race: the pre-check runs before the first request committed.
    real_execute = db.session.execute
    calls = []

    def blind_first_check(statement, *args, **kwargs):
        text = str(statement)
        if "submission_key_hash" in text and not calls and "SELECT complaint.number" in text:
            calls.append(1)
            return real_execute(sa.select(sa.null()).where(sa.false()), *args, **kwargs)
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", blind_first_check)
    with pytest.raises(AlreadySubmitted) as info:
        make_complaint(submission_key="k-123")
    assert calls and info.value.number == first.number
    monkeypatch.undo()
    assert db.session.execute(sa.select(sa.func.count(Complaint.id))).scalar() == 1
