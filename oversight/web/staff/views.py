"""Staff pages: login, the scoped queue, the case page with its actions, downloads."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from wtforms.fields.choices import SelectChoice

from oversight import search, security_log
from oversight.extensions import db
from oversight.models import (
    Attachment,
    CaseClock,
    CaseCount,
    ClockOutcome,
    Complaint,
    Notice,
    Organ,
    User,
)
from oversight.models.base import utcnow
from oversight.services import (
    attachments,
    cases,
    clocks,
    counts,
    notices,
    registry,
    throttle,
    workflow,
)
from oversight.services.access import can, in_scope, scope_filter
from oversight.services.errors import Forbidden, InvalidData, NotFound, ServiceError
from oversight.services.organs import derived, in_subtree
from oversight.services.uow import unit_of_work
from oversight.web import auth
from oversight.web.common import apply_errors, organ_choices, organ_tree, read_uploads
from oversight.web.diagram import state_diagram_svg
from oversight.web.forms import ActionForm, LoginForm
from oversight.web.staff.cases import CasePage, page_for, page_for_segment, register_page
from oversight.web.staff.paging import link_args, paginate
from workflows.complaint import ComplaintState, Finding

bp = Blueprint("staff", __name__)


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//"):
            return target
    return url_for("staff.queue")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm(next=request.args.get("next", ""))
    error = None
    if form.validate_on_submit():
        now = utcnow()
        key = f"login:{form.username.data.strip().lower()}"
        max_fail = current_app.config["LOGIN_MAX_FAILURES"]
        window = current_app.config["TRACK_WINDOW_SECONDS"]
        with unit_of_work():
            user = db.session.execute(
                sa.select(User).where(User.username == form.username.data.strip())
            ).scalar_one_or_none()
            ok = (not throttle.blocked(key, now, max_fail, window)
                  and auth.password_ok(user, form.password.data) and user.active)
            if ok and not user.totp_secret:
                throttle.clear(key)  # with a second factor, only the code's success clears it
            elif not ok:
                throttle.record_failure(key, now, window)
        if ok and user.totp_secret:
            auth.begin_second_step(user, _safe_next(form.next.data))
            return redirect(url_for("staff.login_factor"))
        if ok:
            auth.start_session(user)
            return redirect(_safe_next(form.next.data))
        error = _("用户名或密码错误，或账号已被锁定，请稍后再试")
    status = 400 if request.method == "POST" else 200
    return render_template("staff/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    with unit_of_work():
        db.session.get(User, current_user.id).rotate_sessions()
    logout_user()
    flash(_("已退出登录"), "success")
    return redirect(url_for("staff.login"))


@bp.before_request
def _require_login():
    if request.endpoint in ("staff.login", "staff.login_factor"):
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
    return None


@bp.get("/")
def queue():
    if not can(current_user, "queue"):
        if can(current_user, "admin"):
            return redirect(url_for("admin.index"))
        if can(current_user, "own_record"):
            return redirect(url_for("staff.me"))
        abort(403)
    kind = request.args.get("type", "complaint")
    if kind not in registry.case_types():
        kind = "complaint"
    binding = registry.binding_for(kind)
    model, spec = binding.model, binding.spec
    state = request.args.get("state", "")
    organ = request.args.get("organ", "")
    states = None  # every state
    oldest_first = False
    if state in {s.value for s in spec.states}:
        states = [spec.states(state)]
    elif state == "open":
        # IN the open states, not NOT IN the closed ones: the index then seeks each
        # (organ, state) range instead of reading every entry of the scope
        states = [s for s in spec.states if s not in spec.terminal]
    elif state == "todo":
        states = sorted(spec.states_awaiting(current_user.role), key=lambda s: s.value)
        oldest_first = True  # first come, first served
    chosen = None  # the organ the list is narrowed to, within the user's scope
    if organ.isdigit() and len(organ) < 19:  # larger than any id (and than SQLite's integers)
        found = db.session.get(Organ, int(organ))
        if found is not None and in_scope(current_user, found):
            chosen = found

    def at_organs(column) -> list:
        """The listed organs, as conditions on ``column``: the user's scope, narrowed to
        the chosen organ's subtree. The same for the cases and for their counts."""
        return [scope_filter(current_user, column),
                *([in_subtree(column, chosen.path)] if chosen is not None else [])]

    ids = sa.select(model.id).where(*at_organs(model.organ_id))
    if states is not None:
        ids = ids.where(model.state.in_(states))
    # The listed cases' count and 待我处理 per case type, in one statement, from the kept
    # counts (services.counts): a few rows per organ of the scope, whatever the cases.
    awaiting = {name: count for name in registry.case_types()
                if (count := _awaiting_count(name)) is not None}
    row = db.session.execute(sa.select(
        counts.total(kind, states, *at_organs(CaseCount.organ_id)), *awaiting.values())).one()
    total = row[0]
    todo = dict.fromkeys(registry.case_types(), 0) | dict(
        zip(awaiting, row[1:], strict=True))
    paging = paginate(total)
    # The page's ids first, then its rows: the ids and dates come from the case table's
    # indexes alone, so sorting thousands of a scope's cases never reads their rows
    # (models.base.case_table_indexes).
    order = ((model.created_at, model.id) if oldest_first
             else (model.created_at.desc(), model.id.desc()))
    page_ids = list(db.session.execute(paging.apply(ids.order_by(*order))).scalars())
    rows = list(db.session.execute(
        sa.select(model).where(model.id.in_(page_ids))
        .options(sa.orm.joinedload(model.organ), *page_for(kind).summary_loads(model))
        .order_by(*order)).scalars())
    organs = organ_tree(within=current_user.organ.path)
    # The nearest running statutory deadline of each listed case, in one query.
    due = dict(db.session.execute(
        sa.select(CaseClock.case_id, sa.func.min(CaseClock.due_at))
        .where(CaseClock.case_type == kind, CaseClock.outcome == ClockOutcome.RUNNING,
               CaseClock.case_id.in_([c.id for c in rows]))
        .group_by(CaseClock.case_id)
    ).all()) if rows else {}
    from oversight.services import supervision

    return render_template("staff/queue.html", rows=rows, total=total, paging=paging,
                           supervisions=supervision.open_for(current_user),
                           page_args=link_args(type=kind, state=state, organ=organ),
                           state=state, organ=organ,
                           kind=kind, spec=spec, case_page=page_for(kind),
                           types=[registry.spec_for(n) for n in registry.case_types()],
                           states=list(spec.states), organs=organs, due=due, todo=todo,
                           now=utcnow())


