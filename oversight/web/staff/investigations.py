"""Staff pages for investigations (调查) and duty suspensions (暂停履行职责): opening an
investigation, an officer's record, the officer's own page, conflict declarations, and how
both case types show on the generic case page."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from oversight.extensions import db
from oversight.models import (
    Complaint,
    Investigation,
    Officer,
    Organ,
    Suspension,
    User,
)
from oversight.models.base import utcnow
from oversight.services import attachments, discipline, investigations, suspensions
from oversight.services.access import CASE_ROLES, can, in_scope
from oversight.services.errors import InvalidData, ServiceError
from oversight.services.uow import unit_of_work
from oversight.web.common import apply_errors, organ_choices
from oversight.web.staff.cases import CasePage, register_page
from oversight.web.staff.officer_record import officer_record
from oversight.web.staff.paging import link_args, paginate
from oversight.web.staff.views import bp
from workflows.complaint import Finding
from workflows.investigation import EvidenceKind, InvestigationOrigin, InvestigationState
from workflows.roles import Role

# --- forms ---------------------------------------------------------------------------------

_ORIGIN_CHOICES = {
    "complaint": _l("由投诉举报立案"),
    "initiative": _l("本机关主动调查"),
    "assigned": _l("交办下级机关调查"),
}


class OpenInvestigationForm(FlaskForm):
    origin = RadioField(_l("立案方式"), validators=[Optional()])
    complaint_numbers = StringField(_l("投诉编号"), validators=[Optional(), Length(max=400)])
    officer_badge = StringField(_l("被调查辅警编号"), validators=[Optional(), Length(max=20)])
    organ_id = SelectField(_l("承办机关"), coerce=str, validators=[Optional()])
    subject = StringField(_l("调查事项"), validators=[Optional(), Length(max=200)])
    summary = TextAreaField(_l("线索和情况"), validators=[Optional(), Length(max=5000)])
    lead_id = SelectField(_l("主办督察"), coerce=str, validators=[Optional()])
    assistant_ids = SelectMultipleField(_l("协办人员"), coerce=str, validators=[Optional()])


class ConflictForm(FlaskForm):
    officer_badge = StringField(_l("辅警编号"), validators=[Optional(), Length(max=20)])
    complaint_number = StringField(_l("投诉编号"), validators=[Optional(), Length(max=20)])
    reason = TextAreaField(_l("利益冲突的情形"), validators=[Optional(), Length(max=2000)])


def _no_store(body: str, status: int = 200):
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _officer_by_badge(badge: str) -> Officer | None:
    badge = (badge or "").strip().upper()
    if not badge:
        return None
    return db.session.execute(sa.select(Officer).where(Officer.badge_no == badge)).scalar()


def _inspector_choices(users: list[User]) -> list[SelectChoice]:
    return [SelectChoice(str(u.id), _("%(name)s（%(organ)s）", name=u.display_name,
                                      organ=u.organ.name)) for u in users]


def _inspectors_near(actor: Any) -> list[User]:
    """Inspectors who could work on a case anywhere in the actor's scope: those in the
    actor's subtree and those of the organs above it."""
    mine = actor.organ.path
    return list(db.session.execute(
        sa.select(User).join(Organ, User.organ_id == Organ.id)
        .where(User.role == Role.INSPECTOR, User.active.is_(True),
               sa.or_(Organ.path.startswith(mine), sa.literal(mine).startswith(Organ.path)))
        .options(sa.orm.contains_eager(User.organ))  # the choices name each one's organ
        .order_by(Organ.path, User.display_name, User.id)
    ).scalars())


# --- opening an investigation --------------------------------------------------------------


def _origins_for(actor: Any) -> list[str]:
    if actor.role is Role.INSPECTOR:
        return ["complaint", "initiative"]
    if actor.role is Role.LEADER:
        return ["initiative", "assigned"]
    return []


def _open_form(origins: list[str]) -> OpenInvestigationForm:
    form = OpenInvestigationForm()
    form.origin.choices = [SelectChoice(o, _ORIGIN_CHOICES[o]) for o in origins]
    if not form.origin.data:
        form.origin.data = origins[0]
    form.organ_id.choices = organ_choices(current_user.organ.path)
    if not form.organ_id.data:
        form.organ_id.data = str(current_user.organ_id)
    inspectors = _inspectors_near(current_user)
    form.lead_id.choices = [SelectChoice("", _("请选择"))] + _inspector_choices(inspectors)
    form.assistant_ids.choices = _inspector_choices(inspectors)
    if request.method == "GET" and current_user.role is Role.INSPECTOR:
        form.lead_id.data = str(current_user.id)
    if request.method == "GET" and request.args.get("complaint"):
        form.complaint_numbers.data = request.args["complaint"][:400]
    return form


