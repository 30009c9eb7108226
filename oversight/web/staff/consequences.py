"""Staff and officer pages for the consequences stage: proposing a disciplinary measure
from an investigation, filing an appeal, opening a compensation recovery and its statement
of account; and how decisions, appeals and recoveries show on the generic case page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from oversight.extensions import db
from oversight.models import Appeal, DisciplinaryDecision, Officer, Recovery
from oversight.models.base import utcnow
from oversight.services import cases, discipline, recoveries
from oversight.services.access import CASE_ROLES, can, in_scope
from oversight.services.errors import InvalidData, NotFound, ServiceError
from oversight.services.uow import unit_of_work
from oversight.web.common import apply_errors
from oversight.web.filters import countdown
from oversight.web.staff.cases import CasePage, register_page
from oversight.web.staff.views import bp
from workflows.clocks import to_local
from workflows.discipline import DisciplineState
from workflows.money import format_fen
from workflows.recovery import BasisKind, Fault
from workflows.roles import Role

# --- choices -------------------------------------------------------------------------------


def measure_choices(pack: Any, below: int | None = None) -> list[SelectChoice]:
    """The pack's catalogue, lightest first, each with its rank and whether it is national
    practice; ``below`` keeps only measures lighter than that severity."""
    return [SelectChoice("", _("请选择"))] + [
        SelectChoice(m.code, _("%(label)s（轻重等级 %(n)s%(practice)s）", label=m.label,
                               n=m.severity,
                               practice=_("，国家通行做法") if m.national_practice else ""))
        for m in pack.measures if below is None or m.severity < below]


def ground_choices(pack: Any) -> list[SelectChoice]:
    return [SelectChoice("", _("不适用"))] + [
        SelectChoice(g.code, _("%(measure)s：%(ground)s", measure=m.label, ground=g.label))
        for m in pack.measures for g in m.grounds]


def _no_store(body: str, status: int = 200):
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _load(case_type: str, case_id: int):
    try:
        return cases.get_for(current_user, case_type, case_id)
    except NotFound:
        abort(404)


def _open_from(form, opening, message, segment: str):
    """Run ``opening()`` (which opens a case) in one unit of work. On success flash
    ``message(number)`` and go to the new case; on refusal put the messages beside the
    form's fields and return None, so the page is shown again with the typing kept."""
    try:
        with unit_of_work():
            case = opening()
            number, new_id = case.number, case.id
    except InvalidData as exc:
        apply_errors(form, exc.errors)
    except ServiceError as exc:
        form.form_errors.append(exc.message)
    else:
        flash(message(number), "success")
        return redirect(url_for("staff.case", segment=segment, case_id=new_id))
    return None


# --- proposing a measure --------------------------------------------------------------------


class ProposeForm(FlaskForm):
    measure_code = SelectField(_l("拟作出的处理"), coerce=str, validators=[Optional()])
    dismissal_ground = SelectField(_l("解除劳动合同的情形"), coerce=str,
                                   validators=[Optional()])
    facts = TextAreaField(_l("违规事实"), validators=[Optional(), Length(max=5000)])
    articles = TextAreaField(_l("违反的规定（条款）"), validators=[Optional(),
                                                               Length(max=2000)])


def _default_articles(inv: Any) -> str:
    return "\n".join(_("%(label)s：%(cite)s", label=c.label, cite=c.citation.label)
                     for c in inv.categories)


@bp.route("/investigations/<int:case_id>/propose", methods=["GET", "POST"])
def propose_decision(case_id: int):
    inv = _load("investigation", case_id)
    if not can(current_user, "propose_measure", inv):
        abort(403)
    form = ProposeForm()
    form.measure_code.choices = measure_choices(inv.pack)
    form.dismissal_ground.choices = ground_choices(inv.pack)
    if request.method == "GET":
        form.facts.data = inv.facts
        form.articles.data = _default_articles(inv)
    status = 200
    if request.method == "POST":
        status = 400
        done = form.validate() and _open_from(
            form, lambda: discipline.propose(
                inv, current_user, measure_code=form.measure_code.data,
                ground_code=form.dismissal_ground.data, facts=form.facts.data,
                articles=form.articles.data, now=utcnow()),
            lambda number: _("已告知辅警拟处理意见，编号 %(number)s", number=number),
            "discipline")
        if done:
            return done
    return _no_store(render_template(
        "staff/discipline_propose.html", form=form, inv=inv, pack=inv.pack,
        statement_limit=inv.pack.limit(discipline.STATEMENT_WINDOW),
        rule=inv.pack.rule("measures")), status)


# --- filing an appeal -----------------------------------------------------------------------


