"""Compensation recovery (追偿): fault required, mandatory versus discretionary in each
pack, amounts in integer fen never above what was paid nor above what the officer was
told, instalments that sum exactly, overdue flags, settlement and bad amounts."""

from __future__ import annotations

import datetime as dt

import pytest
from consequence_helpers import open_recovery
from helpers import user
from investigation_helpers import events_of, fire, notices_of, officer, staff_at

from oversight.extensions import db
from oversight.models import RecoveryPayment
from oversight.models.base import utcnow
from oversight.models.records import ImmutableRecordError
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData
from oversight.services.uow import unit_of_work
from workflows.clocks import to_local
from workflows.money import MoneyError, allocate, format_fen, parse_yuan, split_fen
from workflows.policy import get_packs
from workflows.recovery import BasisKind, RecoveryState, is_mandatory, recovery_rule_key

R = RecoveryState
LONG_AGO = utcnow() - dt.timedelta(days=30)


def ordered(amount: str = "6000", paid: str = "10000"):
    r = open_recovery(paid=paid, now=LONG_AGO)
    fire(r, "find_fault", "inspector", {"fault": "gross_negligence",
                                        "facts": "驾驶警车闯红灯致人受伤。"}, now=LONG_AGO)
    fire(r, "propose_amount", "inspector", {"amount": amount, "reason": "按过错程度"},
         now=LONG_AGO)
    fire(r, "order", "leader", {"amount": amount, "reason": "维持"})
    return r


# --- money, pure ---------------------------------------------------------------------------


def test_instalments_sum_exactly_across_odd_amounts():
    assert split_fen(100000, 3) == [33334, 33333, 33333]
    for total in (1, 7, 99, 100000, 123457, 10**9 + 1):
        for parts in (1, 2, 3, 7, 12):
            if total >= parts:
                shares = split_fen(total, parts)
                assert sum(shares) == total and max(shares) - min(shares) <= 1
    assert allocate([33334, 33333, 33333], 40000) == [33334, 6666, 0]


@pytest.mark.parametrize("text, fen", [("1", 100), ("1234.5", 123450), ("1,234.56", 123456),
                                       ("0.01", 1), ("¥12", 1200), ("12元", 1200)])
def test_amounts_are_parsed_to_integer_fen(text, fen):
    assert parse_yuan(text) == fen and isinstance(parse_yuan(text), int)


@pytest.mark.parametrize("text, message", [
    ("", "请填写金额"), ("-5", "负数"), ("0", "大于零"), ("0.00", "大于零"),
    ("12.345", "精确到分"), ("abc", "数字金额"), ("1e5", "数字金额"),
    ("99999999999", "上限"), ("12.3.4", "数字金额"),
])
def test_bad_amounts_are_refused_with_clear_messages(text, message):
    with pytest.raises(MoneyError, match=message):
        parse_yuan(text)


def test_format_fen():
    assert format_fen(123456) == "1,234.56" and format_fen(5) == "0.05"


# --- mandatory or discretionary ------------------------------------------------------------


@pytest.mark.parametrize("pack_id, basis, mandatory, article", [
    ("province-2021", "state_compensation", True, "第三十八条"),
    ("province-2021", "civil_judgment", True, "第三十八条"),
    ("sichuan-2021", "state_compensation", True, "第四十二条"),
    ("yunnan-2024", "state_compensation", False, "第四十条"),
    ("yunnan-2024", "civil_judgment", False, "第四十条"),
    ("beijing-2022", "state_compensation", True, "第十六条"),
    ("beijing-2022", "civil_judgment", False, "第一千一百九十一条"),
    ("nantong-draft", "state_compensation", True, "第十六条"),
    ("nantong-draft", "civil_judgment", False, "第一千一百九十一条"),
])
def test_mandatory_versus_discretionary_in_each_pack(pack_id, basis, mandatory, article):
    pack = get_packs()[pack_id]
    kind = BasisKind(basis)
    assert is_mandatory(pack, kind) is mandatory
    rule = pack.rule(recovery_rule_key(pack, kind))
    assert rule.citation.article == article
    # Where the local text is silent the screen says so (the rule is a fallback).
    assert rule.fallback is (pack_id in ("beijing-2022", "nantong-draft"))


