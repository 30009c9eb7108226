"""Disciplinary decisions end to end through the services: the proposal and its notice,
the officer's statement within the window, approval that is never heavier, four-eyes,
service and execution with their effects, supervisor referral, and the measure
catalogue of every pack."""

from __future__ import annotations

import datetime as dt

import pytest
from consequence_helpers import LONG_AGO, propose, violation, violation_at
from helpers import user
from investigation_helpers import add_user, events_of, fire, notices_of, officer, staff_at

from oversight.models.base import utcnow
from oversight.models.org import EmploymentStatus
from oversight.services import discipline
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData
from workflows.discipline import DisciplineState
from workflows.policy import get_packs
from workflows.roles import Role

D = DisciplineState


def recent():
    """A moment a minute ago: inside a statement window opened now."""
    return utcnow().replace(microsecond=0) - dt.timedelta(minutes=1)


def test_proposal_notifies_the_officer_and_opens_the_statement_window(demo):
    inv = violation()
    d = propose(inv, "demotion")
    assert d.state is D.PROPOSED and d.number.startswith("CF")
    assert (d.proposed_measure_code, d.proposed_severity, d.proposed_label) == \
        ("demotion", 4, "降低层级")
    assert d.statement_due_at > LONG_AGO + dt.timedelta(days=5)  # 5 working days
    [notice] = notices_of(d, "discipline_proposal")
    assert "拟处理意见告知书" == notice.title
    assert "降低层级" in notice.body and "陈述和申辩" in notice.body
    assert "第二十五条" in notice.body  # Beijing's measures article, quoted
    opening = events_of(d)[0]
    assert opening.trigger == "propose" and opening.article.endswith("》第二十五条")
    assert opening.actor_id == user("inspector").id


def test_never_heavier_after_defending_and_four_eyes(demo):
    inv = violation()
    now = recent()
    d = propose(inv, "demotion", now=now)
    fire(d, "state_defence", "officer", {"statement": "当时对方先动手，我只是制止。"}, now=now)
    assert d.statement_in_person is False and d.statement_at == now
    # A second statement in the same round is refused.
    with pytest.raises(IllegalTransition, match="已提交"):
        fire(d, "state_defence", "officer", {"statement": "补充"}, now=now)
    # The proposer may not approve (a leader cannot propose; an inspector cannot approve).
    with pytest.raises(Forbidden):
        fire(d, "approve", "inspector", {"measure_code": "criticism", "reason": "x"}, now=now)
    # Heavier than what the officer was told: refused, nothing changes.
    with pytest.raises(IllegalTransition, match="不得作出重于告知"):
        fire(d, "approve", "leader", {"measure_code": "not_retained", "reason": "情节恶劣"},
             now=now)
    assert d.state is D.PROPOSED and d.measure_code == "demotion"
    # The same or lighter is fine.
    fire(d, "approve", "leader", {"measure_code": "criticism", "reason": "考虑其陈述，从轻"},
         now=now)
    assert d.state is D.APPROVED and d.measure_code == "criticism"
    assert d.approved_by_id == user("leader").id
    [decision_notice] = notices_of(d, "discipline_decision")
    assert "批评教育" in decision_notice.body and "轻于告知" in decision_notice.body


def test_heavier_needs_new_facts_and_a_new_notice(demo):
    inv = violation()
    now = recent()
    d = propose(inv, "criticism", now=now)
    fire(d, "revise", "inspector", {"new_facts": "另查明其曾收受当事人财物。",
                                    "measure_code": "not_retained"}, now=now)
    assert d.round == 2 and d.proposed_severity == 5 and d.statement_at is None
    assert len(notices_of(d, "discipline_proposal")) == 2
    assert "补充事实" in d.facts
    later = now + dt.timedelta(days=20)  # the new window has closed
    fire(d, "approve", "leader", {"measure_code": "not_retained", "reason": "情节严重"},
         now=later)
    assert d.state is D.APPROVED