def _complaints_from(text: str) -> tuple[list[Complaint], str | None]:
    # separated by spaces, commas, semicolons or the ideographic comma (、，；)
    numbers = [n.upper() for n in re.split(r"[\s,;\u3001\uff0c\uff1b]+", text or "") if n]
    found = []
    for number in dict.fromkeys(numbers):
        complaint = db.session.execute(
            sa.select(Complaint).where(Complaint.number == number)).scalar_one_or_none()
        if complaint is None or not can(current_user, "view", complaint):
            return [], _("未找到投诉 %(number)s，或不在您的管辖范围内", number=number)
        found.append(complaint)
    return found, None


@bp.route("/investigations/new", methods=["GET", "POST"])
def new_investigation():
    origins = _origins_for(current_user)
    if not origins:
        abort(403)
    form = _open_form(origins)
    if request.method == "POST" and form.validate():
        errors: dict[str, str] = {}
        origin = form.origin.data if form.origin.data in origins else origins[0]
        organ = db.session.get(Organ, int(form.organ_id.data)) \
            if (form.organ_id.data or "").isdigit() else None
        complaints: list[Complaint] = []
        if origin == "complaint":
            complaints, problem = _complaints_from(form.complaint_numbers.data)
            if problem:
                errors["complaint_numbers"] = problem
        officer = _officer_by_badge(form.officer_badge.data)
        if form.officer_badge.data.strip() and officer is None:
            errors["officer_badge"] = _("未找到该辅警编号")
        lead = db.session.get(User, int(form.lead_id.data)) \
            if (form.lead_id.data or "").isdigit() else None
        try:
            if errors:
                raise InvalidData(errors)
            with unit_of_work():
                inv = investigations.open_investigation(
                    current_user, organ=organ, subject=form.subject.data,
                    summary=form.summary.data, officer=officer, complaints=complaints,
                    lead=lead, assistants=form.assistant_ids.data or [],
                    origin=InvestigationOrigin(origin), now=utcnow())
                number, case_id = inv.number, inv.id
                held = suspensions.open_suspension_of(inv.officer_id) \
                    if inv.officer_id and inv.pack.suspension_mandatory else None
                held_number = held.number if held else None
        except InvalidData as exc:
            apply_errors(form, exc.errors)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            flash(_("已立案调查，编号 %(number)s", number=number), "success")
            if held_number:
                flash(_("依照本地规定，调查期间暂停该辅警履行职责（%(number)s）",
                        number=held_number), "success")
            return redirect(url_for("staff.case", segment="investigations", case_id=case_id))
    status = 400 if request.method == "POST" else 200
    return _no_store(render_template("staff/investigation_new.html", form=form), status)


# --- an officer's record -------------------------------------------------------------------


@bp.get("/officers/<int:officer_id>")
def officer_page(officer_id: int):
    officer = db.session.get(Officer, officer_id)
    if getattr(current_user, "role", None) is Role.OFFICER:
        if officer is not None and current_user.officer_id == officer.id:
            return redirect(url_for("staff.me"))
        abort(404)
    if officer is None or current_user.role not in CASE_ROLES \
            or not in_scope(current_user, officer.organ):
        abort(404)
    record = officer_record(officer, current_user)
    return render_template("staff/officer.html", r=record, **record)


# --- conflicts of interest -----------------------------------------------------------------


@bp.route("/conflicts", methods=["GET", "POST"])
def conflicts():
    role = getattr(current_user, "role", None)
    if role not in (Role.INSPECTOR, Role.LEADER):
        abort(403)
    form = ConflictForm()
    status = 200
    if request.method == "POST":
        if role is not Role.INSPECTOR:
            abort(403)
        status = 400
        if form.validate():
            officer = _officer_by_badge(form.officer_badge.data)
            complaint = None
            number = (form.complaint_number.data or "").strip().upper()
            errors = {}
            if form.officer_badge.data.strip() and officer is None:
                errors["officer_badge"] = _("未找到该辅警编号")
            if number:
                complaint = db.session.execute(
                    sa.select(Complaint).where(Complaint.number == number)).scalar()
                if complaint is None:
                    errors["complaint_number"] = _("未找到该投诉编号，或不在您的管辖范围内")
            try:
                if errors:
                    raise InvalidData(errors)
                with unit_of_work():
                    decl = investigations.declare_conflict(
                        current_user, officer=officer, complaint=complaint,
                        reason=form.reason.data, now=utcnow())
                    affected = [i.number for i in investigations.conflicted_teams(decl)]
            except InvalidData as exc:
                apply_errors(form, exc.errors)
            except ServiceError as exc:
                form.form_errors.append(exc.message)
            else:
                flash(_("已登记利益冲突声明"), "success")
                if affected:
                    flash(_("您已在调查 %(numbers)s 的调查组中，请报告领导调整调查组",
                            numbers=_("、").join(affected)), "error")
                return redirect(url_for("staff.conflicts"))
    paging = paginate(investigations.declaration_count(current_user))
    rows = investigations.declarations_for(current_user, limit=paging.size,
                                           offset=paging.offset)
    complaint_numbers = dict(db.session.execute(
        sa.select(Complaint.id, Complaint.number).where(
            Complaint.id.in_([d.complaint_id for d in rows if d.complaint_id]))).all())
    return _no_store(render_template("staff/conflicts.html", form=form, rows=rows,
                                     complaint_numbers=complaint_numbers, paging=paging,
                                     page_args=link_args(),
                                     may_declare=role is Role.INSPECTOR), status)