def _awaiting_count(case_type: str):
    """The count of the user's cases of this type awaiting their role, as a scalar
    subquery; None when no state awaits the role. Built once per case type, role and
    organ and kept with the organ tree: the statement depends on nothing else (the scope
    on the role and the organ's subtree)."""
    role, path = current_user.role, current_user.organ.path

    def build(_nodes):
        awaiting = registry.spec_for(case_type).states_awaiting(role)
        if not awaiting:
            return None
        return counts.total(case_type, awaiting, scope_filter(current_user, CaseCount.organ_id))

    return derived(("awaiting_count", case_type, role, path), build)


@bp.get("/me")
def me():
    """The officer's own record: duty status, their suspensions (where they may file a
    申诉) and recusals granted. Complaints about them are not shown here: an officer
    learns of a matter when the disciplinary procedure notifies them."""
    if not can(current_user, "own_record"):
        abort(403)
    from oversight.web.staff.officer_record import me_page

    return me_page()


def _page(segment: str) -> CasePage:
    page = page_for_segment(segment)
    if page is None:
        abort(404)
    return page


def _load(segment: str, case_id: int):
    """The case behind a staff URL, or 404 when it does not exist for this user."""
    try:
        return cases.get_for(current_user, _page(segment).case_type, case_id)
    except NotFound:
        abort(404)


