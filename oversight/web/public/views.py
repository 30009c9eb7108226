"""Public pages: file a complaint, get the receipt once, track the case."""

from __future__ import annotations

import secrets
import time

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from oversight.extensions import db
from oversight.models import Complaint, Notice, Organ
from oversight.models.base import utcnow
from oversight.services import attachments, cases, clocks, complaints, notices, registry, workflow
from oversight.services.actors import PublicActor
from oversight.services.errors import (
    AlreadySubmitted,
    IllegalTransition,
    InvalidData,
    NotFound,
    ServiceError,
    StaleCase,
    Throttled,
)
from oversight.services.uow import unit_of_work
from oversight.web.common import apply_errors, category_choices, organ_tree, read_uploads
from oversight.web.forms import ComplaintForm, MaterialForm, RateForm, ReasonForm, TrackForm
from workflows.clocks import LOCAL_TZ

bp = Blueprint("public", __name__)

TRACK_SESSION_SECONDS = 30 * 60


@bp.get("/")
def index():
    return render_template("public/index.html")


def _complaint_form() -> ComplaintForm:
    form = ComplaintForm()
    tree = organ_tree()
    form.organ_id.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(str(o.id), "　" * depth + o.name, render_kw={"data-pack": o.pack.short_name})
        for o, depth in tree]
    form.category_code.choices = [SelectChoice("", _("请选择"))] + category_choices()
    return form


@bp.route("/complaints/new", methods=["GET", "POST"])
def new_complaint():
    form = _complaint_form()
    if request.method == "POST":
        uploads = read_uploads()
        valid = form.validate()
        pack_id, _sep, code = (form.category_code.data or "").partition(":")
        if valid:
            data = complaints.ComplaintInput(
                kind=form.kind.data, organ_id=form.organ_id.data, category_code=code,
                narrative=form.narrative.data, anonymous=form.anonymous.data,
                name=form.name.data or "", phone=form.phone.data or "",
                email=form.email.data or "", officer_badge=form.officer_badge.data or "",
                officer_description=form.officer_description.data or "",
                incident_at=(form.incident_at.data.replace(tzinfo=LOCAL_TZ)
                             if form.incident_at.data else None),
                incident_place=form.incident_place.data or "", files=uploads,
                submission_key=form.submission_key.data or "",
            )
            organ = db.session.get(Organ, form.organ_id.data)
            if organ is not None and organ.pack_id != pack_id:
                apply_errors(form, {"category_code":
                                    _("所选问题类别不适用于该受理机关，请重新选择")})
            elif form.incident_at.data and data.incident_at > utcnow():
                apply_errors(form, {"incident_at": _("发生时间不能晚于现在")})
            else:
                try:
                    with unit_of_work():
                        complaint, code = complaints.submit(data, utcnow())
                    # The code is shown in this response only: it is never put in a
                    # cookie or stored, so the receipt cannot be replayed.
                    return render_template("public/receipt.html", number=complaint.number,
                                           code=code)
                except AlreadySubmitted as exc:
                    return render_template("public/receipt.html", number=exc.number,
                                           code=None)
                except InvalidData as exc:
                    apply_errors(form, exc.errors)
        return render_template("public/complaint_form.html", form=form,
                               upload_hint=str(attachments.ALLOWED_HINT)), 400
    form.submission_key.data = secrets.token_urlsafe(24)
    return render_template("public/complaint_form.html", form=form,
                           upload_hint=str(attachments.ALLOWED_HINT))


@bp.route("/track", methods=["GET", "POST"])
def track():
    form = TrackForm()
    error = None
    if form.validate_on_submit():
        complaint = None
        # The failure counters must be committed even though access is refused, so the
        # refusal is caught inside the unit of work rather than rolling it back.
        with unit_of_work():
            try:
                complaint = cases.public_access(
                    form.number.data, form.code.data, request.remote_addr or "-", utcnow())
            except (NotFound, Throttled) as exc:
                error = exc.message
        if complaint is not None:
            session["track"] = {"type": "complaint", "id": complaint.id, "at": time.time()}
            return redirect(url_for("public.track_case"))
        status = 400
    else:
        status = 400 if request.method == "POST" else 200
    return render_template("public/track.html", form=form, error=error), status


def _tracked() -> tuple[Complaint, PublicActor]:
    info = session.get("track")
    if not info or time.time() - info.get("at", 0) > TRACK_SESSION_SECONDS:
        session.pop("track", None)
        abort(redirect(url_for("public.track")))
    complaint = db.session.get(Complaint, info["id"])
    if complaint is None:
        abort(404)
    return complaint, PublicActor("complaint", complaint.id)


def _render_case(complaint: Complaint, actor: PublicActor, status: int = 200, **forms):
    now = utcnow()
    # The public sees only what would succeed now (a staff page explains refusals instead).
    actions = {t.trigger: t for t in workflow.available_actions(complaint, actor)
               if workflow.refusal_reason(complaint, t.trigger, actor, {}, now) is None}
    return render_template(
        "public/track_case.html", case=complaint, actions=actions,
        timeline=workflow.history(complaint, public_only=True),
        notices=notices.for_case(complaint, public_only=True),
        clocks=clocks.for_case(complaint),
        material_form=forms.get("material_form") or MaterialForm(),
        withdraw_form=forms.get("withdraw_form") or ReasonForm(prefix="withdraw"),
        review_form=forms.get("review_form") or ReasonForm(prefix="review"),
        rate_form=forms.get("rate_form") or RateForm(),
        upload_hint=str(attachments.ALLOWED_HINT),
    ), status


@bp.get("/track/case")
def track_case():
    complaint, actor = _tracked()
    return _render_case(complaint, actor)


@bp.post("/track/case/<trigger>")
def track_action(trigger: str):
    complaint, actor = _tracked()
    forms = {
        "add_material": ("material_form", MaterialForm()),
        "withdraw": ("withdraw_form", ReasonForm(prefix="withdraw")),
        "request_review": ("review_form", ReasonForm(prefix="review")),
        "rate": ("rate_form", RateForm()),
    }
    if trigger not in forms:
        abort(404)
    key, form = forms[trigger]
    if not form.validate():
        return _render_case(complaint, actor, 400, **{key: form})
    data = {k: v for k, v in form.data.items() if k not in ("csrf_token", "files")}
    if trigger == "add_material":
        data["files"] = read_uploads()
    try:
        with unit_of_work():
            workflow.fire(complaint, trigger, actor, data)
    except InvalidData as exc:
        apply_errors(form, exc.errors)
        db.session.refresh(complaint)
        return _render_case(complaint, actor, 400, **{key: form})
    except (IllegalTransition, StaleCase, ServiceError) as exc:
        flash(exc.message, "error")
        return redirect(url_for("public.track_case"))
    label = registry.spec_for(complaint).by_trigger[trigger].label
    flash(_("已提交：%(label)s", label=label), "success")
    return redirect(url_for("public.track_case"))


@bp.get("/track/notices/<number>")
def track_notice(number: str):
    complaint, _actor = _tracked()
    notice = db.session.execute(
        db.select(Notice).where(Notice.number == number, Notice.case_type == "complaint",
                                Notice.case_id == complaint.id, Notice.public.is_(True))
    ).scalar_one_or_none()
    if notice is None:
        abort(404)
    return render_template("notices/show.html", notice=notice, case=complaint, public=True)


@bp.post("/track/end")
def track_end():
    session.pop("track", None)
    return redirect(url_for("public.index"))
