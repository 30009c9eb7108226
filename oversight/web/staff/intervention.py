"""Early intervention (预警) pages: the leaders' list of flagged officers with the
complaints behind each flag, clearing a flag with a note, and an organ's thresholds.

The flags are raised by ``oversight.services.intervention`` when a complaint is accepted.
They are for leaders only and never reach the officer's own page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from oversight.extensions import db
from oversight.models import Officer, OfficerFlag, Organ
from oversight.models.base import utcnow
from oversight.services import intervention
from oversight.services.access import can
from oversight.services.errors import InvalidData, ServiceError
from oversight.services.uow import unit_of_work
from oversight.web.common import apply_errors, organ_tree
from oversight.web.staff.paging import link_args, paginate, requested_page
from oversight.web.staff.views import bp, case_url


class ClearFlagForm(FlaskForm):
    note = TextAreaField(_l("解除说明"), validators=[Optional(), Length(max=2000)])


class InterventionForm(FlaskForm):
    threshold = StringField(_l("预警线（件）"), validators=[Optional(), Length(max=5)],
                            render_kw={"inputmode": "numeric"})
    months = StringField(_l("统计期间（月）"), validators=[Optional(), Length(max=5)],
                         render_kw={"inputmode": "numeric"})
    # The service checks the codes against the organ's pack, with a message in Chinese.
    repeat_categories = SelectMultipleField(
        _l("同类重复投诉的类别"), coerce=str, validate_choice=False,
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


# --- how a flag is shown -------------------------------------------------------------------


@dataclass(frozen=True)
class ListedComplaint:
    number: str
    category: str
    accepted_at: dt.datetime | None
    url: str | None  # only where this user may open the complaint


@dataclass(frozen=True)
class FlagRow:
    flag: OfficerFlag
    officer: Officer
    reason: str
    complaints: list[ListedComplaint]


def flag_rows(flags: list[OfficerFlag]) -> list[FlagRow]:
    """The flags as the lists show them, in a fixed number of queries however many."""
    complaints = intervention.complaints_of(flags)
    accepted = intervention.accepted_dates(list(complaints))
    rules = intervention.thresholds_of(list(intervention.flag_organs(flags).values()))
    rows = []
    for flag in flags:
        listed = []
        for cid in flag.complaint_ids or []:
            c = complaints.get(cid)
            if c is None:
                continue
            listed.append(ListedComplaint(
                number=c.number, category=intervention.category_label(c.pack, c.category_code),
                accepted_at=accepted.get(cid),
                url=case_url(c) if can(current_user, "view", c) else None))
        rows.append(FlagRow(flag, flag.officer,
                            intervention.describe(flag, rules[flag.organ_id]), listed))
    return rows


@bp.app_template_global("officer_flags")
def officer_flags(officer: Officer) -> list[FlagRow]:
    """The flags on an officer's record, for a leader in scope; nothing for anyone else
    (the officer above all: complaints about them are not theirs to see)."""
    if officer is None or not getattr(current_user, "is_authenticated", False):
        return []
    return flag_rows(intervention.flags_on_record(current_user, officer))


@bp.app_template_global("open_flag_count")
def open_flag_count() -> int:
    if not getattr(current_user, "is_authenticated", False):
        return 0
    return intervention.open_count(current_user)


# --- the leaders' list and clearing ------------------------------------------------------------


def _render_flags(failed: int | None = None, form: ClearFlagForm | None = None,
                  status: int = 200):
    """A page of the list: open flags first (all of them counted in the heading), then
    the recently cleared ones."""
    if not can(current_user, "manage_flags", current_user.organ):
        abort(403)
    now = utcnow()
    total, open_total = intervention.flag_counts(current_user, now)
    # ``?flag=<id>`` (the officer's record links to a flag so) opens the page holding it.
    wanted = request.args.get("flag", "")
    position = intervention.flag_position(current_user, now, int(wanted)) \
        if wanted.isdigit() and len(wanted) < 10 and "page" not in request.args else None
    paging = paginate(total, position=position)
    rows = flag_rows(intervention.flags_for(current_user, now, limit=paging.size,
                                            offset=paging.offset))
    return render_template(
        "staff/flags.html", open_rows=[r for r in rows if r.flag.cleared_at is None],
        cleared_rows=[r for r in rows if r.flag.cleared_at is not None],
        open_total=open_total, paging=paging,
        page_args=link_args(), here=_page_arg(paging.number),
        blank_form=ClearFlagForm(formdata=None), failed=failed, failed_form=form,
        recent_days=intervention.RECENTLY_CLEARED_DAYS,
        may_configure=can(current_user, "configure_intervention", current_user.organ),
    ), status


def _page_arg(number: int) -> dict[str, int]:
    """The page of the list a clearing form is on, so that the answer returns to it."""
    return {"page": number} if number > 1 else {}


@bp.get("/flags")
def flags():
    return _render_flags()


@bp.post("/flags/<int:flag_id>/clear")
def clear_flag(flag_id: int):
    flag = db.session.get(OfficerFlag, flag_id)
    if flag is None or not can(current_user, "manage_flags",
                               db.session.get(Organ, flag.organ_id)):
        abort(404)
    back = url_for("staff.flags", **_page_arg(requested_page()))
    form = ClearFlagForm()
    if not form.validate():
        return _render_flags(flag_id, form, 400)
    try:
        with unit_of_work():
            intervention.clear(flag, current_user, form.note.data, utcnow())
    except InvalidData as exc:
        apply_errors(form, exc.errors)
        return _render_flags(flag_id, form, 400)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(_("已解除预警"), "success")
    return redirect(back)


# --- an organ's thresholds ---------------------------------------------------------------------


def _organ_to_configure() -> Organ:
    """The user's own organ; an admin may pick any (``?organ=<id>``)."""
    chosen = request.args.get("organ", "")
    organ = current_user.organ
    if chosen.isdigit() and int(chosen) != organ.id:
        organ = db.session.get(Organ, int(chosen))
    if organ is None or not can(current_user, "configure_intervention", organ):
        abort(403 if organ is not None else 404)
    return organ


@bp.route("/intervention", methods=["GET", "POST"])
def intervention_settings():
    organ = _organ_to_configure()
    form = InterventionForm()
    form.repeat_categories.choices = [(c.code, c.label) for c in organ.pack.categories]
    rule = intervention.thresholds_for(organ)
    status = 200
    if request.method == "GET":
        form.threshold.data = str(rule.threshold)
        form.months.data = str(rule.months)
        form.repeat_categories.data = list(rule.repeat_categories)
    else:
        status = 400
        if form.validate():
            try:
                with unit_of_work():
                    intervention.configure(organ, current_user, form.threshold.data,
                                           form.months.data, form.repeat_categories.data or [],
                                           utcnow())
            except InvalidData as exc:
                apply_errors(form, exc.errors)
            except ServiceError as exc:
                form.form_errors.append(exc.message)
            else:
                flash(_("已保存%(organ)s的预警设置", organ=organ.name), "success")
                return redirect(url_for("staff.intervention_settings", organ=organ.id))
    organs = organ_tree() if can(current_user, "admin") else []
    return render_template("staff/intervention_settings.html", form=form, organ=organ,
                           rule=rule, organs=organs,
                           defaults=(intervention.DEFAULT_THRESHOLD,
                                     intervention.DEFAULT_MONTHS)), status
