"""Recusal applications (回避申请) through the service layer: every origin's lifecycle, the
statutory clocks with frozen times, the one 复议 within its window, withdrawal, and a hook
failure that leaves nothing half-saved."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from helpers import PNG_BYTES, Upload, organ, user

from oversight.extensions import db
from oversight.models import (
    Attachment,
    CaseClock,
    CaseEvent,
    ClockOutcome,
    MailOutbox,
    Notice,
    Officer,
    Recusal,
    RecusalApplicant,
    SearchOutbox,
    User,
)
from oversight.services import cases, events, recusals, workflow
from oversight.services.access import can
from oversight.services.actors import PublicActor
from oversight.services.errors import (
    AlreadySubmitted,
    Forbidden,
    IllegalTransition,
    InvalidData,
)
from oversight.services.uow import unit_of_work
from workflows.clocks import LOCAL_TZ
from workflows.recusal import RecusalOrigin, RecusalState
from workflows.roles import Role

S = RecusalState
#: 2026-11-25 10:00 Beijing time, a Wednesday.
T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)


def local_end_of_day(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 23, 59, 59, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


def application(**overrides) -> recusals.RecusalInput:
    data = dict(
        organ_id=organ("BJ-CY").id,
        applicant_role="party",
        name="王小明",
        phone="13800138000",
        email="wang@example.com",
        matter_ref="京公朝（三）受案字〔2026〕1123号",
        matter_summary="11月20日三里屯路口纠纷",
        officer_badge="BJ10001",
        ground_code="party_or_relative",
        facts="该辅警是对方当事人李某的表弟，我在现场听到二人以表兄弟相称。",
    )
    data.update(overrides)
    return recusals.RecusalInput(**data)


def file_public(now: dt.datetime = T0, **overrides) -> tuple[Recusal, str]:
    with unit_of_work():
        return recusals.submit(application(**overrides), now)


def fire(case, trigger: str, actor, data: dict | None = None, now: dt.datetime = T0):
    with unit_of_work():
        return workflow.fire(case, trigger, actor, data or {}, now=now)


def make_user(username: str, role: Role, organ_code: str, badge: str | None = None) -> User:
    officer = None
    if badge:
        officer = db.session.execute(
            sa.select(Officer).where(Officer.badge_no == badge)).scalar_one()
    u = User(username=username, display_name=username, role=role, organ=organ(organ_code),
             officer=officer)
    u.set_password("not-used-here")
    with unit_of_work():
        db.session.add(u)
    return u


def counts(case) -> tuple[int, ...]:
    def n(model, *where):
        return db.session.execute(
            sa.select(sa.func.count()).select_from(model).where(*where)).scalar()

    def mine(model):
        return model.case_type == "recusal", model.case_id == case.id

    return (n(CaseEvent, *mine(CaseEvent)), n(CaseClock, *mine(CaseClock)),
            n(Notice, *mine(Notice)), n(SearchOutbox, *mine(SearchOutbox)), n(MailOutbox))


def clock(case, kind: str) -> CaseClock:
    return db.session.execute(sa.select(CaseClock).where(
        CaseClock.case_type == "recusal", CaseClock.case_id == case.id,
        CaseClock.kind == kind)).scalar_one()


def notice(case, kind: str) -> Notice:
    return db.session.execute(sa.select(Notice).where(
        Notice.case_type == "recusal", Notice.case_id == case.id,
        Notice.kind == kind)).scalar_one()


def triggers(case) -> list[str]:
    return [ev.trigger for ev in workflow.history(case)]


# --------------------------------------------------------------------------- public origin


def test_public_application_is_filed_with_clock_identity_event_and_outbox(demo):
    case, code = file_public(files=[Upload("现场照片.png", PNG_BYTES)])
    assert case.number.startswith("HB2026") and len(case.number) == 12
    assert case.state is S.FILED and case.origin is RecusalOrigin.PUBLIC
    # The officer's own organ decides (北京 第十七条): BJ10001 serves at 朝阳分局.
    assert case.organ.code == "BJ-CY" and case.officer.badge_no == "BJ10001"
    assert case.applicant.label == "当事人" and case.ground.label == "是当事人或其近亲属"
    assert code not in case.access_code_hash and cases.code_matches(case.access_code_hash, code)
    applicant = db.session.get(RecusalApplicant, case.id)
    assert (applicant.name, applicant.phone) == ("王小明", "13800138000")
    # recusal_decide: 2 calendar days, the filing day not counted, to the end of the day.
    decide = clock(case, "recusal_decide")
    assert decide.due_at == local_end_of_day(2026, 11, 27)
    assert decide.amount == 2 and "第二十一条" in decide.citation
    [ev] = workflow.history(case)
    assert (ev.trigger, ev.to_state, ev.actor_role) == ("submit", "filed", Role.PUBLIC)
    assert ev.article == "《北京市公安机关警务辅助人员管理办法》第十七条"
    assert "王小明" not in str(ev.payload)
    assert counts(case) == (1, 1, 0, 1, 0)
    [att] = db.session.execute(sa.select(Attachment).where(
        Attachment.case_type == "recusal", Attachment.case_id == case.id)).scalars()
    assert (att.mime, att.from_public) == ("image/png", True)


def test_grant_decides_earlier_acts_and_issues_the_decision(demo):
    case, _code = file_public()
    fire(case, "grant", user("leader"),
         {"reason": "经核实，该辅警系对方当事人近亲属", "earlier_acts": "redo"},
         now=T0 + dt.timedelta(days=1))
    assert case.state is S.GRANTED and case.decided_at == T0 + dt.timedelta(days=1)
    assert case.earlier_acts_stand is False
    assert case.earlier_acts_note == "经核实，该辅警系对方当事人近亲属"
    assert clock(case, "recusal_decide").outcome is ClockOutcome.MET
    body = notice(case, "granted").body
    assert body.startswith("北京市公安局朝阳分局\n准予回避决定书\n")
    for text in (case.number, "当事人", case.matter_ref, "编号 BJ10001", "是当事人或其近亲属",
                 "准予回避", "经核实，该辅警系对方当事人近亲属", "重新作出",
                 "《北京市公安机关警务辅助人员管理办法》第十七条"):
        assert text in body, text
    assert "王小明" not in body and "张伟" not in body  # neither identity in the notice
    # The applicant left an e-mail address: the decision waits in the outbox for them.
    mail = db.session.execute(sa.select(MailOutbox)).scalar_one()
    assert mail.recipient == "wang@example.com" and mail.body == body
    assert list(events.verify_chains()) == []


def test_late_decision_breaches_the_two_day_clock(demo):
    case, _code = file_public()
    fire(case, "grant", user("leader"), {"reason": "属实", "earlier_acts": "stand"},
         now=local_end_of_day(2026, 11, 27) + dt.timedelta(seconds=1))
    assert clock(case, "recusal_decide").outcome is ClockOutcome.BREACHED
    assert case.earlier_acts_stand is True
    assert "继续有效" in notice(case, "granted").body


def test_deny_opens_a_five_day_window_and_reconsideration_is_answered_in_five(demo):
    case, _code = file_public()
    denied_at = T0 + dt.timedelta(days=1)  # 2026-11-26 local
    fire(case, "deny", user("leader"), {"reason": "所称亲属关系经核查不存在"}, now=denied_at)
    assert case.state is S.DENIED and case.decided_at == denied_at
    assert case.reconsider_deadline_at == local_end_of_day(2026, 12, 1)
    body = notice(case, "denied").body
    assert "申请复议一次" in body and "2026-12-01 23:59" in body
    assert "《公安机关办理刑事案件程序规定》第三十七条" in body
    assert "不停止" in body

    # The last minute of the window still counts.
    asked_at = local_end_of_day(2026, 12, 1) - dt.timedelta(minutes=1)
    fire(case, "request_reconsideration", PublicActor("recusal", case.id),
         {"reason": "有新的证据证明亲属关系"}, now=asked_at)
    assert case.state is S.RECONSIDERING and case.reconsidered is True
    answer = clock(case, "recusal_reconsider_answer")
    assert answer.due_at == local_end_of_day(2026, 12, 6)

    fire(case, "grant_on_reconsideration", user("leader"),
         {"reason": "复议查明亲属关系属实", "earlier_acts": "stand"},
         now=asked_at + dt.timedelta(days=2))
    assert case.state is S.GRANTED and case.earlier_acts_stand is True
    assert answer.outcome is ClockOutcome.MET
    final = notice(case, "reconsideration").body
    assert "撤销原驳回决定，准予回避" in final and "最终决定" in final
    assert triggers(case) == ["submit", "deny", "request_reconsideration",
                              "grant_on_reconsideration"]


def test_late_reconsideration_is_refused_with_the_closing_date(demo):
    case, _code = file_public()
    fire(case, "deny", user("leader"), {"reason": "不属于回避情形"}, now=T0)
    late = case.reconsider_deadline_at + dt.timedelta(seconds=1)
    before = counts(case)
    with pytest.raises(IllegalTransition, match="已于 2026-11-30 23:59 届满"):
        fire(case, "request_reconsideration", PublicActor("recusal", case.id),
             {"reason": "不服"}, now=late)
    assert case.state is S.DENIED and case.reconsidered is False
    assert counts(case) == before


def test_second_reconsideration_is_refused(demo):
    case, _code = file_public()
    fire(case, "deny", user("leader"), {"reason": "不属于回避情形"})
    public = PublicActor("recusal", case.id)
    fire(case, "request_reconsideration", public, {"reason": "不服"},
         now=T0 + dt.timedelta(days=1))
    fire(case, "deny_on_reconsideration", user("leader"), {"reason": "维持原决定"},
         now=T0 + dt.timedelta(days=2))
    assert case.state is S.DENIED_FINAL
    assert "维持原驳回决定" in notice(case, "reconsideration").body
    with pytest.raises(IllegalTransition, match="已申请过一次复议"):
        fire(case, "request_reconsideration", public, {"reason": "再次不服"},
             now=T0 + dt.timedelta(days=3))  # still inside the first window
    assert case.state is S.DENIED_FINAL


def test_withdraw_cancels_the_clock(demo):
    case, _code = file_public()
    fire(case, "withdraw", PublicActor("recusal", case.id), {"reason": "已与对方和解"},
         now=T0 + dt.timedelta(hours=3))
    assert case.state is S.WITHDRAWN
    assert clock(case, "recusal_decide").outcome is ClockOutcome.CANCELLED
    with pytest.raises(IllegalTransition):
        fire(case, "grant", user("leader"), {"reason": "x", "earlier_acts": "stand"})


def test_a_hook_that_refuses_leaves_nothing_half_saved(demo):
    case, _code = file_public()
    before, version = counts(case), case.version
    with pytest.raises(InvalidData) as info:
        fire(case, "grant", user("leader"), {"reason": "属实", "earlier_acts": "maybe"})
    assert "继续有效，或需重新作出" in info.value.errors["earlier_acts"]
    db.session.expire_all()
    case = db.session.get(Recusal, case.id)
    assert case.state is S.FILED and case.version == version
    assert case.decided_at is None and case.earlier_acts_stand is None
    assert counts(case) == before
    assert clock(case, "recusal_decide").outcome is ClockOutcome.RUNNING


def test_a_failure_after_the_hook_rolls_back_the_hooks_changes(demo, monkeypatch):
    case, _code = file_public()
    before, version = counts(case), case.version

    def explode(**_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(events, "append", explode)
    with pytest.raises(RuntimeError):
        fire(case, "deny", user("leader"), {"reason": "不属于回避情形"})
    db.session.expire_all()
    case = db.session.get(Recusal, case.id)
    assert case.state is S.FILED and case.version == version
    assert case.reconsider_deadline_at is None and case.decided_at is None
    assert counts(case) == before


def test_notes_are_recorded_without_moving_the_case(demo):
    case, _code = file_public()
    fire(case, "add_note", user("inspector"), {"note": "已电话联系办案民警核实"})
    assert case.state is S.FILED
    assert workflow.history(case)[-1].payload == {"note": "已电话联系办案民警核实"}


def test_only_a_leader_decides(demo):
    case, _code = file_public()
    for who in ("intake", "inspector"):
        with pytest.raises(Forbidden):
            fire(case, "grant", user(who), {"reason": "x", "earlier_acts": "stand"})


def test_same_submission_key_files_once(demo):
    case, _code = file_public(submission_key="key-1")
    with pytest.raises(AlreadySubmitted) as info:
        file_public(submission_key="key-1")
    assert info.value.number == case.number
    assert db.session.execute(sa.select(sa.func.count(Recusal.id))).scalar() == 1


# --------------------------------------------------------------------------- validation


def test_unknown_badge_offers_the_description_route(demo):
    with pytest.raises(InvalidData) as info:
        file_public(officer_badge="bj99999")
    assert info.value.errors["officer_badge"] == (
        "未找到编号为 BJ99999 的辅警。请核对编号，或清空编号并在下方描述其外貌特征等信息")


def test_described_officer_goes_to_the_chosen_organ(demo):
    case, _code = file_public(officer_badge="", officer_description="三十岁左右，戴眼镜，高个子")
    assert case.officer_id is None and case.organ.code == "BJ-CY"


def test_the_officers_organ_decides_even_below_the_chosen_one(demo):
    case, _code = file_public(officer_badge="BJ10002")  # 三里屯派出所, under 朝阳分局
    assert case.organ.code == "BJ-CY-SLT"


def test_officer_outside_the_chosen_organs_tree_is_refused(demo):
    with pytest.raises(InvalidData) as info:
        file_public(officer_badge="BJ10003")  # 海淀分局
    assert "不在所选单位" in info.value.errors["officer_badge"]


@pytest.mark.parametrize("field, overrides, fragment", [
    ("name", {"name": " "}, "申请人姓名"),
    ("phone", {"phone": "", "email": ""}, "至少留一种联系方式"),
    ("matter_ref", {"matter_ref": ""}, "案（事）件的编号"),
    ("facts", {"facts": ""}, "事实和理由"),
    ("officer_description", {"officer_badge": "", "officer_description": ""}, "辅警编号"),
    ("applicant_role", {"applicant_role": "guardian"}, "您的身份"),
    ("ground_code", {"ground_code": "dislike"}, "所列的回避情形"),
    ("organ_id", {"organ_id": None}, "辅警所在单位"),
    ("files", {"files": [Upload(f"p{i}.png", PNG_BYTES) for i in range(6)]}, "最多上传 5 个"),
])
def test_invalid_application_is_refused_beside_the_field(demo, field, overrides, fragment):
    with pytest.raises(InvalidData) as info:
        file_public(**overrides)
    assert fragment in info.value.errors[field]
    assert db.session.execute(sa.select(sa.func.count(Recusal.id))).scalar() == 0


# --------------------------------------------------------------------------- oral


def test_oral_application_recorded_by_intake_gets_a_code(demo):
    with unit_of_work():
        case, code = recusals.record_oral(user("intake"), application(name="赵大爷",
                                                                      email=""), T0)
    assert case.origin is RecusalOrigin.ORAL and case.state is S.FILED
    assert cases.code_matches(case.access_code_hash, code)
    [ev] = workflow.history(case)
    assert (ev.trigger, ev.actor_id, ev.actor_role) == ("submit", user("intake").id,
                                                         Role.INTAKE)
    assert ev.payload["origin"] == "oral"
    assert clock(case, "recusal_decide").due_at == local_end_of_day(2026, 11, 27)
    fire(case, "deny", user("leader"), {"reason": "不属于回避情形"})
    assert "口头提出" in notice(case, "denied").body
    # Intake may record a 复议 the applicant asks for in person.
    fire(case, "request_reconsideration", user("intake"), {"reason": "当面提出复议"},
         now=T0 + dt.timedelta(days=1))
    assert case.state is S.RECONSIDERING


def test_oral_application_outside_the_clerks_scope_is_refused(demo):
    with pytest.raises(InvalidData) as info, unit_of_work():
        recusals.record_oral(user("intake"), application(
            organ_id=organ("YN-KM").id, officer_badge="YN50001"), T0)
    assert "管辖范围" in info.value.errors["officer_badge"]
    with pytest.raises(Forbidden), unit_of_work():
        recusals.record_oral(user("leader"), application(), T0)


# --------------------------------------------------------------------------- self


def test_officer_self_recusal_is_decided_without_reconsideration(demo):
    matter = recusals.MatterInput(matter_ref="京公朝行罚决字〔2026〕88号",
                                  ground_code="interest",
                                  facts="本人的哥哥是该案被处罚人所在公司的股东。")
    with unit_of_work():
        case = recusals.self_recuse(user("officer"), matter, T0)
    assert case.origin is RecusalOrigin.SELF and case.applicant_role == ""
    assert case.access_code_hash is None and case.officer.badge_no == "BJ10001"
    assert db.session.get(RecusalApplicant, case.id) is None
    assert workflow.history(case)[0].actor_role is Role.OFFICER
    # The officer does not see the case afterwards: recusal is not a case they are party to.
    assert not can(user("officer"), "view", case)

    fire(case, "deny", user("leader"), {"reason": "利害关系过远，不影响公正履职"})
    assert case.state is S.DENIED and case.reconsider_deadline_at is None
    body = notice(case, "denied").body
    assert "自行回避" in body and "最终决定" in body and "复议一次" not in body
    with pytest.raises(IllegalTransition, match="不适用复议"):
        fire(case, "request_reconsideration", user("intake"), {"reason": "x"})


def test_self_recusal_needs_an_officer_account_and_a_listed_ground(demo):
    matter = recusals.MatterInput(matter_ref="X1", ground_code="", facts="本人与当事人相识。")
    with pytest.raises(InvalidData) as info, unit_of_work():
        recusals.self_recuse(user("officer"), matter, T0)
    assert "ground_code" in info.value.errors
    with pytest.raises(Forbidden), unit_of_work():
        recusals.self_recuse(user("intake"), matter, T0)


# --------------------------------------------------------------------------- ordered


def test_leader_orders_a_recusal_granted_at_once_without_a_clock(demo):
    matter = recusals.MatterInput(matter_ref="京公朝刑侦〔2026〕12号", ground_code="other_relation",
                                  facts="群众反映该辅警与嫌疑人系同学关系，经初步核实属实。")
    with unit_of_work():
        case = recusals.order(user("leader"), "bj10002", matter, "stand",
                              "为保证案件公正处理，指令回避", T0)
    assert case.origin is RecusalOrigin.ORDERED and case.state is S.GRANTED
    # The ordering organ decides; the officer serves in its tree (三里屯派出所).
    assert case.organ.code == "BJ-CY" and case.officer.organ.code == "BJ-CY-SLT"
    assert case.earlier_acts_stand is True
    assert case.decided_at == T0 and case.access_code_hash is None
    ev = workflow.history(case)[0]
    assert (ev.trigger, ev.from_state, ev.to_state) == ("order", "", "granted")
    body = notice(case, "ordered").body
    assert ev.payload["notice"] == notice(case, "ordered").number
    assert "指令其回避" in body and "李娜" in body and "继续有效" in body
    assert "《北京市公安机关警务辅助人员管理办法》第十七条" in body
    assert counts(case) == (1, 0, 1, 1, 0)


def test_order_is_for_leaders_in_scope_and_rules_on_earlier_acts(demo):
    matter = recusals.MatterInput(matter_ref="X1", ground_code="interest", facts="事实。")
    with pytest.raises(Forbidden), unit_of_work():
        recusals.order(user("inspector"), "BJ10001", matter, "stand", "理由", T0)
    with pytest.raises(InvalidData) as info, unit_of_work():
        recusals.order(user("leader"), "BJ10003", matter, "", " ", T0)  # 海淀: not theirs
    assert set(info.value.errors) == {"officer_badge", "earlier_acts", "reason"}
    assert "管辖范围" in info.value.errors["officer_badge"]
    assert db.session.execute(sa.select(sa.func.count(Recusal.id))).scalar() == 0


# --------------------------------------------------------------------------- access


def test_officer_never_sees_applications_about_them_and_identity_is_narrow(demo):
    case, _code = file_public()
    officer = user("officer")
    assert officer.officer.badge_no == case.officer.badge_no
    assert not can(officer, "view", case) and not can(officer, "view_notices", case)
    assert cases.identity_for(user("intake"), case).name == "王小明"
    assert cases.identity_for(user("leader"), case) is None
    other = make_user("yn-leader", Role.LEADER, "YN")
    assert not can(other, "view", case)
