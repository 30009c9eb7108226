"""Staff pages for recusal applications (回避申请): intake records an oral application, a
leader orders a recusal, an officer asks to step aside; and how a recusal shows on the
generic case page."""

from __future__ import annotations

import secrets
from typing import Any

from flask import abort, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from oversight.extensions import db
from oversight.models import Organ
from oversight.models.base import utcnow
from oversight.services import attachments, recusals
from oversight.services.access import in_scope
from oversight.services.errors import AlreadySubmitted, Forbidden, InvalidData
from oversight.services.uow import unit_of_work
from oversight.web.common import apply_errors, organ_tree
from oversight.web.public.recusals import (
    application_input,
    fill_applicant_choices,
    fill_matter_choices,
    organ_choices,
    pack_mismatch,
    packs_of,
    split_choice,
)
from oversight.web.recusal_forms import MatterForm, OrderRecusalForm, RecusalForm, SelfRecusalForm
from oversight.web.staff.cases import CasePage, register_page
from oversight.web.staff.views import bp
from workflows.policy import Pack
from workflows.recusal import TRACKED_ORIGINS
from workflows.roles import Role


def _require(role: Role) -> None:
    if getattr(current_user, "role", None) is not role:
        abort(403)


def _subtree() -> list[tuple[Organ, int]]:
    return [(o, d) for o, d in organ_tree() if in_scope(current_user, o)]


def _page(template_args: dict, status: int = 200):
    response = make_response(render_template("staff/recusal_form.html", **template_args),
                             status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _fixed_pack(packs: list[Pack]) -> Pack | None:
    """The one pack a page's options follow when its organ is fixed (else the script has
    nothing to filter and the service checks the choice against the officer's pack)."""
    return packs[0] if len(packs) == 1 else None


def _matter_input(form: MatterForm) -> recusals.MatterInput:
    return recusals.MatterInput(
        matter_ref=form.matter_ref.data or "", matter_summary=form.matter_summary.data or "",
        ground_code=split_choice(form.ground_code.data)[1],
        ground_text=form.ground_text.data or "", facts=form.facts.data or "")


def _filed(case, code: str | None, title: str):
    response = make_response(render_template("staff/recusal_filed.html", case=case, code=code,
                                             title=title))
    response.headers["Cache-Control"] = "no-store"
    return response


# --- intake: an application made in person --------------------------------------------


@bp.route("/recusals/new", methods=["GET", "POST"])
def new_oral_recusal():
    _require(Role.INTAKE)
    form = RecusalForm()
    tree = _subtree()
    packs = packs_of(o for o, _depth in tree)
    form.organ_id.choices = organ_choices(current_user.organ.path)
    fill_applicant_choices(form, packs)
    fill_matter_choices(form, packs)
    args = {"form": form, "mode": "oral", "packs": packs, "fixed_pack": None,
            "upload_hint": str(attachments.ALLOWED_HINT),
            "title": _("记录口头回避申请")}
    if request.method == "GET":
        form.submission_key.data = secrets.token_urlsafe(24)
        return _page(args)
    if form.validate():
        organ = db.session.get(Organ, form.organ_id.data) if form.organ_id.data else None
        pack = organ.pack if organ is not None else None
        errors = pack_mismatch(form, pack)
        if organ is not None and not in_scope(current_user, organ):
            errors["organ_id"] = _("该单位不在您的管辖范围内")
        if errors:
            apply_errors(form, errors)
        else:
            try:
                with unit_of_work():
                    case, code = recusals.record_oral(current_user, application_input(form, pack),
                                                      utcnow())
                return _filed(case, code, _("已记录口头回避申请"))
            except AlreadySubmitted as exc:
                return _filed(_by_number(exc.number), None, _("该申请已经记录过"))
            except InvalidData as exc:
                apply_errors(form, exc.errors)
    return _page(args, 400)


def _by_number(number: str):
    from oversight.models import Recusal

    return db.session.execute(db.select(Recusal).where(Recusal.number == number)).scalar_one()


# --- leader: order an officer to step aside ---------------------------------------------


@bp.route("/recusals/order", methods=["GET", "POST"])
def order_recusal():
    _require(Role.LEADER)
    form = OrderRecusalForm()
    packs = packs_of(o for o, _depth in _subtree())
    fill_matter_choices(form, packs)
    args = {"form": form, "mode": "order", "packs": packs, "fixed_pack": _fixed_pack(packs),
            "title": _("指令辅警回避")}
    if request.method == "GET":
        return _page(args)
    if form.validate():
        try:
            with unit_of_work():
                case = recusals.order(current_user, form.officer_badge.data or "",
                                      _matter_input(form), form.earlier_acts.data or "",
                                      form.reason.data or "", utcnow())
            return _filed(case, None, _("已作出指令回避决定"))
        except InvalidData as exc:
            apply_errors(form, exc.errors)
        except Forbidden:
            abort(403)
    return _page(args, 400)


# --- officer: ask to step aside ---------------------------------------------------------


@bp.route("/me/recusals/new", methods=["GET", "POST"], endpoint="self_recusal")
def self_recusal():
    _require(Role.OFFICER)
    officer = current_user.officer
    if officer is None:
        abort(403)
    form = SelfRecusalForm()
    pack = officer.organ.pack
    fill_matter_choices(form, [pack])
    args = {"form": form, "mode": "self", "packs": [pack], "fixed_pack": pack,
            "officer": officer, "title": _("申请自行回避")}
    if request.method == "GET":
        return _page(args)
    if form.validate():
        try:
            with unit_of_work():
                case = recusals.self_recuse(current_user, _matter_input(form), utcnow())
            return _filed(case, None, _("已提交自行回避申请"))
        except InvalidData as exc:
            apply_errors(form, exc.errors)
    return _page(args, 400)


# --- the generic case page --------------------------------------------------------------


def _context(case: Any, actor: Any) -> dict:
    pack = case.pack
    return {
        "recusal_rules": [pack.rule("recusal_grounds"), pack.rule("recusal_applicants")],
        "recusal_tracked": case.origin in TRACKED_ORIGINS,
        "recusal_decide_limit": pack.limit("recusal_decide"),
    }


def _summary(case: Any) -> str:
    return _("%(origin)s · 案（事）件 %(ref)s", origin=case.origin.label, ref=case.matter_ref)


register_page(CasePage(case_type="recusal", segment="recusals",
                       facts_template="staff/facts/recusal.html", context=_context,
                       summary=_summary,
                       new_links=(("staff.new_oral_recusal", _l("记录口头回避申请"),
                                   frozenset({Role.INTAKE})),
                                  ("staff.order_recusal", _l("指令回避"),
                                   frozenset({Role.LEADER})))))