def case_url(case, **values) -> str:
    return url_for("staff.case", segment=page_for(case.case_type).segment, case_id=case.id,
                   **values)


def _action_form(case) -> ActionForm:
    form = ActionForm(version=str(case.version))
    page_for(case.case_type).prepare_form(form, case)
    return form


def _render_case(case, form: ActionForm | None = None, open_action: str = "",
                 status: int = 200, **extra):
    """The generic case page. ``extra`` carries a rejected 督办 or answer form (with its
    errors and the typing) back to the page."""
    from oversight.services import supervision
    from oversight.web.staff.supervision import AnswerForm, SuperviseForm

    page = page_for(case.case_type)
    actions = workflow.available_actions(case, current_user)
    now = utcnow()
    timeline = workflow.history(case)
    blocked = workflow.refusal_reasons(case, actions, current_user, now, timeline)
    blank = _action_form(case)
    return render_template(
        "staff/case.html", case=case, spec=registry.spec_for(case), page=page,
        actions=actions, blocked=blocked, form=form or blank, blank_form=blank,
        open_action=open_action, identity=cases.identity_for(current_user, case),
        timeline=timeline, clocks=clocks.for_case(case),
        notices=notices.for_case(case), files=attachments.for_case(case),
        users=_actors(timeline), now=now, supervisions=supervision.for_case(case),
        may_supervise=can(current_user, "supervise", case),
        may_answer=can(current_user, "answer_supervision", case),
        supervise_form=extra.get("supervise_form") or SuperviseForm(),
        answer_form=extra.get("answer_form") or AnswerForm(),
        answer_for=extra.get("answer_for"), **page.context(case, current_user),
    ), status


def _actors(timeline) -> dict[int, User]:
    ids = {ev.actor_id for ev in timeline if ev.actor_id}
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(ids))).scalars()}


#: Form fields that are not transition data.
_NOT_DATA = frozenset({"csrf_token", "version", "files"})


@bp.get("/complaints/<int:case_id>", defaults={"segment": "complaints"})
@bp.get("/<segment>/<int:case_id>")
def case(segment: str, case_id: int):
    # ?merge=<number> (from the similar-cases panel) opens the merge action, prefilled.
    return _render_case(_load(segment, case_id),
                        open_action="merge" if request.args.get("merge") else "")


@bp.post("/complaints/<int:case_id>/<trigger>", defaults={"segment": "complaints"})
@bp.post("/<segment>/<int:case_id>/<trigger>")
def act(segment: str, case_id: int, trigger: str):
    case = _load(segment, case_id)
    spec = registry.spec_for(case)
    if spec.transition(trigger) is None:
        abort(404)
    form = _action_form(case)
    if not form.validate():
        return _render_case(case, form, trigger, 400)
    data = {k: v for k, v in form.data.items() if k not in _NOT_DATA}
    data["files"] = read_uploads()
    try:
        with unit_of_work():
            workflow.fire(case, trigger, current_user, data,
                          # a post without a version is as stale as a wrong one
                          expected_version=form.version.data or "missing")
    except InvalidData as exc:
        apply_errors(form, exc.errors)
        return _render_case(_load(segment, case_id), form, trigger, 400)
    except ServiceError as exc:
        # Refused: nothing changed. Say why on the case page, with 409 for a step that is
        # illegal, late, repeated or stale now (403 for one this role may never take).
        security_log.log("refused_transition", case=f"{case.case_type}:{case.id}",
                         trigger=trigger, user=current_user.id,
                         reason=type(exc).__name__)
        flash(exc.message, "error")
        return _render_case(_load(segment, case_id),
                            status=403 if isinstance(exc, Forbidden) else 409)
    flash(_("已完成：%(label)s", label=spec.by_trigger[trigger].label), "success")
    return redirect(case_url(case))