def test_mandatory_recovery_cannot_simply_be_declined(demo):
    r = open_recovery()
    assert r.mandatory and r.number.startswith("ZC")
    fire(r, "find_fault", "inspector", {"fault": "intent", "facts": "故意损毁财物。"})
    with pytest.raises(IllegalTransition, match="免予追偿"):
        fire(r, "decline", "leader", {"reason": "不追了"})
    fire(r, "propose_waiver", "inspector", {"waiver_basis": "国家赔偿法第十六条；家庭困难",
                                            "reason": "确有困难"})
    staff_at("BJ-CY", "bj")
    fire(r, "approve_waiver", "leader", {"reason": "同意"})
    assert r.state is R.WAIVED
    assert "免予追偿" in notices_of(r, "recovery_closed")[0].body


def test_waiver_needs_a_leader_other_than_the_proposer(demo):
    r = open_recovery()
    fire(r, "find_fault", "inspector", {"fault": "intent", "facts": "x"})
    fire(r, "propose_waiver", "inspector", {"waiver_basis": "依据", "reason": "r"})
    with pytest.raises(Forbidden):  # the proposer is an inspector: never the approver
        fire(r, "approve_waiver", "inspector", {"reason": "x"})
    fire(r, "reject_waiver", "leader", {"reason": "应当追偿"})
    assert r.state is R.FAULT_FOUND


def test_discretionary_recovery_may_be_declined(demo):
    r = open_recovery(basis="civil_judgment")  # Beijing silent: 民法典 可以
    assert not r.mandatory and r.rule_key == "recovery_civil"
    [opening] = events_of(r)
    assert opening.article.endswith("第一千一百九十一条")
    fire(r, "find_fault", "inspector", {"fault": "gross_negligence", "facts": "x"})
    fire(r, "decline", "leader", {"reason": "损失较小，已批评教育"})
    assert r.state is R.DECLINED
    [ev] = events_of(r, "decline")
    assert ev.article.endswith("第一千一百九十一条")


def test_no_recovery_without_intent_or_gross_negligence(demo):
    r = open_recovery()
    with pytest.raises(IllegalTransition, match="只有故意或者重大过失"):
        fire(r, "find_fault", "inspector", {"fault": "ordinary_negligence", "facts": "x"})
    with pytest.raises(IllegalTransition):
        fire(r, "close_no_fault", "leader", {"fault": "intent", "facts": "x"})
    fire(r, "close_no_fault", "leader", {"fault": "ordinary_negligence", "facts": "一般过失"})
    assert r.state is R.NO_FAULT
    assert "不存在故意或者重大过失" in notices_of(r, "recovery_closed")[0].body


# --- amounts --------------------------------------------------------------------------------


def test_amount_never_above_compensation_nor_the_proposal(demo):
    r = open_recovery(paid="10000", now=LONG_AGO)
    fire(r, "find_fault", "inspector", {"fault": "intent", "facts": "x"}, now=LONG_AGO)
    with pytest.raises(InvalidData) as exc:
        fire(r, "propose_amount", "inspector", {"amount": "10000.01", "reason": "x"},
             now=LONG_AGO)
    assert "不得超过已支付的赔偿金额 10,000.00" in exc.value.errors["amount"]
    for bad in ("-1", "0", "12.345", "abc"):
        with pytest.raises(InvalidData):
            fire(r, "propose_amount", "inspector", {"amount": bad, "reason": "x"}, now=LONG_AGO)
    assert r.state is R.FAULT_FOUND and r.proposed_fen is None
    fire(r, "propose_amount", "inspector", {"amount": "5000", "reason": "x"}, now=LONG_AGO)
    with pytest.raises(InvalidData, match="不得超过告知辅警的拟追偿金额"):
        fire(r, "order", "leader", {"amount": "5000.01", "reason": "x"})
    fire(r, "order", "leader", {"amount": "4000", "reason": "考虑陈述申辩"})
    assert (r.proposed_fen, r.ordered_fen) == (500000, 400000)