class AppealForm(FlaskForm):
    grounds = TextAreaField(_l("申诉的事实和理由"), validators=[Optional(), Length(max=5000)])


def appeal_refusal(decision: DisciplinaryDecision, now: dt.datetime) -> str | None:
    """Why no appeal can be filed against this decision now, or None."""
    existing = discipline.appeal_of(decision)
    if existing is not None:
        return _("已提出申诉（%(number)s）", number=existing.number)
    if decision.served_at is None or decision.state not in (
            DisciplineState.SERVED, DisciplineState.EXECUTED, DisciplineState.APPROVED):
        return _("处理决定送达后方可提出申诉")
    if now > decision.appeal_due_at:
        return _("申诉期限已于 %(date)s 届满", date=discipline.closed_on(decision.appeal_due_at))
    return None


@bp.route("/discipline/<int:case_id>/appeal", methods=["GET", "POST"])
def file_appeal(case_id: int):
    decision = _load("discipline", case_id)
    if not can(current_user, "file_appeal", decision):
        abort(403)
    form = AppealForm()
    status = 200
    now = utcnow()
    refusal = appeal_refusal(decision, now)
    if request.method == "POST":
        status = 400
        done = form.validate() and _open_from(
            form, lambda: discipline.file_appeal(decision, current_user, form.grounds.data,
                                                 now),
            lambda number: _("已提出申诉，编号 %(number)s", number=number), "appeals")
        if done:
            return done
    return _no_store(render_template(
        "staff/appeal_form.html", form=form, decision=decision, refusal=refusal,
        rule=decision.pack.rule("appeal_right"),
        reviewing_organ=discipline.reviewing_organ(decision),
        deadline=countdown(decision.appeal_due_at, now)), status)


# --- opening a recovery ---------------------------------------------------------------------


class RecoveryForm(FlaskForm):
    officer_badge = StringField(_l("造成损害的辅警编号"), validators=[Optional(), Length(max=20)])
    paid_amount = StringField(_l("已支付的赔偿金额（元）"), render_kw={"inputmode": "decimal"},
                              validators=[Optional(), Length(max=20)])
    payee = StringField(_l("获得赔偿的一方"), validators=[Optional(), Length(max=200)])
    paid_on = StringField(_l("支付日期"), render_kw={"type": "date"},
                          validators=[Optional(), Length(max=10)])
    basis_kind = RadioField(_l("赔偿依据"), validators=[Optional()])
    basis_ref = StringField(_l("决定书或判决书文号"), validators=[Optional(), Length(max=200)])
    linked_number = StringField(_l("关联案件编号"), validators=[Optional(), Length(max=20)])
    description = TextAreaField(_l("损害情况"), validators=[Optional(), Length(max=5000)])


def _open_recovery(form: RecoveryForm) -> Recovery:
    badge = (form.officer_badge.data or "").strip().upper()
    officer = db.session.execute(
        sa.select(Officer).where(Officer.badge_no == badge)).scalar() if badge else None
    if badge and (officer is None or not in_scope(current_user, officer.organ)):
        raise InvalidData({"officer_badge": _("未找到该辅警编号，或不在您的管辖范围内")})
    return recoveries.open_recovery(
        current_user, officer=officer, paid=form.paid_amount.data, payee=form.payee.data,
        paid_on=form.paid_on.data, basis_kind=form.basis_kind.data,
        basis_ref=form.basis_ref.data, linked_number=form.linked_number.data,
        description=form.description.data, now=utcnow())


@bp.route("/recoveries/new", methods=["GET", "POST"])
def new_recovery():
    if getattr(current_user, "role", None) not in (Role.INSPECTOR, Role.LEADER):
        abort(403)
    form = RecoveryForm()
    form.basis_kind.choices = [SelectChoice(b.value, b.label) for b in BasisKind]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate():
            done = _open_from(form, lambda: _open_recovery(form),
                              lambda number: _("已立案追偿，编号 %(number)s", number=number),
                              "recoveries")
            if done:
                return done
    return _no_store(render_template("staff/recovery_new.html", form=form), status)


@bp.get("/recoveries/<int:case_id>/statement")
def recovery_statement(case_id: int):
    """A printable statement of account: what was paid, ordered, scheduled and repaid."""
    recovery = _load("recovery", case_id)
    now = utcnow()
    return _no_store(render_template(
        "staff/recovery_statement.html", recovery=recovery, schedule=recovery.schedule(),
        today=to_local(now).date(), now=now))


# --- the generic case page: decisions -------------------------------------------------------


