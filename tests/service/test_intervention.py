"""Early intervention (预警): which complaints count, the thresholds per organ with the
ancestor fallback, one open flag per kind, clearing and re-flagging, and the mail to the
officer's organ's leaders. Months matter here, so every step runs at an explicit time."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from helpers import make_complaint, organ, user
from investigation_helpers import add_user, officer

from oversight.extensions import db
from oversight.models import Complaint, InterventionRule, MailOutbox, OfficerFlag
from oversight.services import intervention, workflow
from oversight.services.access import can
from oversight.services.actors import PublicActor
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData
from oversight.services.uow import unit_of_work
from workflows.clocks import LOCAL_TZ
from workflows.roles import Role

BADGE = "BJ10001"  # at 朝阳分局 (BJ-CY), where the demo intake and leader work
NAME, PHONE, EMAIL = "王小明", "13800138000", "wang@example.com"  # make_complaint's


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    """A moment given in Beijing time, as the aware UTC datetime the services take."""
    return dt.datetime(year, month, day, hour, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


def categories(code: str = "BJ-CY") -> list[str]:
    return [c.code for c in organ(code).pack.categories]


def filed(when: dt.datetime, category: str | None = None, badge: str = BADGE,
          organ_code: str = "BJ-CY") -> Complaint:
    overrides = {"category_code": category} if category else {}
    if not badge:
        overrides["officer_description"] = "高个，戴眼镜"
    complaint, _code = make_complaint(now=when, officer_badge=badge,
                                      organ_id=organ(organ_code).id, **overrides)
    return complaint


def accept(complaint: Complaint, when: dt.datetime, intake: str = "intake") -> Complaint:
    with unit_of_work():
        workflow.fire(complaint, "accept", user(intake), now=when)
    return complaint


def accepted(when: dt.datetime, category: str | None = None, badge: str = BADGE,
             organ_code: str = "BJ-CY", intake: str = "intake") -> Complaint:
    return accept(filed(when, category, badge, organ_code), when, intake)


def flags(badge: str = BADGE, open_only: bool = False) -> list[OfficerFlag]:
    q = sa.select(OfficerFlag).where(OfficerFlag.officer_id == officer(badge).id)
    if open_only:
        q = q.where(OfficerFlag.cleared_at.is_(None))
    return list(db.session.execute(q.order_by(OfficerFlag.id)).scalars())


def leader_mail() -> list[MailOutbox]:
    """Mail that is not a notice to a complainant."""
    return list(db.session.execute(
        sa.select(MailOutbox).where(MailOutbox.notice_id.is_(None))
        .order_by(MailOutbox.id)).scalars())


def set_rule(organ_code: str, threshold: int = 3, months: int = 12, repeat=()):
    with unit_of_work():
        db.session.add(InterventionRule(organ_id=organ(organ_code).id, threshold=threshold,
                                        months=months, repeat_categories=list(repeat)))


def clear(flag: OfficerFlag, note: str, when: dt.datetime, who: str = "leader"):
    with unit_of_work():
        intervention.clear(flag, user(who), note, when)


# --------------------------------------------------------------------------- thresholds


def test_count_flag_at_the_threshold_not_before(demo):
    cats = categories()
    first = accepted(at(2026, 1, 5), cats[0])
    second = accepted(at(2026, 2, 5), cats[1])
    assert flags() == []
    third = accepted(at(2026, 3, 5), cats[2])
    [flag] = flags()
    assert (flag.kind, flag.category_code) == ("count", "")
    assert flag.complaint_ids == [first.id, second.id, third.id]
    assert flag.flagged_at == at(2026, 3, 5)
    assert flag.organ_id == organ("BJ-CY").id
    assert flag.cleared_at is None


def test_the_window_is_calendar_months_back_from_evaluation(demo):
    """Default 12 months: on 2026-01-15 the window opens at 2025-01-15 00:00 Beijing time.
    A complaint accepted the day before has dropped out; one that day still counts."""
    cats = categories()
    accepted(at(2025, 1, 14, 23), cats[0])
    accepted(at(2025, 6, 1), cats[1])
    accepted(at(2026, 1, 15, 9), cats[2])
    assert flags() == []
    assert intervention.window_start(at(2026, 1, 15, 9), 12) == at(2025, 1, 15, 0)

    inside = accepted(at(2025, 1, 15, 0), cats[3], badge="BJ10002")
    accepted(at(2025, 6, 1), cats[4], badge="BJ10002")
    accepted(at(2026, 1, 15, 9), cats[5], badge="BJ10002")
    [flag] = flags("BJ10002")
    assert flag.complaint_ids[0] == inside.id


def test_month_ends_clamp(demo):
    # 31 March back one month is the last day of February.
    assert intervention.window_start(at(2026, 3, 31), 1) == at(2026, 2, 28, 0)


def test_only_accepted_complaints_count(demo):
    """Refused, withdrawn before acceptance and still-waiting complaints do not count;
    one withdrawn after acceptance still does (it was accepted)."""
    cats = categories()
    refused = filed(at(2026, 1, 2), cats[0])
    with unit_of_work():
        workflow.fire(refused, "propose_refusal", user("intake"), {"reason": "不属于受理范围"},
                      now=at(2026, 1, 2))
    with unit_of_work():
        workflow.fire(refused, "approve_refusal", user("leader"), now=at(2026, 1, 3))
    dropped = filed(at(2026, 1, 4), cats[1])
    with unit_of_work():
        workflow.fire(dropped, "withdraw", PublicActor("complaint", dropped.id),
                      now=at(2026, 1, 4))
    filed(at(2026, 1, 5), cats[2])  # never accepted
    later = accepted(at(2026, 1, 6), cats[3])
    with unit_of_work():
        workflow.fire(later, "withdraw", PublicActor("complaint", later.id), now=at(2026, 1, 7))
    accepted(at(2026, 1, 8), cats[4])
    assert flags() == []
    assert [c.complaint.id for c in intervention.counted_complaints(
        officer(BADGE), at(2026, 1, 9), 12)] == [later.id, later.id + 1]
    accepted(at(2026, 1, 9), cats[5])
    [flag] = flags()
    assert len(flag.complaint_ids) == 3 and later.id in flag.complaint_ids
    assert refused.id not in flag.complaint_ids and dropped.id not in flag.complaint_ids


def test_a_transferred_complaint_counts_once(demo):
    """Accepted at 朝阳 and transferred to 海淀, which accepts its own copy: one matter."""
    add_user("hd-intake", Role.INTAKE, "BJ-HD")
    first = accepted(at(2026, 1, 5), badge="BJ10003")
    with unit_of_work():
        workflow.fire(first, "transfer", user("intake"),
                      {"target_organ_id": str(organ("BJ-HD").id), "reason": "辅警属海淀分局"},
                      now=at(2026, 1, 6))
    copy = db.session.get(Complaint, first.transferred_to_id)
    accept(copy, at(2026, 1, 7), intake="hd-intake")
    counted = intervention.counted_complaints(officer("BJ10003"), at(2026, 1, 8), 12)
    assert [c.complaint.id for c in counted] == [copy.id]


def test_complaints_about_other_officers_or_none_do_not_count(demo):
    cats = categories()
    accepted(at(2026, 1, 5), cats[0], badge="BJ10002")
    accepted(at(2026, 1, 6), cats[1], badge="")  # officer not identified
    accepted(at(2026, 1, 7), cats[2])
    accepted(at(2026, 1, 8), cats[3])
    assert flags() == [] and flags("BJ10002") == []


# --------------------------------------------------------------------------- repeats


def test_two_in_one_category_raise_a_repeat_flag(demo):
    cat = categories()[1]
    first = accepted(at(2026, 4, 1), cat)
    assert flags() == []
    second = accepted(at(2026, 5, 1), cat)
    [flag] = flags()
    assert (flag.kind, flag.category_code) == ("repeat", cat)
    assert flag.complaint_ids == [first.id, second.id]
    # A third in that category adds the count flag, not a second repeat flag.
    accepted(at(2026, 6, 1), cat)
    assert sorted((f.kind, f.category_code) for f in flags()) == [("count", ""),
                                                                  ("repeat", cat)]


def test_repeat_categories_limit_the_repeat_rule(demo):
    watched, other = categories()[1], categories()[2]
    set_rule("BJ-CY", threshold=5, repeat=[watched])
    accepted(at(2026, 4, 1), other)
    accepted(at(2026, 4, 2), other)
    assert flags() == []
    accepted(at(2026, 4, 3), watched)
    accepted(at(2026, 4, 4), watched)
    [flag] = flags()
    assert (flag.kind, flag.category_code) == ("repeat", watched)


def test_repeat_window_follows_the_months_setting(demo):
    cat = categories()[1]
    set_rule("BJ-CY", threshold=9, months=2)
    accepted(at(2026, 1, 5), cat)
    accepted(at(2026, 3, 6), cat)  # window opens 2026-01-06
    assert flags() == []
    accepted(at(2026, 5, 5), cat)  # window opens 2026-03-05
    [flag] = flags()
    assert flag.kind == "repeat" and len(flag.complaint_ids) == 2


# --------------------------------------------------------------------------- open, clear, again


def test_no_second_open_flag_of_the_same_kind(demo):
    cats = categories()
    for month in (1, 2, 3, 4, 5):
        accepted(at(2026, month, 3), cats[month])
    [flag] = flags()
    assert flag.kind == "count" and len(flag.complaint_ids) == 3


def test_clearing_needs_a_note_and_the_next_complaint_flags_again(demo):
    cats = categories()
    for month in (1, 2, 3):
        accepted(at(2026, month, 3), cats[month])
    [flag] = flags()
    for note in ("", "   "):
        with pytest.raises(InvalidData) as err:
            clear(flag, note, at(2026, 3, 4))
        assert "note" in err.value.errors
    assert flags(open_only=True) == [flag]

    clear(flag, "已约谈该辅警，调整岗位。", at(2026, 3, 10))
    flag = db.session.get(OfficerFlag, flag.id)
    assert flag.cleared_at == at(2026, 3, 10)
    assert flag.cleared_by_id == user("leader").id
    assert flag.clear_note == "已约谈该辅警，调整岗位。"
    with pytest.raises(IllegalTransition):
        clear(flag, "再次解除", at(2026, 3, 11))

    fourth = accepted(at(2026, 4, 3), cats[4])
    [old, new] = flags()
    assert old.id == flag.id and new.cleared_at is None
    assert new.kind == "count" and new.complaint_ids[-1] == fourth.id
    assert len(new.complaint_ids) == 4  # those already counted still count


def test_clearing_a_repeat_flag_then_the_same_category_flags_again(demo):
    cats = categories()
    set_rule("BJ-CY", threshold=9)
    accepted(at(2026, 1, 3), cats[1])
    accepted(at(2026, 1, 4), cats[1])
    [flag] = flags()
    clear(flag, "已核实，系误会。", at(2026, 1, 5))
    accepted(at(2026, 1, 6), cats[2])  # another category: no repeat flag
    assert flags(open_only=True) == []
    third = accepted(at(2026, 1, 7), cats[1])
    [again] = flags(open_only=True)
    assert (again.kind, again.category_code) == ("repeat", cats[1])
    assert len(again.complaint_ids) == 3 and again.complaint_ids[-1] == third.id


def test_only_leaders_in_scope_clear(demo):
    cats = categories()
    for month in (1, 2, 3):
        accepted(at(2026, month, 3), cats[month])
    [flag] = flags()
    add_user("hd-leader", Role.LEADER, "BJ-HD")
    for who in ("hd-leader", "inspector", "intake", "officer"):
        with pytest.raises(Forbidden):
            clear(flag, "说明", at(2026, 3, 4), who=who)
    clear(flag, "上级机关领导已阅处。", at(2026, 3, 4), who="bj_leader")


# --------------------------------------------------------------------------- per-organ rules


def test_rule_lookup_own_row_then_nearest_ancestor_then_defaults(demo):
    slt = organ("BJ-CY-SLT")
    assert intervention.thresholds_for(slt) == intervention.Thresholds(3, 12, (), None)
    set_rule("BJ", threshold=5, months=6)
    assert intervention.thresholds_for(slt).threshold == 5
    assert intervention.thresholds_for(slt).source.code == "BJ"
    set_rule("BJ-CY", threshold=2, months=3, repeat=["other"])
    rule = intervention.thresholds_for(slt)
    assert (rule.threshold, rule.months, rule.repeat_categories, rule.source.code) == \
        (2, 3, ("other",), "BJ-CY")
    assert intervention.thresholds_for(organ("BJ-HD")).source.code == "BJ"
    assert intervention.thresholds_for(organ("YN-KM-WH")).source is None


def test_the_officers_organ_rule_applies(demo):
    """BJ10002 serves at 三里屯 (no row): 朝阳's threshold of 2 applies. BJ10001 at 朝阳
    itself is under the same row; 海淀's officer keeps the defaults."""
    cats = categories()
    set_rule("BJ-CY", threshold=2)
    accepted(at(2026, 2, 1), cats[1], badge="BJ10002")
    assert flags("BJ10002") == []
    accepted(at(2026, 2, 2), cats[2], badge="BJ10002")
    assert [f.kind for f in flags("BJ10002")] == ["count"]
    assert flags("BJ10002")[0].organ_id == organ("BJ-CY-SLT").id

    accepted(at(2026, 2, 3), cats[1], badge="BJ10003")
    accepted(at(2026, 2, 4), cats[2], badge="BJ10003")
    assert flags("BJ10003") == []


