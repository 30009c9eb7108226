"""Public pages for recusal applications (回避申请): the form, and the receipt shown once as
the POST's own response. Tracking goes through the shared /track pages."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import sqlalchemy as sa
from flask import make_response, render_template, request
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from oversight.extensions import db
from oversight.models import Organ, Recusal
from oversight.models.base import utcnow
from oversight.services import attachments, organs, recusals
from oversight.services.errors import AlreadySubmitted, InvalidData
from oversight.services.organs import OrganNode
from oversight.services.uow import unit_of_work
from oversight.web import common
from oversight.web.common import apply_errors, read_uploads
from oversight.web.public.views import bp, count_submission, limit_submissions
from oversight.web.recusal_forms import MatterForm, RecusalForm
from workflows.policy import Pack, get_packs


def packs_of(organs: Iterable[Organ]) -> list[Pack]:
    """The packs these organs follow, in the order the packs are loaded."""
    used = {o.pack_id for o in organs}
    return [p for p in get_packs().values() if p.id in used]


def recusal_attrs(organ: OrganNode) -> dict[str, str]:
    """An organ option's pack, and whether the pack lists the grounds
    (``data-grounds="list"``) or asks for them described (``"text"``)."""
    return {"data-pack": organ.pack.short_name,
            "data-grounds": "list" if organ.pack.recusal_grounds_enumerated else "text"}


def organ_choices(within: str | None = None) -> list[SelectChoice]:
    """The organs (under ``within`` when given) a recusal may be filed with."""
    return [SelectChoice("", _("请选择"))] + common.organ_choices(within, recusal_attrs)


def fill_matter_choices(form: MatterForm, packs: list[Pack]) -> None:
    """Listed grounds, grouped by the pack's short name (recusal-form.js shows one group)."""
    form.ground_code.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(f"{p.id}:{g.code}", g.label, optgroup=p.short_name)
        for p in packs if p.recusal_grounds_enumerated for g in p.recusal_grounds]


def fill_applicant_choices(form: RecusalForm, packs: list[Pack]) -> None:
    form.applicant_role.choices = [SelectChoice("", _("请选择"))] + [
        SelectChoice(f"{p.id}:{a.code}", a.label, optgroup=p.short_name)
        for p in packs for a in p.recusal_applicants]


def split_choice(value: str | None) -> tuple[str, str]:
    """'beijing-2022:party' -> ('beijing-2022', 'party')."""
    pack_id, _sep, code = (value or "").partition(":")
    return pack_id, code


def pack_mismatch(form: RecusalForm | MatterForm, pack: Pack | None) -> dict[str, str]:
    """A choice from another pack's group (the script was off, or the organ changed)."""
    if pack is None:
        return {}
    errors = {}
    role = getattr(form, "applicant_role", None)
    if role is not None and role.data and split_choice(role.data)[0] != pack.id:
        errors["applicant_role"] = _("所选身份不适用于该单位适用的规定，请重新选择")
    ground_pack, code = split_choice(form.ground_code.data)
    if pack.recusal_grounds_enumerated and code and ground_pack != pack.id:
        errors["ground_code"] = _("所选回避情形不适用于该单位适用的规定，请重新选择")
    return errors


def application_input(form: RecusalForm, pack: Pack | None) -> recusals.RecusalInput:
    ground_code = split_choice(form.ground_code.data)[1]
    return recusals.RecusalInput(
        organ_id=form.organ_id.data,
        applicant_role=split_choice(form.applicant_role.data)[1],
        name=form.name.data or "",
        phone=form.phone.data or "",
        email=form.email.data or "",
        matter_ref=form.matter_ref.data or "",
        matter_summary=form.matter_summary.data or "",
        officer_badge=form.officer_badge.data or "",
        officer_description=form.officer_description.data or "",
        # A pack that lists no grounds asks for them described: a stray code is dropped.
        ground_code=ground_code if pack is None or pack.recusal_grounds_enumerated else "",
        ground_text=form.ground_text.data or "",
        facts=form.facts.data or "",
        files=read_uploads(),
        submission_key=form.submission_key.data or "",
    )


def _form() -> tuple[RecusalForm, list[Pack]]:
    form = RecusalForm()
    packs = packs_of(organs.tree())
    form.organ_id.choices = organ_choices()
    fill_applicant_choices(form, packs)
    fill_matter_choices(form, packs)
    return form, packs


def _no_store(body, status: int = 200):
    """Pages holding what the applicant typed (or the access code) are never cached."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/recusals/new", methods=["GET", "POST"])
def new_recusal():
    form, packs = _form()
    page = {"form": form, "packs": packs, "upload_hint": str(attachments.ALLOWED_HINT)}
    if request.method == "GET":
        form.submission_key.data = secrets.token_urlsafe(24)
        return _no_store(render_template("public/recusal_form.html", **page))
    if form.validate():
        organ = db.session.get(Organ, form.organ_id.data) if form.organ_id.data else None
        pack = organ.pack if organ is not None else None
        errors = pack_mismatch(form, pack)
        if errors:
            apply_errors(form, errors)
        else:
            try:
                with unit_of_work():
                    count_submission()
                    recusal, code = recusals.submit(application_input(form, pack), utcnow())
                # The code is in this response only: never in a cookie, never stored.
                return _no_store(render_template("public/recusal_receipt.html",
                                                 case=recusal, code=code))
            except AlreadySubmitted as exc:
                limit_submissions()
                recusal = db.session.execute(sa.select(Recusal).where(
                    Recusal.number == exc.number)).scalar_one()
                return _no_store(render_template("public/recusal_receipt.html",
                                                 case=recusal, code=None))
            except InvalidData as exc:
                apply_errors(form, exc.errors)
    limit_submissions()
    return _no_store(render_template("public/recusal_form.html", **page), 400)
