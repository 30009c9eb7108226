"""Complaint operations: filing, access by number and code, and the domain effects of the
complaint state table's transitions (registered as hooks on the shared workflow service)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from oversight.extensions import db
from oversight.models import ComplainantIdentity, Complaint, Officer, Organ
from oversight.services import attachments, clocks, numbering, organs, registry
from oversight.services.access import can
from oversight.services.actors import PublicActor, SystemActor
from oversight.services.cases import hash_code, new_access_code, submission_key_hash
from oversight.services.errors import AlreadySubmitted, InvalidData
from oversight.services.registry import CaseTypeBinding
from workflows.clocks import due_at
from workflows.complaint import COMPLAINT, FILING_CLOCKS, ComplaintKind, ComplaintState, Finding
from workflows.roles import Role


@dataclass
class ComplaintInput:
    """Plain data for a new complaint — the service never sees a WTForm."""

    kind: str
    organ_id: int
    category_code: str
    narrative: str
    anonymous: bool = False
    name: str = ""
    phone: str = ""
    email: str = ""
    officer_badge: str = ""
    officer_description: str = ""
    incident_at: dt.datetime | None = None
    incident_place: str = ""
    files: list[attachments.Upload] = field(default_factory=list)
    submission_key: str = ""


def submit(data: ComplaintInput, now: dt.datetime) -> tuple[Complaint, str]:
    """File a complaint. Returns it with the access code, which exists only here.

    A form submitted again with the same one-time key (a double tap, a refresh of the
    receipt) raises AlreadySubmitted instead of filing a second case."""
    key_hash = submission_key_hash(data.submission_key)
    if key_hash:
        existing = db.session.execute(
            sa.select(Complaint.number).where(Complaint.submission_key_hash == key_hash)
        ).scalar()
        if existing:
            raise AlreadySubmitted(existing)
    errors: dict[str, str] = {}
    organ = organs.node(data.organ_id)
    if organ is None:
        errors["organ_id"] = _("请选择受理机关")
    elif data.category_code not in {c.code for c in organ.pack.categories}:
        errors["category_code"] = _("请选择该机关适用的投诉类别")
    if not data.anonymous and not data.name.strip():
        errors["name"] = _("实名投诉请填写姓名")
    if not data.anonymous and not (data.phone.strip() or data.email.strip()):
        errors["phone"] = _("实名投诉请至少留一种联系方式（电话或电子邮箱）")
    if not data.officer_badge.strip() and not data.officer_description.strip():
        errors["officer_description"] = _("请填写辅警编号，或描述其外貌特征")
    if len(data.files) > 5:
        errors["files"] = _("最多上传 5 个文件")
    checked = []
    for upload in data.files:
        mime, message = attachments.check(upload)
        if message:
            errors["files"] = message
            break
        checked.append((upload, mime))
    if errors:
        raise InvalidData(errors)

    officer = None
    badge = data.officer_badge.strip().upper()
    if badge:
        officer = db.session.execute(
            sa.select(Officer).where(Officer.badge_no == badge)
        ).scalar_one_or_none()
    code = new_access_code()
    complaint = Complaint(
        number=numbering.next_number("TS", now),
        organ_id=organ.id,
        state=ComplaintState.SUBMITTED,
        kind=ComplaintKind(data.kind),
        anonymous=data.anonymous,
        category_code=data.category_code,
        officer_id=officer.id if officer else None,
        officer_badge_text=badge,
        officer_description=data.officer_description.strip(),
        incident_at=data.incident_at,
        incident_place=data.incident_place.strip(),
        narrative=data.narrative.strip(),
        access_code_hash=hash_code(code),
        submission_key_hash=key_hash,
        created_at=now,
        updated_at=now,
    )
    try:
        # A savepoint: if a concurrent request with the same one-time key won the race,
        # the unique index refuses this row and the transaction stays usable.
        with db.session.begin_nested():
            db.session.add(complaint)
    except IntegrityError:
        if key_hash is None:
            raise
        number = db.session.execute(
            sa.select(Complaint.number).where(Complaint.submission_key_hash == key_hash)
        ).scalar_one()
        raise AlreadySubmitted(number) from None
    db.session.add(ComplainantIdentity(
        complaint_id=complaint.id,
        name="" if data.anonymous else data.name.strip(),
        phone=data.phone.strip(),
        email=data.email.strip(),
    ))
    for upload, mime in checked:
        attachments.store(complaint, upload, mime, user_id=None, from_public=True)
    _open(complaint, now, trigger="submit", actor_id=None, role=Role.PUBLIC,
          payload={"files": len(checked)})
    return complaint, code


def _open(complaint: Complaint, now: dt.datetime, *, trigger: str, actor_id: int | None,
          role: Role, payload: dict, reason: str = "") -> None:
    """The first event, clocks and outbox row of a new case."""
    from oversight.services.workflow import open_case

    open_case(complaint, trigger=trigger, actor_id=actor_id, role=role,
              rule="complaint_channel", now=now, starts=FILING_CLOCKS, payload=payload,
              reason=reason, public=True)


# --- transition hooks -------------------------------------------------------------------


def _accept(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    """An accepted complaint may put its officer over an early-intervention threshold."""
    from oversight.services import intervention

    intervention.evaluate(case.officer, now, trigger_complaint=case)
    return {}


def _transfer(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    try:
        target = db.session.get(Organ, int(data["target_organ_id"]))
    except (TypeError, ValueError):
        target = None
    if target is None:
        raise InvalidData({"target_organ_id": _("请选择转办的机关")})
    pack = target.pack
    codes = {c.code for c in pack.categories}
    new = Complaint(
        number=numbering.next_number("TS", now), organ_id=target.id,
        state=ComplaintState.SUBMITTED, kind=case.kind, anonymous=case.anonymous,
        category_code=case.category_code if case.category_code in codes else "other",
        officer_id=case.officer_id, officer_badge_text=case.officer_badge_text,
        officer_description=case.officer_description, incident_at=case.incident_at,
        incident_place=case.incident_place, narrative=case.narrative,
        access_code_hash=case.access_code_hash, transferred_from_id=case.id,
        created_at=now, updated_at=now,
    )
    db.session.add(new)
    db.session.flush()
    old_identity = db.session.get(ComplainantIdentity, case.id)
    if old_identity is not None:
        db.session.add(ComplainantIdentity(complaint_id=new.id, name=old_identity.name,
                                           phone=old_identity.phone, email=old_identity.email))
    for att in attachments.for_case(case):
        db.session.add(type(att)(case_type="complaint", case_id=new.id, sha256=att.sha256,
                                 mime=att.mime, size=att.size, original_name=att.original_name,
                                 uploaded_at=att.uploaded_at, uploaded_by_id=att.uploaded_by_id,
                                 from_public=att.from_public))
    _open(new, now, trigger="receive_transfer", actor_id=actor.id, role=actor.role,
          payload={"from_number": case.number, "from_organ": case.organ.name},
          reason=str(data.get("reason", "")))
    case.transferred_to_id = new.id
    return {"to_number": new.number, "to_organ": target.name}


def _merge(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    number = str(data.get("target_number", "")).strip().upper()
    target = db.session.execute(
        sa.select(Complaint).where(Complaint.number == number)
    ).scalar_one_or_none()
    if target is None or not can(actor, "view", target):
        raise InvalidData({"target_number": _("未找到该案件编号，或不在您的管辖范围内")})
    if target.id == case.id:
        raise InvalidData({"target_number": _("不能合并到本案件自身")})
    if target.state in COMPLAINT.terminal:
        raise InvalidData({"target_number": _("目标案件已%(state)s，不能合并",
                                                state=target.state.label)})
    case.merged_into_id = target.id
    return {"into_number": target.number}


def _start_investigation(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    """Link the complaint to its investigation: the one named (by id or number), or a new
    one led by the inspector who starts it."""
    from oversight.services import investigations

    return investigations.link_complaint(case, actor, data, now)


def _propose_conclusion(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    try:
        finding = Finding(data["finding"])
    except (KeyError, ValueError):
        raise InvalidData({"finding": _("请选择调查结论")}) from None
    case.finding = finding
    case.facts = str(data["facts"]).strip()
    case.handling = str(data["handling"]).strip()
    return {"finding": finding.value, "facts": case.facts, "handling": case.handling}


def _issue_notice(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    limit = case.pack.limit("review_request")
    case.notified_at = now
    case.review_deadline_at = due_at(now, limit.amount, limit.unit.value)
    from oversight.services.workflow import fire

    merged = db.session.execute(
        sa.select(Complaint).where(Complaint.merged_into_id == case.id,
                                   Complaint.state == ComplaintState.MERGED)
        .order_by(Complaint.id)
    ).scalars().all()
    for other in merged:
        fire(other, "share_outcome", SystemActor(), now=now)
    payload = {"review_deadline": case.review_deadline_at.isoformat()}
    if merged:
        payload["shared_with"] = [other.number for other in merged]
    return payload


def _extend(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    """A leader approves one extension of the time to conclude (第三十四条)."""
    limit = case.pack.limit("extend_max")
    text = str(data.get("extension_days", "")).strip()
    if not text.isdigit() or not 1 <= int(text) <= limit.amount:
        raise InvalidData({"extension_days": _(
            "延长期限为 1 到 %(max)s 日的整数（%(cite)s）", max=limit.amount,
            cite=limit.citation.label)})
    clock = clocks.extend(case, "conclude", int(text))
    if clock is None:
        raise InvalidData({"extension_days": _("本案没有正在计算的办结期限")})
    return {"extension_days": int(text), "due_at": clock.due_at.isoformat()}


def _answer_review(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    """Upholding on 复查 opens the 复核 window (第三十六条)."""
    limit = case.pack.limit("recheck_request")
    case.recheck_deadline_at = due_at(now, limit.amount, limit.unit.value)
    return {"recheck_deadline": case.recheck_deadline_at.isoformat()}


def _request_recheck(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.recheck_requested_at = now
    return {}


def _rate(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    try:
        rating = int(data["rating"])
    except (KeyError, TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise InvalidData({"rating": _("请选择 1 到 5 分")})
    case.rating = rating
    case.rating_comment = str(data.get("comment", "")).strip()[:500]
    return {"rating": rating, "comment": case.rating_comment}


def _add_note(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    payload = {"note": str(data["note"]).strip()}
    payload.update(_store_files(case, actor, data))
    return payload


def _add_material(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    text = str(data.get("material", "")).strip()
    if not text and not data.get("files"):
        raise InvalidData({"material": _("请填写补充说明或上传文件")})
    payload = {"material": text}
    payload.update(_store_files(case, actor, data))
    return payload


def _store_files(case: Complaint, actor: Any, data: dict) -> dict:
    files: list[attachments.Upload] = data.get("files") or []
    existing = len(attachments.for_case(case))
    if existing + len(files) > 20:
        raise InvalidData({"files": _("本案附件已达上限（20 个）")})
    stored = []
    for upload in files:
        mime, message = attachments.check(upload)
        if message:
            raise InvalidData({"files": message})
        att = attachments.store(case, upload, mime, user_id=actor.id,
                                from_public=isinstance(actor, PublicActor))
        stored.append(att)
    if stored:
        db.session.flush()
    return {"attachments": [a.id for a in stored]} if stored else {}



def notice_context(case: Complaint, kind: str, now: dt.datetime) -> dict:
    pack = case.pack
    identity = db.session.get(ComplainantIdentity, case.id)
    last = {ev.trigger: ev for ev in _events(case)}
    review_limit = pack.limit("review_request")
    # A merged complaint is told the outcome of the case it joined.
    outcome = case.merged_into if case.state is ComplaintState.MERGED else case
    return {
        "organ": case.organ,
        "pack": pack,
        "category": case.category,
        "outcome": outcome,
        "finding": outcome.finding,
        "refusal": last.get("propose_refusal"),
        "transfer_to": case.transferred_to,
        "merged_into": case.merged_into,
        "review_request": last.get("request_review"),
        "review_limit": review_limit,
        "review_deadline": due_at(now, review_limit.amount, review_limit.unit.value),
        "recheck_request": last.get("request_recheck"),
        "conclude_clock": next(iter(clocks.running(case, ("conclude",))), None),
        "extend_limit": pack.limit("extend_max"),
        "rules": {key: pack.rule(key) for key in (
            "complaint_channel", "complainant_told_result", "complaint_refusal",
            "complaint_transfer", "complaint_review", "complaint_extension",
            "complaint_recheck")},
        "recipient_email": identity.email if identity else "",
    }


def _events(case: Complaint):
    from oversight.services.workflow import history

    return history(case)


registry.register(CaseTypeBinding(
    spec=COMPLAINT,
    model=Complaint,
    number_prefix="TS",
    identity_of=lambda case: db.session.get(ComplainantIdentity, case.id),
    hooks={
        "accept": _accept,
        "transfer": _transfer,
        "merge": _merge,
        "start_investigation": _start_investigation,
        "propose_conclusion": _propose_conclusion,
        # the investigation's approved finding, facts and handling become the complaint's
        "conclude_by_investigation": _propose_conclusion,
        "issue_notice": _issue_notice,
        "extend": _extend,
        "uphold_on_review": _answer_review,
        "request_recheck": _request_recheck,
        "rate": _rate,
        "add_note": _add_note,
        "add_material": _add_material,
    },
    notice_context=notice_context,
))