def test_configure_validates_and_saves(demo):
    bj_cy = organ("BJ-CY")
    with pytest.raises(InvalidData) as err:
        with unit_of_work():
            intervention.configure(bj_cy, user("leader"), "1", "0", ["nonsense"],
                                   at(2026, 1, 1))
    assert set(err.value.errors) == {"threshold", "months", "repeat_categories"}
    with pytest.raises(InvalidData) as err:
        with unit_of_work():
            intervention.configure(bj_cy, user("leader"), "三", "", [], at(2026, 1, 1))
    assert set(err.value.errors) == {"threshold", "months"}
    assert db.session.get(InterventionRule, bj_cy.id) is None

    cats = categories()
    with unit_of_work():
        intervention.configure(bj_cy, user("leader"), "4", "6", [cats[3], cats[1]],
                               at(2026, 1, 1))
    row = db.session.get(InterventionRule, bj_cy.id)
    assert (row.threshold, row.months, row.repeat_categories) == (4, 6, [cats[1], cats[3]])


def test_who_may_configure(demo):
    add_user("hd-leader", Role.LEADER, "BJ-HD")
    bj_cy = organ("BJ-CY")
    assert can(user("leader"), "configure_intervention", bj_cy)
    assert can(user("admin"), "configure_intervention", organ("YN-KM-WH"))
    for who in ("hd-leader", "bj_leader", "inspector", "intake", "officer"):
        assert not can(user(who), "configure_intervention", bj_cy), who
        with pytest.raises(Forbidden):
            with unit_of_work():
                intervention.configure(bj_cy, user(who), "3", "12", [], at(2026, 1, 1))
    assert not can(user("leader"), "configure_intervention", organ("BJ"))
    assert not can(user("leader"), "configure_intervention", organ("BJ-CY-SLT"))


