"""Disciplinary decisions (处理决定) and the officer's appeals (申诉) against them: opening
them, the domain effects of both state tables, and the officer's statement and defence.

A decision starts from an investigation whose violation finding a leader approved. What a
measure does when carried out (a lower level, the end of the employment) is the pack's
``Measure.effect``; the officer's previous level and status are kept on the decision so an
appeal that revokes or varies it restores them exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from oversight.extensions import db
from oversight.models import Appeal, DisciplinaryDecision, Investigation, Organ, User
from oversight.models.org import EmploymentStatus
from oversight.services import numbering, registry, workflow
from oversight.services.access import can
from oversight.services.actors import SystemActor
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData
from oversight.services.registry import CaseTypeBinding
from workflows.appeal import APPEAL, AppealState
from workflows.clocks import due_at, to_local
from workflows.discipline import DISCIPLINE, STANDING, DisciplineState
from workflows.investigation import InvestigationState
from workflows.policy import Measure, PolicyError
from workflows.roles import Role

NUMBER_PREFIX = "CF"
APPEAL_PREFIX = "SS"
STATEMENT_WINDOW = "statement_window"
APPEAL_WINDOW = "appeal_window"
#: A decision in these states still stands in the way of another for the same finding.
LIVE_STATES = (DisciplineState.PROPOSED,) + STANDING + (DisciplineState.EXECUTED,)


def window_end(pack: Any, key: str, start: dt.datetime) -> dt.datetime:
    limit = pack.limit(key)
    return due_at(start, limit.amount, limit.unit.value)


def closed_on(moment: dt.datetime) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M")


# --- queries -----------------------------------------------------------------------------


def for_officer(officer_id: int) -> list[DisciplinaryDecision]:
    """Newest first, with their organs (a decision's measure is its organ's pack's)."""
    return list(db.session.execute(
        sa.select(DisciplinaryDecision).where(DisciplinaryDecision.officer_id == officer_id)
        .options(sa.orm.selectinload(DisciplinaryDecision.organ))
        .order_by(DisciplinaryDecision.created_at.desc(), DisciplinaryDecision.id.desc())
    ).scalars())


def for_investigation(inv: Investigation) -> list[DisciplinaryDecision]:
    """With their organs (a decision's measure is its organ's pack's)."""
    return list(db.session.execute(
        sa.select(DisciplinaryDecision).where(DisciplinaryDecision.investigation_id == inv.id)
        .options(sa.orm.selectinload(DisciplinaryDecision.organ))
        .order_by(DisciplinaryDecision.id)).scalars())


def appeal_of(decision: DisciplinaryDecision) -> Appeal | None:
    return db.session.execute(
        sa.select(Appeal).where(Appeal.decision_id == decision.id)).scalar_one_or_none()


def appeals_for_officer(officer_id: int) -> list[Appeal]:
    """Newest first, with the reviewing organs (checked against the viewer's scope)."""
    return list(db.session.execute(
        sa.select(Appeal).where(Appeal.officer_id == officer_id)
        .options(sa.orm.selectinload(Appeal.organ))
        .order_by(Appeal.created_at.desc(), Appeal.id.desc())).scalars())


# --- measures ------------------------------------------------------------------------------


def choose_measure(pack: Any, code: str, ground_code: str, officer: Any,
                   field: str = "measure_code") -> tuple[Measure, str]:
    """The pack's measure for ``code`` (and its listed ground, where it has grounds), or
    InvalidData beside the form's fields. Also refuses what cannot be carried out."""
    try:
        measure = pack.measure((code or "").strip())
    except PolicyError:
        raise InvalidData({field: _("请从%(pack)s的处理措施中选择", pack=pack.name)}) from None
    ground_code = (ground_code or "").strip()
    if measure.grounds:
        if measure.ground(ground_code) is None:
            raise InvalidData({"dismissal_ground": _(
                "%(measure)s须选择%(article)s所列情形之一", measure=measure.label,
                article=measure.citation.article)})
    else:
        ground_code = ""
    if measure.effect == "demote" and officer.level <= 1:
        raise InvalidData({field: _("该辅警已是最低层级（第1级），不能降低层级")})
    if measure.ends_employment and officer.employment is EmploymentStatus.ENDED:
        raise InvalidData({field: _("该辅警已解除聘用")})
    return measure, ground_code


def _apply_effect(decision: DisciplinaryDecision, measure: Measure) -> dict:
    """Carry out a measure on the officer's record, keeping what it was before."""
    officer = decision.officer
    if decision.prior_level is None:
        decision.prior_level = officer.level
        decision.prior_employment = officer.employment
    if measure.effect == "demote":
        officer.level = max(1, officer.level - 1)
    elif measure.ends_employment:
        officer.employment = EmploymentStatus.ENDED
    return {"level": officer.level, "employment": officer.employment.value}


def _reverse_effect(decision: DisciplinaryDecision) -> dict:
    """Put the officer's level and status back as they were before execution."""
    officer = decision.officer
    if decision.prior_level is not None:
        officer.level = decision.prior_level
    if decision.prior_employment is not None:
        officer.employment = decision.prior_employment
    return {"level": officer.level, "employment": officer.employment.value}


# --- opening a decision ---------------------------------------------------------------------


def propose(inv: Investigation, actor: Any, *, measure_code: str, ground_code: str = "",
            facts: str, articles: str = "", now: dt.datetime) -> DisciplinaryDecision:
    """An inspector of the team proposes a measure after the violation finding; the
    officer is told and the statement window opens. InvalidData is keyed by form field."""
    if not can(actor, "propose_measure", inv):
        raise Forbidden(_("只有调查组的督察可以提出拟处理意见"))
    if actor.id not in inv.team_ids:
        raise Forbidden(_("只有本案调查组成员可以提出拟处理意见"))
    if inv.state is not InvestigationState.VIOLATION or inv.officer is None:
        raise IllegalTransition(_("调查结论为违规成立并经批准后，方可提出拟处理意见"))
    live = [d for d in for_investigation(inv) if d.state in LIVE_STATES]
    if live:
        raise IllegalTransition(_("该调查已有处理决定 %(number)s（%(state)s）",
                                  number=live[0].number, state=live[0].state.label))
    facts = (facts or "").strip()
    errors = {}
    if not facts:
        errors["facts"] = _("请写明违规事实")
    try:
        measure, ground_code = choose_measure(inv.pack, measure_code, ground_code, inv.officer)
    except InvalidData as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidData(errors)
    decision = DisciplinaryDecision(
        number=numbering.next_number(NUMBER_PREFIX, now), organ_id=inv.organ_id,
        state=DisciplineState.PROPOSED, officer_id=inv.officer_id, investigation_id=inv.id,
        proposed_measure_code=measure.code, proposed_severity=measure.severity,
        proposed_label=measure.label, proposed_by_id=actor.id, measure_code=measure.code,
        ground_code=ground_code, facts=facts, articles=(articles or "").strip(), round=1,
        notified_at=now, statement_due_at=window_end(inv.pack, STATEMENT_WINDOW, now),
        created_at=now, updated_at=now,
    )
    db.session.add(decision)
    db.session.flush()
    workflow.open_case(decision, trigger="propose", actor_id=actor.id, role=actor.role,
                       rule="measures", now=now, notice="discipline_proposal",
                       payload={"investigation": inv.number, "measure": measure.code})
    return decision


# --- statement and defence (decisions and recoveries alike) ------------------------------


def record_statement(case: Any, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.statement_text = str(data.get("statement", "")).strip()
    case.statement_at = now
    case.statement_in_person = actor.role is not Role.OFFICER
    return {"statement": case.statement_text, "in_person": case.statement_in_person}


def waive_statement(case: Any, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.statement_at = now
    case.statement_waived = True
    return {}


# --- decision hooks --------------------------------------------------------------------------


def _revise(case: DisciplinaryDecision, actor: Any, data: dict, now: dt.datetime) -> dict:
    measure, ground_code = choose_measure(case.pack, data.get("measure_code"),
                                          data.get("dismissal_ground"), case.officer)
    new_facts = str(data["new_facts"]).strip()
    case.facts = _("%(facts)s\n\n【%(date)s 补充事实】%(new)s", facts=case.facts,
                   date=to_local(now).strftime("%Y-%m-%d"), new=new_facts)
    case.round += 1
    case.proposed_measure_code = case.measure_code = measure.code
    case.proposed_severity, case.proposed_label = measure.severity, measure.label
    case.ground_code = ground_code
    case.proposed_by_id = actor.id
    case.notified_at = now
    case.statement_due_at = window_end(case.pack, STATEMENT_WINDOW, now)
    case.statement_text, case.statement_at = "", None
    case.statement_in_person = case.statement_waived = False
    return {"new_facts": new_facts, "measure": measure.code, "round": case.round}


def _approve(case: DisciplinaryDecision, actor: Any, data: dict, now: dt.datetime) -> dict:
    measure, ground_code = choose_measure(case.pack, data.get("measure_code"),
                                          data.get("dismissal_ground"), case.officer)
    case.measure_code, case.ground_code = measure.code, ground_code
    case.approved_by_id, case.approved_at = actor.id, now
    return {"measure": measure.code, "lighter": measure.severity < case.proposed_severity}


def _serve(case: DisciplinaryDecision, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.served_at = now
    case.appeal_due_at = window_end(case.pack, APPEAL_WINDOW, now)
    return {"appeal_due_at": case.appeal_due_at.isoformat()}


def parse_day(value: Any, field: str, now: dt.datetime, *, required: bool = True
              ) -> dt.date | None:
    """A date typed in a form (YYYY-MM-DD), not in the future."""
    text = str(value or "").strip()
    if not text:
        if required:
            raise InvalidData({field: _("请填写日期")})
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidData({field: _("日期格式应为 2026-01-31")}) from None
    if day > to_local(now).date():
        raise InvalidData({field: _("日期不能晚于今天")})
    return day


def _execute(case: DisciplinaryDecision, actor: Any, data: dict, now: dt.datetime) -> dict:
    measure = case.measure
    if measure.ends_employment:
        union = case.pack.rule("union_notice").citation.label
        if not str(data.get("union_notified_on") or "").strip():
            raise InvalidData({"union_notified_on": _(
                "解除劳动合同前应当事先将理由通知工会（%(rule)s），请填写通知工会的日期",
                rule=union)})
        case.union_notified_on = parse_day(data.get("union_notified_on"),
                                           "union_notified_on", now)
    case.executed_at = now
    return _apply_effect(case, measure)


def _refer_supervisor(case: DisciplinaryDecision, actor: Any, data: dict, now: dt.datetime
                      ) -> dict:
    case.supervisor_name = str(data["supervisor_name"]).strip()[:100]
    case.referred_to = str(data["referred_to"]).strip()[:200]
    case.referred_at = now
    return {"supervisor": case.supervisor_name, "referred_to": case.referred_to}


def _pause(case: DisciplinaryDecision, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.paused = True
    return {}


def _resume(case: DisciplinaryDecision, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.paused = False
    return {}


def _vary(case: DisciplinaryDecision, actor: Any, data: dict, now: dt.datetime) -> dict:
    measure, ground_code = choose_measure(case.pack, data.get("measure_code"),
                                          data.get("dismissal_ground"), case.officer)
    previous = case.measure_code
    case.paused = False
    if case.state is DisciplineState.EXECUTED:
        _reverse_effect(case)
        case.measure_code, case.ground_code = measure.code, ground_code
        payload = _apply_effect(case, measure)
    else:
        case.measure_code, case.ground_code = measure.code, ground_code
        payload = {}
    return {"from": previous, "measure": measure.code, **payload}


def _revoke(case: DisciplinaryDecision, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.paused = False
    case.revoked_at = now
    return _reverse_effect(case) if case.executed_at is not None else {}


# --- appeals ---------------------------------------------------------------------------------


def reviewing_organ(decision: DisciplinaryDecision):
    """The upper organ reviews; a top organ reviews its own decision (by another leader)."""
    return decision.organ.parent or decision.organ


def file_appeal(decision: DisciplinaryDecision, actor: Any, grounds: str, now: dt.datetime
                ) -> Appeal:
    """The officer (on the portal) or intake staff (for one made in person) files an
    appeal within the window that opened when the decision was served."""
    if not can(actor, "file_appeal", decision):
        raise Forbidden()
    existing = appeal_of(decision)
    if existing is not None:
        raise IllegalTransition(_("已对该处理决定提出过申诉（%(number)s）",
                                  number=existing.number))
    if decision.state not in STANDING or decision.served_at is None:
        raise IllegalTransition(_("处理决定送达后方可提出申诉"))
    if now > decision.appeal_due_at:
        raise IllegalTransition(_("申诉期限已于 %(date)s 届满",
                                  date=closed_on(decision.appeal_due_at)))
    grounds = (grounds or "").strip()
    if not grounds:
        raise InvalidData({"grounds": _("请写明申诉的事实和理由")})
    if len(grounds) > 5000:
        raise InvalidData({"grounds": _("申诉理由不超过 5000 字")})
    appeal = Appeal(
        number=numbering.next_number(APPEAL_PREFIX, now),
        organ_id=reviewing_organ(decision).id, state=AppealState.FILED,
        officer_id=decision.officer_id, decision_id=decision.id, grounds=grounds,
        filed_in_person=actor.role is not Role.OFFICER, created_at=now, updated_at=now,
    )
    db.session.add(appeal)
    db.session.flush()
    workflow.open_case(appeal, trigger="file", actor_id=actor.id, role=actor.role,
                       rule="appeal_right", now=now,
                       payload={"decision": decision.number})
    return appeal


def eligible_reviewers(appeal: Appeal) -> list[User]:
    """Leaders of the reviewing organ's tree, never the decision's approver. One query,
    with their organs (the choice shows each leader's organ)."""
    organ = appeal.organ
    approver = appeal.decision.approved_by_id
    q = (sa.select(User).join(Organ, User.organ_id == Organ.id)
         .where(User.role == Role.LEADER, User.active.is_(True),
                Organ.path.startswith(organ.path))
         .options(sa.orm.contains_eager(User.organ))
         .order_by(User.display_name, User.id))
    if approver is not None:
        q = q.where(User.id != approver)
    return list(db.session.execute(q).scalars())


def _designate(case: Appeal, actor: Any, data: dict, now: dt.datetime) -> dict:
    chosen = str(data.get("reviewer_id") or "")
    reviewer = next((u for u in eligible_reviewers(case) if str(u.id) == chosen), None)
    if reviewer is None:
        raise InvalidData({"reviewer_id": _("请选择复查机关的领导（原批准人除外）")})
    case.reviewer_id = reviewer.id
    return {"reviewer": reviewer.id}


def _order_pause(case: Appeal, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.pause_ordered = True
    workflow.fire(case.decision, "pause_on_appeal", SystemActor(),
                  {"reason": str(data.get("reason", ""))}, now=now)
    return {}


def _decided(case: Appeal, actor: Any, now: dt.datetime) -> None:
    case.decided_at, case.decided_by_id = now, actor.id


def _uphold(case: Appeal, actor: Any, data: dict, now: dt.datetime) -> dict:
    _decided(case, actor, now)
    workflow.fire(case.decision, "uphold_on_appeal", SystemActor(), {}, now=now)
    return {}


def _vary_appeal(case: Appeal, actor: Any, data: dict, now: dt.datetime) -> dict:
    measure, ground = choose_measure(case.pack, data.get("measure_code"),
                                     data.get("dismissal_ground"), case.decision.officer)
    _decided(case, actor, now)
    case.varied_measure_code = measure.code
    workflow.fire(case.decision, "vary_on_appeal", SystemActor(),
                  {"measure_code": measure.code, "dismissal_ground": ground}, now=now)
    return {"measure": measure.code}


def _revoke_appeal(case: Appeal, actor: Any, data: dict, now: dt.datetime) -> dict:
    _decided(case, actor, now)
    workflow.fire(case.decision, "revoke_on_appeal", SystemActor(), {}, now=now)
    return {}


def _withdraw(case: Appeal, actor: Any, data: dict, now: dt.datetime) -> dict:
    if case.pause_ordered and case.decision.paused:
        workflow.fire(case.decision, "resume_after_appeal", SystemActor(), {}, now=now)
    return {}


# --- notices ---------------------------------------------------------------------------------


def decision_notice_context(case: DisciplinaryDecision, kind: str, now: dt.datetime) -> dict:
    pack = case.pack
    return {
        "organ": case.organ, "pack": pack, "decision": case, "officer": case.officer,
        "measure": case.measure, "ground": case.ground,
        "proposed": pack.measure(case.proposed_measure_code)
        if case.proposed_measure_code else None,
        "rules": {k: pack.rule(k) for k in ("measures", "officer_statement", "appeal_right")},
        "statement_limit": pack.limit(STATEMENT_WINDOW),
        "appeal_limit": pack.limit(APPEAL_WINDOW),
        "reviewing_organ": reviewing_organ(case),
        "recipient_email": "",
    }


def appeal_notice_context(case: Appeal, kind: str, now: dt.datetime) -> dict:
    pack = case.pack
    varied = pack.measure(case.varied_measure_code) if case.varied_measure_code else None
    return {
        "organ": case.organ, "pack": pack, "appeal": case, "decision": case.decision,
        "officer": case.officer, "measure": case.decision.measure, "varied": varied,
        "rules": {"appeal_right": pack.rule("appeal_right")}, "recipient_email": "",
    }


registry.register(CaseTypeBinding(
    spec=DISCIPLINE, model=DisciplinaryDecision, number_prefix=NUMBER_PREFIX,
    hooks={
        "state_defence": record_statement, "waive_defence": waive_statement,
        "revise": _revise, "approve": _approve, "serve": _serve, "execute": _execute,
        "refer_supervisor": _refer_supervisor, "pause_on_appeal": _pause,
        "vary_on_appeal": _vary, "uphold_on_appeal": _resume,
        "resume_after_appeal": _resume, "revoke_on_appeal": _revoke,
    },
    notice_context=decision_notice_context,
))

registry.register(CaseTypeBinding(
    spec=APPEAL, model=Appeal, number_prefix=APPEAL_PREFIX,
    pack_of=lambda case: case.decision.pack,
    hooks={
        "designate_reviewer": _designate, "order_pause": _order_pause, "uphold": _uphold,
        "vary": _vary_appeal, "revoke": _revoke_appeal, "withdraw": _withdraw,
    },
    notice_context=appeal_notice_context,
))
