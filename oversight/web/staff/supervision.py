"""The due-soon / overdue list of an organ's subtree, issuing a 督办 on a case and the
handling organ's answer. The case page shows a case's 督办 (templates/staff/_supervision.html)
and the queue shows the 督办 waiting for the user's organ."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from oversight.extensions import db
from oversight.models import Organ, Supervision
from oversight.models.base import utcnow
from oversight.services import supervision
from oversight.services.access import CASE_ROLES, can, in_scope
from oversight.services.errors import InvalidData, ServiceError
from oversight.services.uow import unit_of_work
from oversight.web.common import apply_errors, organ_tree
from oversight.web.staff.paging import link_args, paginate
from oversight.web.staff.views import _load, _render_case, bp, case_url


class SuperviseForm(FlaskForm):
    deadline = StringField(_l("要求办结的期限"), render_kw={"type": "date"},
                           validators=[Optional(), Length(max=10)])
    text = TextAreaField(_l("督办要求"), validators=[Optional(), Length(max=2000)])


class AnswerForm(FlaskForm):
    response = TextAreaField(_l("办理情况"), validators=[Optional(), Length(max=2000)])


@bp.get("/deadlines")
def deadlines():
    """Running clocks of the subtree due within days or past due, soonest (most overdue)
    first, a page at a time."""
    if getattr(current_user, "role", None) not in CASE_ROLES:
        abort(403)
    now = utcnow()
    chosen = request.args.get("organ", "")
    # (an id too long for the column is no organ, not an error of the database)
    organ = db.session.get(Organ, int(chosen)) \
        if chosen.isdigit() and len(chosen) < 10 else None
    if organ is not None and not in_scope(current_user, organ):
        organ = None
    overdue_only = request.args.get("show") == "overdue"
    paging = paginate(supervision.due_count(current_user, now, organ=organ,
                                            overdue_only=overdue_only))
    rows = supervision.due_rows(current_user, now, organ=organ, overdue_only=overdue_only,
                                limit=paging.size, offset=paging.offset)
    organs = organ_tree(within=current_user.organ.path)
    return render_template("staff/deadlines.html", rows=rows, now=now, organs=organs,
                           organ=chosen, overdue_only=overdue_only, paging=paging,
                           page_args=link_args(show="overdue" if overdue_only else "",
                                               organ=str(organ.id) if organ else ""),
                           soon_days=supervision.SOON_DAYS,
                           may_supervise={f"{r.case.case_type}:{r.case.id}":
                                          can(current_user, "supervise", r.case)
                                          for r in rows})


@bp.get("/supervisions/<int:supervision_id>")
def supervision_case(supervision_id: int):
    """From the queue's list of 督办 to the case it is about."""
    item = db.session.get(Supervision, supervision_id)
    case = supervision.case_of(item) if item is not None else None
    if case is None or not can(current_user, "view", case):
        abort(404)
    return redirect(f"{case_url(case)}#supervision-{item.id}")


@bp.post("/supervise/<segment>/<int:case_id>")
def supervise(segment: str, case_id: int):
    case = _load(segment, case_id)
    if not can(current_user, "supervise", case):
        abort(403)
    form = SuperviseForm()
    if form.validate():
        try:
            with unit_of_work():
                supervision.issue(current_user, case, deadline=form.deadline.data,
                                  text=form.text.data, now=utcnow())
        except InvalidData as exc:
            apply_errors(form, exc.errors)
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(case_url(case))
        else:
            flash(_("已督办 %(number)s", number=case.number), "success")
            return redirect(case_url(case) + "#supervision")
    return _render_case(_load(segment, case_id), status=400, supervise_form=form)


@bp.post("/supervisions/<int:supervision_id>/answer")
def answer_supervision(supervision_id: int):
    item = db.session.get(Supervision, supervision_id)
    if item is None:
        abort(404)
    case = supervision.case_of(item)
    if case is None or not can(current_user, "view", case):
        abort(404)
    form = AnswerForm()
    if form.validate():
        try:
            with unit_of_work():
                supervision.acknowledge(current_user, item, form.response.data, utcnow())
        except InvalidData as exc:
            apply_errors(form, exc.errors)
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(case_url(case))
        else:
            flash(_("已回复督办"), "success")
            return redirect(case_url(case) + "#supervision")
    return _render_case(supervision.case_of(item), status=400, answer_form=form,
                        answer_for=supervision_id)