def test_who_may_manage_flags(demo):
    add_user("hd-leader", Role.LEADER, "BJ-HD")
    bj_cy = organ("BJ-CY")
    assert can(user("leader"), "manage_flags", bj_cy)
    assert can(user("bj_leader"), "manage_flags", bj_cy)
    for who in ("hd-leader", "inspector", "intake", "officer", "admin", "yn_leader"):
        assert not can(user(who), "manage_flags", bj_cy), who


# --------------------------------------------------------------------------- mail, atomicity


def test_mail_goes_to_active_leaders_of_the_officers_organ_with_an_email(demo):
    with unit_of_work():
        user("leader").email = "qian@example.gov.cn"
        user("bj_leader").email = "upper@example.gov.cn"  # the upper organ: not mailed
        user("inspector").email = "sun@example.gov.cn"  # not a leader
    add_user("cy-leader2", Role.LEADER, "BJ-CY")  # no email
    gone, _pw = add_user("cy-leader3", Role.LEADER, "BJ-CY")
    with unit_of_work():
        gone = user("cy-leader3")
        gone.email, gone.active = "gone@example.gov.cn", False
    cats = categories()
    numbers = [accepted(at(2026, m, 3), cats[m]).number for m in (1, 2)]
    assert leader_mail() == []
    numbers.append(accepted(at(2026, 3, 3), cats[3]).number)
    [mail] = leader_mail()
    assert mail.recipient == "qian@example.gov.cn"
    assert BADGE in mail.subject and "预警" in mail.subject
    for number in numbers:
        assert number in mail.body
    for secret in (NAME, PHONE, EMAIL):
        assert secret not in mail.body and secret not in mail.subject
    assert mail.created_at == at(2026, 3, 3)


def test_no_mail_without_an_email(demo):
    cats = categories()
    for m in (1, 2, 3):
        accepted(at(2026, m, 3), cats[m])
    assert len(flags()) == 1
    assert leader_mail() == []


def test_a_failed_acceptance_leaves_no_flag_and_no_mail(demo, monkeypatch):
    with unit_of_work():
        user("leader").email = "qian@example.gov.cn"
    cats = categories()
    accepted(at(2026, 1, 3), cats[1])
    accepted(at(2026, 2, 3), cats[2])
    third = filed(at(2026, 3, 3), cats[3])

    def broken(*args, **kwargs):
        raise RuntimeError("notice printer jammed")

    monkeypatch.setattr("oversight.services.notices.issue", broken)
    with pytest.raises(RuntimeError):
        accept(third, at(2026, 3, 3))
    assert flags() == [] and leader_mail() == []
    assert db.session.get(Complaint, third.id).state.value == "submitted"