def test_approval_waits_for_the_statement_window(demo):
    inv = violation()
    now = recent()
    d = propose(inv, "demotion", now=now)
    with pytest.raises(IllegalTransition, match="期满后方可审批"):
        fire(d, "approve", "leader", {"measure_code": "demotion", "reason": "x"}, now=now)
    fire(d, "waive_defence", "officer", now=now)
    fire(d, "approve", "leader", {"measure_code": "demotion", "reason": "x"}, now=now)
    assert d.state is D.APPROVED and d.statement_waived


def test_late_statement_is_refused_with_the_date_it_closed(demo):
    d = propose(violation(), "demotion")  # told 30 days ago
    closed = r"陈述申辩的期限已于 \d{4}-\d\d-\d\d \d\d:\d\d 届满"
    with pytest.raises(IllegalTransition, match=closed):
        fire(d, "state_defence", "officer", {"statement": "迟到的申辩"})
    assert d.statement_at is None


def test_staff_record_a_statement_made_in_person(demo):
    now = recent()
    d = propose(violation(), "demotion", now=now)
    fire(d, "state_defence", "inspector", {"statement": "当面陈述：认错。"}, now=now)
    assert d.statement_in_person is True


def test_serve_opens_the_appeal_window_and_execution_demotes(demo):
    d = propose(violation(), "demotion")
    fire(d, "approve", "leader", {"measure_code": "demotion", "reason": "情节较重"})
    level = officer("BJ10001").level
    fire(d, "serve", "inspector")
    assert d.state is D.SERVED and d.appeal_due_at > d.served_at
    fire(d, "execute", "leader")
    assert d.state is D.EXECUTED and officer("BJ10001").level == level - 1
    assert (d.prior_level, d.prior_employment) == (level, EmploymentStatus.EMPLOYED)


def test_ending_the_contract_requires_telling_the_union_first(demo):
    d = propose(violation(), "not_retained")
    fire(d, "approve", "leader", {"measure_code": "not_retained", "reason": "情节严重"})
    fire(d, "serve", "inspector")
    with pytest.raises(InvalidData) as exc:
        fire(d, "execute", "leader", {})
    assert "工会" in exc.value.errors["union_notified_on"]
    assert officer("BJ10001").employment is EmploymentStatus.EMPLOYED
    with pytest.raises(InvalidData, match="不能晚于今天"):
        fire(d, "execute", "leader", {"union_notified_on": "2999-01-01"})
    fire(d, "execute", "leader", {"union_notified_on": "2026-11-20"})
    assert officer("BJ10001").employment is EmploymentStatus.ENDED
    assert d.union_notified_on == dt.date(2026, 11, 20)


def test_a_measure_not_in_the_pack_is_refused_beside_the_field(demo):
    inv = violation()
    with pytest.raises(InvalidData) as exc:
        propose(inv, "pay_deduction")  # national practice, but Beijing lists only three
    assert "处理措施中选择" in exc.value.errors["measure_code"]
    with pytest.raises(InvalidData):
        propose(inv, "firing_squad")


def test_only_the_team_proposes_and_only_after_an_approved_violation(demo):
    inv = violation()
    staff_at("BJ-CY", "bj")
    with pytest.raises(Forbidden):
        propose(inv, "demotion", who="bj-insp")  # not on the team
    with pytest.raises(Forbidden):
        propose(inv, "demotion", who="leader")
    d = propose(inv, "demotion")
    with pytest.raises(IllegalTransition, match="已有处理决定"):
        propose(inv, "criticism")
    assert d.state is D.PROPOSED


def test_cannot_demote_below_the_lowest_level(demo):
    staff_at("NT-CC", "nt")
    inv = violation_at("NT-CC", "NT40001", "nt-insp", "nt-lead")  # level 1
    with pytest.raises(InvalidData, match="最低层级"):
        propose(inv, "demotion", who="nt-insp")