def test_statement_window_for_the_proposed_amount(demo):
    r = open_recovery()
    fire(r, "find_fault", "inspector", {"fault": "intent", "facts": "x"})
    fire(r, "propose_amount", "inspector", {"amount": "3000", "reason": "x"})
    with pytest.raises(IllegalTransition, match="期满后方可审批"):
        fire(r, "order", "leader", {"amount": "3000", "reason": "x"})
    fire(r, "state_defence", "officer", {"statement": "我已尽到注意义务。"})
    fire(r, "order", "leader", {"amount": "3000", "reason": "x"})
    assert r.state is R.ORDERED


def test_bad_opening_input_is_refused_beside_each_field(demo):
    from oversight.services import recoveries

    with pytest.raises(InvalidData) as exc, unit_of_work():
        recoveries.open_recovery(user("inspector"), officer=officer("BJ10001"), paid="-3",
                                 payee=" ", paid_on="2999-01-01", basis_kind="gift",
                                 basis_ref="", linked_number="TS2099000001", now=utcnow())
    assert set(exc.value.errors) == {"paid_amount", "payee", "paid_on", "basis_kind",
                                     "basis_ref", "linked_number"}


# --- repayment ------------------------------------------------------------------------------


def test_plan_payments_overdue_and_settlement(demo):
    r = ordered("1000")  # 100000 fen
    today = to_local(utcnow()).date()
    with pytest.raises(InvalidData, match="不能早于今天"):
        fire(r, "plan", "inspector", {"instalments": "3",
                                      "first_due_on": (today - dt.timedelta(days=1)).isoformat()})
    fire(r, "plan", "inspector", {"instalments": "3", "first_due_on": today.isoformat()})
    assert [i.amount_fen for i in r.instalments] == [33334, 33333, 33333]
    assert sum(i.amount_fen for i in r.instalments) == r.ordered_fen
    # Nothing paid and the first instalment falls due today: overdue from tomorrow.
    tomorrow = today + dt.timedelta(days=1)
    assert [s.seq for s in r.overdue_instalments(tomorrow)] == [1]
    assert r.overdue_instalments(today) == []
    with pytest.raises(InvalidData, match="超过尚未偿还的金额"):
        fire(r, "record_payment", "inspector", {"amount": "1000.01",
                                                "paid_on": today.isoformat()})
    fire(r, "record_payment", "inspector", {"amount": "333.34", "paid_on": today.isoformat()})
    assert r.overdue_instalments(tomorrow) == [] and r.outstanding_fen == 66666
    fire(r, "record_payment", "inspector", {"amount": "666.66", "paid_on": today.isoformat()})
    assert r.state is R.SETTLED and r.outstanding_fen == 0 and r.settled_at is not None
    assert notices_of(r, "recovery_settled")
    assert [e.trigger for e in events_of(r)][-2:] == ["record_payment", "settle"]


def test_payments_are_never_edited_or_deleted(demo):
    r = ordered("100")
    fire(r, "plan", "inspector", {"instalments": "1",
                                  "first_due_on": to_local(utcnow()).date().isoformat()})
    fire(r, "record_payment", "inspector", {"amount": "10", "paid_on":
                                            to_local(utcnow()).date().isoformat()})
    payment = db.session.query(RecoveryPayment).one()
    with pytest.raises(ImmutableRecordError), unit_of_work():
        payment.amount_fen = 1
    with pytest.raises(ImmutableRecordError), unit_of_work():
        db.session.delete(db.session.get(RecoveryPayment, payment.id))


def test_database_refuses_an_order_above_the_compensation(demo):
    r = ordered("100", paid="200")
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), unit_of_work():
        r.ordered_fen = r.paid_fen + 1
        r.proposed_fen = r.paid_fen + 1