@bp.get("/complaints/<int:case_id>/files/<int:file_id>", defaults={"segment": "complaints"})
@bp.get("/<segment>/<int:case_id>/files/<int:file_id>")
def download(segment: str, case_id: int, file_id: int):
    case = _load(segment, case_id)
    att = db.session.get(Attachment, file_id)
    if att is None or (att.case_type, att.case_id) != (case.case_type, case.id) \
            or not can(current_user, "download", case):
        abort(404)
    response = send_file(attachments.storage_path(att.sha256), mimetype=att.mime,
                         as_attachment=True,
                         download_name=attachments.clean_name(att.original_name))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = ("sandbox; default-src 'none'; "
                                                   "frame-ancestors 'none'")
    return response


@bp.get("/notices/<number>")
def notice(number: str):
    n = db.session.execute(sa.select(Notice).where(Notice.number == number)).scalar_one_or_none()
    if n is None or n.case_type not in registry.case_types():
        abort(404)
    case = db.session.get(registry.binding_for(n.case_type).model, n.case_id)
    if case is None or not can(current_user, "view_notices", case):
        security_log.log("denied_notice", notice=number, case=f"{n.case_type}:{n.case_id}",
                         user=current_user.id)
        abort(404)
    return render_template("notices/show.html", notice=n, case=case, public=False,
                           back_url=case_url(case))


@bp.get("/packs/<pack_id>")
def pack(pack_id: str):
    """Every rule, category, measure and time limit of a policy pack, with the words it
    rests on: what staff cite, and what an auditor checks them against."""
    from workflows.policy import get_packs

    found = get_packs().get(pack_id)
    if found is None:
        abort(404)
    return render_template("staff/pack.html", pack=found, packs=get_packs())


@bp.get("/workflow/<case_type>")
def workflow_page(case_type: str):
    if case_type not in registry.case_types():
        abort(404)
    return render_template("staff/workflow.html", spec=registry.spec_for(case_type))


@bp.get("/workflow/<case_type>.svg")
def workflow_svg(case_type: str):
    if case_type not in registry.case_types():
        abort(404)
    svg = state_diagram_svg(registry.spec_for(case_type))
    response = current_app.response_class(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = ("default-src 'none'; "
                                                   "style-src 'unsafe-inline'; "
                                                   "frame-ancestors 'none'")
    return response


# --- the complaint's page -----------------------------------------------------------------


def _complaint_form_choices(form: ActionForm, case: Complaint) -> None:
    # ?merge=<number>: the similar-complaints panel's link prefills the merge action.
    merge_into = request.args.get("merge", "").strip()[:20]
    if merge_into and not form.target_number.data:
        form.target_number.data = merge_into
    form.target_organ_id.choices = [SelectChoice("", _("请选择"))] + [
        c for c in organ_choices() if c.value != str(case.organ_id)]
    if not form.target_organ_id.data and case.officer and case.officer.organ_id != case.organ_id:
        form.target_organ_id.data = str(case.officer.organ_id)
    form.finding.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(f.value, f.label) for f in Finding]


#: While a complaint may still be merged into another, its page lists possible duplicates.
_MERGEABLE = frozenset({ComplaintState.SUBMITTED, ComplaintState.ACCEPTED})


def _complaint_context(case: Complaint, actor) -> dict:
    """Possible duplicates (same organ, near in time, similar text), only while the
    complaint can still be merged: that is what the list is for, and it spares every
    later view of the case a more-like-this query."""
    if case.state not in _MERGEABLE:
        return {}
    return {"similar": [(hit, url_for("staff.case", segment=page_for(hit.case_type).segment,
                                      case_id=hit.case_id))
                        for hit in search.similar(actor, case)],
            "can_merge": can(actor, "fire:merge", case)}


register_page(CasePage(case_type="complaint", segment="complaints",
                       facts_template="staff/facts/complaint.html",
                       context=_complaint_context,
                       prepare_form=_complaint_form_choices,
                       summary=lambda c: f"{c.kind.label} · {c.category.label}"))