def test_sichuan_contract_end_names_a_ground_of_article_32(demo):
    staff_at("SC-CD-JJ", "sc")
    inv = violation_at("SC-CD-JJ", "SC30001", "sc-insp", "sc-lead")
    with pytest.raises(InvalidData) as exc:
        propose(inv, "dismissal", who="sc-insp")
    assert "第三十二条" in exc.value.errors["dismissal_ground"]
    d = propose(inv, "dismissal", who="sc-insp", ground="violation")
    assert d.ground.label == "违法违纪或严重违反规章制度"
    assert "第三十二条" in notices_of(d, "discipline_proposal")[0].body


def test_yunnan_refers_the_supervising_police_officer(demo):
    inv = violation_at("YN-KM-WH", "YN50001", "yn_inspector", "yn_leader")
    d = propose(inv, "demotion", who="yn_inspector")
    fire(d, "refer_supervisor", "yn_inspector", {
        "supervisor_name": "民警王某（警号 012345）", "referred_to": "五华分局纪检监察室",
        "reason": "带班期间未予制止"})
    assert d.referred_to == "五华分局纪检监察室" and d.supervisor_name.startswith("民警王某")
    [ev] = events_of(d, "refer_supervisor")
    assert ev.article == "《云南省公安机关警务辅助人员管理条例》第四十条"
    with pytest.raises(IllegalTransition, match="已移送"):
        fire(d, "refer_supervisor", "yn_inspector", {
            "supervisor_name": "x", "referred_to": "y", "reason": "z"})


@pytest.mark.parametrize("pack_id, codes, local", [
    ("beijing-2022", ["criticism", "demotion", "not_retained"], True),
    ("sichuan-2021", ["criticism", "public_criticism", "pay_deduction", "demotion",
                      "dismissal"], False),
    ("yunnan-2024", ["criticism", "public_criticism", "pay_deduction", "demotion",
                     "dismissal"], False),
    ("province-2021", ["criticism", "public_criticism", "pay_deduction", "demotion",
                       "dismissal"], False),
    ("nantong-draft", ["criticism", "public_criticism", "pay_deduction", "demotion",
                       "dismissal"], False),
])
def test_measure_catalogue_of_each_pack(pack_id, codes, local):
    pack = get_packs()[pack_id]
    assert [m.code for m in pack.measures] == codes
    severities = [m.severity for m in pack.measures]
    assert severities == sorted(severities) and len(set(severities)) == len(severities)
    effects = {m.code: m.effect for m in pack.measures}
    assert effects["demotion"] == "demote"
    assert effects[codes[-1]] == "end_employment"
    # Beijing's three come from its 第二十五条; elsewhere national practice, labelled so,
    # except Sichuan's contract end, which its 第三十二条 names with six grounds.
    # The province's 第三十五条 names the contract's end too.
    for m in pack.measures:
        if local or (pack_id in ("sichuan-2021", "province-2021") and m.code == "dismissal"):
            assert not m.national_practice and m.label in m.citation.quote
        else:
            assert m.national_practice and m.citation.practice
    sichuan_grounds = get_packs()["sichuan-2021"].measure("dismissal").grounds
    assert len(sichuan_grounds) == 6


def test_nothing_is_half_saved_when_the_notice_fails(demo, monkeypatch):
    inv = violation()
    from oversight.services import notices

    def broken(*args, **kwargs):
        raise RuntimeError("template missing")

    monkeypatch.setattr(notices, "issue", broken)
    with pytest.raises(RuntimeError):
        propose(inv, "demotion")
    assert discipline.for_investigation(inv) == []


def test_officer_account_is_the_officer_party(demo):
    d = propose(violation(), "demotion", now=recent())
    from oversight.services import access

    assert access.can(user("officer"), "view", d)
    assert access.can(user("officer"), "fire:state_defence", d)
    assert not access.can(user("officer"), "fire:approve", d)
    other, _pw = add_user("other-officer", Role.OFFICER, "BJ-CY-SLT",
                          officer=officer("BJ10002"))
    assert not access.can(other, "view", d)