# --- the generic case page: investigations -------------------------------------------------


def _officer_loads(model: Any) -> tuple:
    return (sa.orm.selectinload(model.officer),)


def _investigation_context(case: Investigation, actor: Any) -> dict:
    entries = investigations.evidence_of(case)
    files = {a.id: a for a in attachments.for_case(case)}
    decisions = discipline.for_investigation(case)
    return {
        "team": investigations.team_of(case),
        "linked_complaints": investigations.linked_complaints(case),
        "evidence": entries,
        "evidence_files": files,
        "replacements": {e.id: e for e in entries},
        "officer_suspensions": ([s for s in suspensions.for_officer(case.officer_id)
                                 if can(actor, "view", s)] if case.officer_id else []),
        "clarification_prompt": investigations.needs_clarification_prompt(case),
        "clarification_rule": case.pack.rule("clarification"),
        "suspension_rule": case.pack.rule("suspension"),
        "recorder_rule_yunnan": case.pack.id == "yunnan-2024",
        "officer_href": url_for("staff.officer_page", officer_id=case.officer_id)
        if case.officer is not None and actor.role in CASE_ROLES
        and in_scope(actor, case.officer.organ) else None,
        "decisions": decisions,
        "may_propose": case.state is InvestigationState.VIOLATION
        and can(actor, "propose_measure", case) and actor.id in case.team_ids
        and not any(d.state in discipline.LIVE_STATES for d in decisions),
    }


def _investigation_choices(form: Any, case: Investigation) -> None:
    team = _inspector_choices(investigations.eligible_inspectors(case.organ))
    form.lead_id.choices = [SelectChoice("", _("请选择"))] + team
    form.assistant_ids.choices = team
    if not form.lead_id.data and case.lead_id:
        form.lead_id.data = str(case.lead_id)
    if not form.assistant_ids.data and case.assistant_ids:
        form.assistant_ids.data = [str(i) for i in case.assistant_ids]
    form.evidence_kind.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(k.value, k.label) for k in EvidenceKind]
    form.evidence_id.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(str(e.id), _("#%(id)s %(title)s（%(state)s）", id=e.id, title=e.title,
                                  state=_("已注明替代") if e.superseded_at else _("有效")))
        for e in investigations.evidence_of(case)]
    form.complaint_finding.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(f.value, f.label) for f in Finding]
    form.category_codes.choices = [SelectChoice(c.code, c.label) for c in case.pack.categories]


def _investigation_summary(case: Investigation) -> str:
    who = _("%(badge)s %(name)s", badge=case.officer.badge_no, name=case.officer.name) \
        if case.officer else _("辅警未确定")
    return _("%(officer)s · %(subject)s", officer=who, subject=case.subject)


register_page(CasePage(case_type="investigation", segment="investigations",
                       facts_template="staff/facts/investigation.html",
                       context=_investigation_context, prepare_form=_investigation_choices,
                       summary=_investigation_summary, summary_loads=_officer_loads,
                       new_links=(("staff.new_investigation", _l("立案调查"),
                                   frozenset({Role.INSPECTOR, Role.LEADER})),
                                  ("staff.conflicts", _l("利益冲突声明"),
                                   frozenset({Role.INSPECTOR, Role.LEADER})))))


# --- the generic case page: suspensions ----------------------------------------------------


def _suspension_context(case: Suspension, actor: Any) -> dict:
    limit = case.pack.limit(suspensions.MAX_KEY)
    return {
        "suspension_rule": case.pack.rule("suspension"),
        "appeal_rule": case.pack.rule("appeal_right"),
        "suspension_limit": limit,
        "limit_by_analogy": limit.citation.national,
        "in_force": case.in_force(utcnow()),
        "investigation_visible": case.investigation is not None
        and can(actor, "view", case.investigation),
    }


def _suspension_summary(case: Suspension) -> str:
    return _("%(badge)s %(name)s · %(reason)s", badge=case.officer.badge_no,
             name=case.officer.name, reason=case.reason[:40])


register_page(CasePage(case_type="suspension", segment="suspensions",
                       facts_template="staff/facts/suspension.html",
                       context=_suspension_context,
                       summary=_suspension_summary, summary_loads=_officer_loads))
