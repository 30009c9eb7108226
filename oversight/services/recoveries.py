"""Compensation recovery (追偿): opening one after the organ paid, and the domain effects of
the recovery state table. Every amount is integer fen, parsed from what staff type in yuan
(``workflows.money``); the database refuses an amount above what was paid, too."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from oversight.extensions import db
from oversight.models import Officer, Recovery, RecoveryInstalment, RecoveryPayment
from oversight.services import numbering, registry, workflow
from oversight.services.access import can
from oversight.services.discipline import (
    STATEMENT_WINDOW,
    parse_day,
    record_statement,
    waive_statement,
    window_end,
)
from oversight.services.errors import Forbidden, InvalidData
from oversight.services.registry import CaseTypeBinding
from workflows.clocks import add_months, to_local
from workflows.money import MoneyError, format_fen, parse_yuan, split_fen
from workflows.recovery import (
    RECOVERY,
    BasisKind,
    Fault,
    RecoveryState,
    is_mandatory,
    recovery_rule_key,
)

NUMBER_PREFIX = "ZC"
MAX_INSTALMENTS = 60


def amount(value: Any, field: str) -> int:
    try:
        return parse_yuan(str(value or ""))
    except MoneyError as exc:
        raise InvalidData({field: str(exc)}) from None


def for_officer(officer_id: int) -> list[Recovery]:
    """Newest first, with their organs, instalments and payments (the officer's record
    shows each one's balance and overdue instalments)."""
    return list(db.session.execute(
        sa.select(Recovery).where(Recovery.officer_id == officer_id)
        .options(sa.orm.selectinload(Recovery.organ), sa.orm.selectinload(Recovery.instalments),
                 sa.orm.selectinload(Recovery.payments))
        .order_by(Recovery.created_at.desc(), Recovery.id.desc())).scalars())


def _linked_case(actor: Any, number: str) -> str:
    number = (number or "").strip().upper()
    if not number:
        return ""
    binding = registry.binding_for_number(number)
    case = db.session.execute(sa.select(binding.model).where(
        binding.model.number == number)).scalar_one_or_none() if binding else None
    if case is None or not can(actor, "view", case):
        raise InvalidData({"linked_number": _("未找到案件 %(number)s，或不在您的管辖范围内",
                                              number=number)})
    return number


def open_recovery(actor: Any, *, officer: Officer | None, paid: str, payee: str,
                  paid_on: str, basis_kind: str, basis_ref: str, linked_number: str = "",
                  description: str = "", now: dt.datetime) -> Recovery:
    """Open a recovery of what the officer's organ paid. InvalidData keyed by form field."""
    errors: dict[str, str] = {}
    if officer is None:
        errors["officer_badge"] = _("请填写造成损害的辅警编号")
    elif not can(actor, "open_recovery", officer):
        raise Forbidden(_("该辅警不在您的管辖范围内，或您无权立案追偿"))
    fields = {}
    for name, check in (
        ("paid_amount", lambda: amount(paid, "paid_amount")),
        ("paid_on", lambda: parse_day(paid_on, "paid_on", now)),
        ("linked_number", lambda: _linked_case(actor, linked_number)),
    ):
        try:
            fields[name] = check()
        except InvalidData as exc:
            errors.update(exc.errors)
    kind = next((b for b in BasisKind if b.value == basis_kind), None)
    if kind is None:
        errors["basis_kind"] = _("请选择赔偿依据")
    if not (payee or "").strip():
        errors["payee"] = _("请填写获得赔偿的一方")
    if not (basis_ref or "").strip():
        errors["basis_ref"] = _("请填写国家赔偿决定书或判决书的文号")
    if errors:
        raise InvalidData(errors)
    pack = officer.organ.pack
    recovery = Recovery(
        number=numbering.next_number(NUMBER_PREFIX, now), organ_id=officer.organ_id,
        state=RecoveryState.OPENED, officer_id=officer.id, paid_fen=fields["paid_amount"],
        payee=payee.strip()[:200], paid_on=fields["paid_on"], basis_kind=kind,
        basis_ref=basis_ref.strip()[:200], linked_number=fields["linked_number"],
        description=(description or "").strip(), mandatory=is_mandatory(pack, kind),
        rule_key=recovery_rule_key(pack, kind), created_at=now, updated_at=now,
    )
    db.session.add(recovery)
    db.session.flush()
    workflow.open_case(recovery, trigger="open_recovery", actor_id=actor.id, role=actor.role,
                       rule="recovery", now=now,
                       payload={"paid_fen": recovery.paid_fen, "mandatory": recovery.mandatory})
    return recovery


# --- hooks -----------------------------------------------------------------------------------


def _fault(case: Recovery, actor: Any, data: dict, now: dt.datetime) -> dict:
    fault = next((f for f in Fault if f.value == data.get("fault")), None)
    if fault is None:
        raise InvalidData({"fault": _("请选择过错程度")})
    case.fault = fault
    case.fault_facts = str(data.get("facts", "")).strip()
    return {"fault": fault.value}


def _within_paid(case: Recovery, fen: int, field: str) -> None:
    if fen > case.paid_fen:
        raise InvalidData({field: _("追偿金额不得超过已支付的赔偿金额 %(paid)s 元",
                                    paid=format_fen(case.paid_fen))})


def _propose(case: Recovery, actor: Any, data: dict, now: dt.datetime) -> dict:
    fen = amount(data.get("amount"), "amount")
    _within_paid(case, fen, "amount")
    case.proposed_fen, case.proposed_by_id = fen, actor.id
    case.statement_due_at = window_end(case.pack, STATEMENT_WINDOW, now)
    case.statement_text, case.statement_at = "", None
    case.statement_in_person = case.statement_waived = False
    return {"amount_fen": fen}


def _order(case: Recovery, actor: Any, data: dict, now: dt.datetime) -> dict:
    fen = amount(data.get("amount"), "amount")
    _within_paid(case, fen, "amount")
    if fen > case.proposed_fen:
        raise InvalidData({"amount": _(
            "不得超过告知辅警的拟追偿金额 %(proposed)s 元；陈述申辩不会导致追偿金额增加",
            proposed=format_fen(case.proposed_fen))})
    case.ordered_fen, case.ordered_by_id, case.ordered_at = fen, actor.id, now
    return {"amount_fen": fen}


def _propose_waiver(case: Recovery, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.waiver_basis = str(data.get("waiver_basis", "")).strip()
    return {"waiver_basis": case.waiver_basis}


def _int_field(data: dict, field: str, low: int, high: int, default: int | None = None) -> int:
    text = str(data.get(field) or "").strip()
    if not text and default is not None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidData({field: _("请填写 %(low)s 到 %(high)s 之间的整数", low=low, high=high)})
    return int(text)


def _plan(case: Recovery, actor: Any, data: dict, now: dt.datetime) -> dict:
    count = _int_field(data, "instalments", 1, MAX_INSTALMENTS)
    interval = _int_field(data, "interval_months", 1, 12, default=1)
    text = str(data.get("first_due_on") or "").strip()
    try:
        first = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidData({"first_due_on": _("日期格式应为 2026-01-31")}) from None
    if first < to_local(now).date():
        raise InvalidData({"first_due_on": _("首期还款日不能早于今天")})
    if count > case.ordered_fen:
        raise InvalidData({"instalments": _("分期数不能多于追偿金额的分数")})
    for seq, fen in enumerate(split_fen(case.ordered_fen, count), start=1):
        case.instalments.append(RecoveryInstalment(
            seq=seq, due_on=add_months(first, (seq - 1) * interval), amount_fen=fen))
    return {"instalments": count, "first_due_on": first.isoformat(), "interval": interval}


def _payment(case: Recovery, actor: Any, data: dict, now: dt.datetime) -> dict:
    fen = amount(data.get("amount"), "amount")
    if fen > case.outstanding_fen:
        raise InvalidData({"amount": _("超过尚未偿还的金额 %(left)s 元",
                                       left=format_fen(case.outstanding_fen))})
    day = parse_day(data.get("paid_on"), "paid_on", now)
    case.payments.append(RecoveryPayment(
        amount_fen=fen, paid_on=day, note=str(data.get("note") or "").strip(),
        recorded_by_id=actor.id, recorded_at=now))
    return {"amount_fen": fen, "paid_on": day.isoformat(),
            "outstanding_fen": case.outstanding_fen}


def _settle(case: Recovery, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.settled_at = now
    return {}


def _follow_up(case: Recovery, trigger: str) -> str | None:
    """A payment that clears the balance settles the recovery."""
    if trigger == "record_payment" and case.outstanding_fen == 0:
        return "settle"
    return None


def notice_context(case: Recovery, kind: str, now: dt.datetime) -> dict:
    pack = case.pack
    return {
        "organ": case.organ, "pack": pack, "recovery": case, "officer": case.officer,
        "rule": case.rule, "statement_rule": pack.rule("officer_statement"),
        "statement_limit": pack.limit(STATEMENT_WINDOW), "recipient_email": "",
    }


registry.register(CaseTypeBinding(
    spec=RECOVERY, model=Recovery, number_prefix=NUMBER_PREFIX,
    rule_of=lambda case, key: case.pack.rule(case.rule_key if key == "recovery" else key),
    follow_up=_follow_up,
    hooks={
        "find_fault": _fault, "close_no_fault": _fault, "propose_amount": _propose,
        "state_defence": record_statement, "waive_defence": waive_statement,
        "order": _order, "propose_waiver": _propose_waiver, "plan": _plan,
        "record_payment": _payment, "settle": _settle,
    },
    notice_context=notice_context,
))
