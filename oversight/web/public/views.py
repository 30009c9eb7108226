"""Public pages: file a complaint, get the receipt once, track the case."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from oversight import security_log
from oversight.extensions import db
from oversight.models import Notice
from oversight.models.base import utcnow
from oversight.services import (
    attachments,
    cases,
    clocks,
    complaints,
    notices,
    organs,
    registry,
    throttle,
    workflow,
)
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
from oversight.services.organs import OrganNode
from oversight.services.uow import unit_of_work
from oversight.web.common import apply_errors, category_choices, organ_choices, read_uploads
from oversight.web.forms import ComplaintForm, MaterialForm, RateForm, ReasonForm, TrackForm
from workflows.clocks import LOCAL_TZ

bp = Blueprint("public", __name__)

TRACK_SESSION_SECONDS = 30 * 60


@bp.get("/")
def index():
    return render_template("public/index.html")


def _complaint_form() -> ComplaintForm:
    form = ComplaintForm()
    form.organ_id.choices = [SelectChoice("", _("请选择"))] + organ_choices(attrs=pack_attrs)
    form.category_code.choices = [SelectChoice("", _("请选择"))] + category_choices()
    return form


def pack_attrs(organ: OrganNode) -> dict[str, str]:
    """An organ option's pack (complaint-form.js shows that pack's categories)."""
    return {"data-pack": organ.pack.short_name}


def count_submission() -> None:
    """Count this public submission (a complaint or a recusal application) against the
    client's flood limit inside the caller's unit of work, the one that files it: one
    write transaction per filed case. Answer 429 once the window's limit is reached (the
    unit of work rolls back: nothing is filed). The counts are in the database, across
    workers."""
    if not throttle.submission_allowed(request.remote_addr or "-", utcnow()):
        security_log.log("submission_flood", endpoint=request.endpoint)
        abort(429)


def limit_submissions() -> None:
    """Count a submission that files nothing (refused by the form or the service, or a
    form sent again) in a unit of work of its own, so a flood of failing submissions
    counts too."""
    with unit_of_work():
        count_submission()


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
            organ = organs.node(form.organ_id.data)
            if organ is not None and organ.pack_id != pack_id:
                apply_errors(form, {"category_code":
                                    _("所选问题类别不适用于该受理机关，请重新选择")})
            elif form.incident_at.data and data.incident_at > utcnow():
                apply_errors(form, {"incident_at": _("发生时间不能晚于现在")})
            else:
                try:
                    with unit_of_work():
                        count_submission()
                        complaint, code = complaints.submit(data, utcnow())
                        # read before the commit expires it: no query (and, on SQLite,
                        # no write lock) while the receipt renders
                        number = complaint.number
                    # The code is shown in this response only: it is never put in a
                    # cookie or stored, so the receipt cannot be replayed.
                    return render_template("public/receipt.html", number=number, code=code)
                except AlreadySubmitted as exc:
                    limit_submissions()
                    return render_template("public/receipt.html", number=exc.number,
                                           code=None)
                except InvalidData as exc:
                    apply_errors(form, exc.errors)
        limit_submissions()
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
        case = None
        # The failure counters must be committed even though access is refused, so the
        # refusal is caught inside the unit of work rather than rolling it back.
        throttled = False
        with unit_of_work():
            try:
                case = cases.public_access(
                    form.number.data, form.code.data, request.remote_addr or "-", utcnow())
            except (NotFound, Throttled) as exc:
                error, throttled = exc.message, isinstance(exc, Throttled)
        if throttled:
            # Locked out: too many wrong codes for this number or from this client.
            response = make_response(render_template("public/track.html", form=form,
                                                     error=error), 429)
            response.headers["Retry-After"] = str(current_app.config["TRACK_WINDOW_SECONDS"])
            return response
        if case is not None:
            session["track"] = {"type": case.case_type, "id": case.id, "at": time.time()}
            return redirect(url_for("public.track_case"))
        status = 400
    else:
        status = 400 if request.method == "POST" else 200
    return render_template("public/track.html", form=form, error=error), status


#: The forms of the actions the public party may take from the tracking page, per case
#: type: trigger -> (template variable, form factory).
TRACK_FORMS: dict[str, dict[str, tuple[str, Callable[[], Any]]]] = {
    "complaint": {
        "add_material": ("material_form", MaterialForm),
        "withdraw": ("withdraw_form", lambda: ReasonForm(prefix="withdraw")),
        "request_review": ("review_form", lambda: ReasonForm(prefix="review")),
        "request_recheck": ("recheck_form", lambda: ReasonForm(prefix="recheck")),
        "rate": ("rate_form", RateForm),
    },
    "recusal": {
        "request_reconsideration": ("reconsider_form", lambda: ReasonForm(prefix="reconsider")),
        "withdraw": ("withdraw_form", lambda: ReasonForm(prefix="withdraw")),
    },
}


def _tracked() -> tuple[Any, PublicActor]:
    info = session.get("track")
    if not info or time.time() - info.get("at", 0) > TRACK_SESSION_SECONDS \
            or info.get("type") not in TRACK_FORMS:
        session.pop("track", None)
        abort(redirect(url_for("public.track")))
    case = db.session.get(registry.binding_for(info["type"]).model, info["id"])
    if case is None:
        abort(404)
    return case, PublicActor(case.case_type, case.id)


def _render_case(case: Any, actor: PublicActor, status: int = 200, **forms):
    now = utcnow()
    # The public sees only what would succeed now (a staff page explains refusals instead);
    # ``blocked`` lets a page say why an expected step is closed (a late 复议).
    possible = workflow.available_actions(case, actor)
    blocked = {t.trigger: workflow.refusal_reason(case, t.trigger, actor, {}, now)
               for t in possible}
    actions = {t.trigger: t for t in possible if blocked[t.trigger] is None}
    context = {key: forms.get(key) or factory()
               for key, factory in TRACK_FORMS[case.case_type].values()}
    return render_template(
        f"public/track_{case.case_type}.html", case=case, actions=actions, blocked=blocked,
        timeline=workflow.history(case, public_only=True),
        notices=notices.for_case(case, public_only=True),
        clocks=clocks.for_case(case),
        upload_hint=str(attachments.ALLOWED_HINT), **context,
    ), status


@bp.get("/track/case")
def track_case():
    case, actor = _tracked()
    return _render_case(case, actor)


@bp.post("/track/case/<trigger>")
def track_action(trigger: str):
    case, actor = _tracked()
    forms = TRACK_FORMS[case.case_type]
    if trigger not in forms:
        abort(404)
    key, factory = forms[trigger]
    form = factory()
    if not form.validate():
        return _render_case(case, actor, 400, **{key: form})
    data = {k: v for k, v in form.data.items() if k not in ("csrf_token", "files")}
    if "files" in form:
        data["files"] = read_uploads()
    try:
        with unit_of_work():
            workflow.fire(case, trigger, actor, data)
    except InvalidData as exc:
        apply_errors(form, exc.errors)
        db.session.refresh(case)
        return _render_case(case, actor, 400, **{key: form})
    except (IllegalTransition, StaleCase, ServiceError) as exc:
        # Refused (late, repeated, or no longer possible): nothing changed; say why, 409.
        security_log.log("refused_transition", case=f"{case.case_type}:{case.id}",
                         trigger=trigger, user="public", reason=type(exc).__name__)
        flash(exc.message, "error")
        db.session.rollback()
        return _render_case(db.session.get(type(case), case.id), actor, 409)
    label = registry.spec_for(case).by_trigger[trigger].label
    flash(_("已提交：%(label)s", label=label), "success")
    return redirect(url_for("public.track_case"))


@bp.get("/track/notices/<number>")
def track_notice(number: str):
    case, _actor = _tracked()
    notice = db.session.execute(
        db.select(Notice).where(Notice.number == number, Notice.case_type == case.case_type,
                                Notice.case_id == case.id, Notice.public.is_(True))
    ).scalar_one_or_none()
    if notice is None:
        abort(404)
    return render_template("notices/show.html", notice=notice, case=case, public=True)


@bp.post("/track/end")
def track_end():
    session.pop("track", None)
    return redirect(url_for("public.index"))