def _decision_context(case: DisciplinaryDecision, actor: Any) -> dict:
    now = utcnow()
    appeal = discipline.appeal_of(case)
    return {
        "measure": case.measure,
        "proposed_measure": case.pack.measure(case.proposed_measure_code),
        "rules": {k: case.pack.rule(k) for k in ("measures", "officer_statement",
                                                  "appeal_right", "union_notice",
                                                  "supervisor_referral")},
        "statement_countdown": countdown(case.statement_due_at, now),
        "appeal_countdown": countdown(case.appeal_due_at, now),
        "appeal": appeal,
        "appeal_visible": appeal is not None and can(actor, "view", appeal),
        "may_appeal": can(actor, "file_appeal", case) and appeal_refusal(case, now) is None,
        "investigation_visible": can(actor, "view", case.investigation),
        "officer_href": url_for("staff.officer_page", officer_id=case.officer_id)
        if actor.role in CASE_ROLES and in_scope(actor, case.officer.organ) else None,
    }


def _decision_choices(form: Any, case: DisciplinaryDecision) -> None:
    form.measure_code.choices = measure_choices(case.pack)
    form.dismissal_ground.choices = ground_choices(case.pack)
    if not form.measure_code.data:
        form.measure_code.data = case.measure_code
    if not form.dismissal_ground.data:
        form.dismissal_ground.data = case.ground_code


def _decision_summary(case: DisciplinaryDecision) -> str:
    return _("%(badge)s %(name)s · %(measure)s", badge=case.officer.badge_no,
             name=case.officer.name, measure=case.measure.label)


def _officer_loads(model: Any) -> tuple:
    return (sa.orm.selectinload(model.officer),)


register_page(CasePage(case_type="discipline", segment="discipline",
                       facts_template="staff/facts/discipline.html",
                       context=_decision_context, prepare_form=_decision_choices,
                       summary=_decision_summary, summary_loads=_officer_loads))


# --- the generic case page: appeals ---------------------------------------------------------


def _appeal_context(case: Appeal, actor: Any) -> dict:
    return {
        "decision_visible": can(actor, "view", case.decision),
        "rule": case.pack.rule("appeal_right"),
    }


def _appeal_choices(form: Any, case: Appeal) -> None:
    form.measure_code.choices = measure_choices(case.pack, below=case.decision.measure.severity)
    form.dismissal_ground.choices = ground_choices(case.pack)
    form.reviewer_id.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(str(u.id), _("%(name)s（%(organ)s）", name=u.display_name,
                                  organ=u.organ.name))
        for u in discipline.eligible_reviewers(case)]


def _appeal_summary(case: Appeal) -> str:
    return _("%(badge)s %(name)s · 对 %(number)s（%(measure)s）", badge=case.officer.badge_no,
             name=case.officer.name, number=case.decision.number,
             measure=case.decision.measure.label)


def _appeal_loads(model: Any) -> tuple:
    # the summary names the decision and its measure (the decision's pack: its organ)
    return (sa.orm.selectinload(model.officer),
            sa.orm.selectinload(model.decision).joinedload(DisciplinaryDecision.organ))


register_page(CasePage(case_type="appeal", segment="appeals",
                       facts_template="staff/facts/appeal.html", context=_appeal_context,
                       prepare_form=_appeal_choices, summary=_appeal_summary,
                       summary_loads=_appeal_loads))


# --- the generic case page: recoveries ------------------------------------------------------


def _recovery_context(case: Recovery, actor: Any) -> dict:
    now = utcnow()
    today = to_local(now).date()
    return {
        "schedule": case.schedule(), "today": today,
        "overdue": case.overdue_instalments(today),
        "statement_countdown": countdown(case.statement_due_at, now),
        "statement_rule": case.pack.rule("officer_statement"),
        "officer_href": url_for("staff.officer_page", officer_id=case.officer_id)
        if actor.role in CASE_ROLES and in_scope(actor, case.officer.organ) else None,
    }


def _recovery_choices(form: Any, case: Recovery) -> None:
    form.fault.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(f.value, f.label) for f in Fault]


def _recovery_summary(case: Recovery) -> str:
    return _("%(badge)s %(name)s · 赔偿 %(paid)s 元 · %(payee)s", badge=case.officer.badge_no,
             name=case.officer.name, paid=format_fen(case.paid_fen), payee=case.payee)


register_page(CasePage(case_type="recovery", segment="recoveries",
                       facts_template="staff/facts/recovery.html", context=_recovery_context,
                       prepare_form=_recovery_choices, summary=_recovery_summary,
                       summary_loads=_officer_loads,
                       new_links=(("staff.new_recovery", _l("追偿立案"),
                                   frozenset({Role.INSPECTOR, Role.LEADER})),)))
