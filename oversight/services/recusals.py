"""Recusal applications (回避申请): filing by every route, and the domain effects of the
recusal state table's transitions (registered as hooks on the shared workflow service).

Four routes open an application. A party or their representative files on the public form
(``submit``) or says it in person and intake records it (``record_oral``); both get an access
code and track the case like a complainant. The officer may ask to step aside
(``self_recuse``), and a leader may order it (``order``): the case is then opened already
granted. The officer's own organ decides. The matter itself goes on meanwhile: nothing
here pauses it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from oversight.extensions import db
from oversight.models import Officer, Organ, Recusal, RecusalApplicant
from oversight.services import attachments, numbering, registry
from oversight.services.access import in_scope
from oversight.services.cases import hash_code, new_access_code, submission_key_hash
from oversight.services.errors import AlreadySubmitted, Forbidden, InvalidData
from oversight.services.registry import CaseTypeBinding
from oversight.services.workflow import open_case
from workflows.clocks import due_at
from workflows.recusal import (
    FILING_CLOCKS,
    RECUSAL,
    TRACKED_ORIGINS,
    RecusalOrigin,
    RecusalState,
)
from workflows.roles import Role

NUMBER_PREFIX = "HB"
MAX_FILES = 5
#: What a grant says about the acts the officer performed before stepping aside.
EARLIER_ACTS = {"stand": True, "redo": False}
#: The rules a recusal notice or page cites.
RULE_KEYS = ("recusal_grounds", "recusal_applicants")


@dataclass
class RecusalInput:
    """Plain data for a new application, from the public form or intake staff."""

    organ_id: int | None
    applicant_role: str
    name: str
    matter_ref: str
    facts: str
    phone: str = ""
    email: str = ""
    matter_summary: str = ""
    officer_badge: str = ""
    officer_description: str = ""
    ground_code: str = ""
    ground_text: str = ""
    files: list[attachments.Upload] = field(default_factory=list)
    submission_key: str = ""


@dataclass
class MatterInput:
    """What the officer's self-recusal and the organ's order say about the matter."""

    matter_ref: str
    facts: str
    matter_summary: str = ""
    ground_code: str = ""
    ground_text: str = ""


# --- validation --------------------------------------------------------------------------


def _find_officer(badge: str) -> Officer | None:
    return db.session.execute(
        sa.select(Officer).where(Officer.badge_no == badge)
    ).scalar_one_or_none()


def unknown_badge_message(badge: str) -> str:
    return _("未找到编号为 %(badge)s 的辅警。请核对编号，或清空编号并在下方描述其外貌特征等信息",
             badge=badge)


def _check_officer(badge: str, description: str, organ: Organ | None,
                   errors: dict[str, str]) -> Officer | None:
    """The officer named by badge (who must serve in the chosen organ's tree), or None when
    only a description is given. Problems go into ``errors`` beside the right field."""
    if not badge and not description:
        errors["officer_description"] = _("请填写辅警编号，或描述其外貌特征")
        return None
    if not badge:
        return None
    officer = _find_officer(badge)
    if officer is None:
        errors["officer_badge"] = unknown_badge_message(badge)
    elif organ is not None and not organ.contains(officer.organ):
        errors["officer_badge"] = _("编号为 %(badge)s 的辅警不在所选单位（%(organ)s）及其下属"
                                    "单位，请核对编号或重新选择单位",
                                    badge=badge, organ=organ.full_name)
    return officer


def _check_matter(data: RecusalInput | MatterInput, pack: Any, errors: dict[str, str]) -> None:
    """Matter reference, ground and facts, against the pack of the deciding organ."""
    if not data.matter_ref.strip():
        errors["matter_ref"] = _("请填写相关案（事）件的编号，如受案回执、询问通知书上的编号")
    if pack is not None:
        if pack.recusal_grounds_enumerated:
            codes = {g.code for g in pack.recusal_grounds}
            if data.ground_code not in codes:
                errors["ground_code"] = _("请选择该机关适用的规定所列的回避情形")
        elif not data.ground_text.strip():
            errors["ground_text"] = _("请说明存在哪些可能影响其公正履职的情形")
    if not data.facts.strip():
        errors["facts"] = _("请写明申请回避的事实和理由")


def _ground_fields(data: RecusalInput | MatterInput, pack: Any) -> tuple[str, str]:
    """(ground_code, ground_text) as stored: a code only where the pack lists grounds."""
    code = data.ground_code if pack.recusal_grounds_enumerated else ""
    return code, data.ground_text.strip()


def _check_uploads(files: list[attachments.Upload], errors: dict[str, str]) -> list:
    if len(files) > MAX_FILES:
        errors["files"] = _("最多上传 %(n)s 个文件", n=MAX_FILES)
        return []
    checked = []
    for upload in files:
        mime, message = attachments.check(upload)
        if message:
            errors["files"] = message
            return []
        checked.append((upload, mime))
    return checked


def _validate_application(data: RecusalInput) -> tuple[Organ, Officer | None, list]:
    """Everything a party's application needs; raises InvalidData with every problem."""
    errors: dict[str, str] = {}
    organ = db.session.get(Organ, data.organ_id) if data.organ_id else None
    if organ is None:
        errors["organ_id"] = _("请选择辅警所在单位")
    badge = data.officer_badge.strip().upper()
    officer = _check_officer(badge, data.officer_description.strip(), organ, errors)
    deciding = officer.organ if officer is not None and "officer_badge" not in errors \
        else organ
    pack = deciding.pack if deciding is not None else None
    if pack is not None and data.applicant_role not in {a.code for a in
                                                        pack.recusal_applicants}:
        errors["applicant_role"] = _("请选择您的身份（该机关适用的规定允许的申请人）")
    if not data.name.strip():
        errors["name"] = _("请填写申请人姓名")
    if not (data.phone.strip() or data.email.strip()):
        errors["phone"] = _("请至少留一种联系方式（电话或电子邮箱），以便送达决定书")
    _check_matter(data, pack, errors)
    checked = _check_uploads(data.files, errors)
    if errors:
        raise InvalidData(errors)
    return deciding, officer, checked


def _existing(key_hash: str | None) -> str | None:
    if not key_hash:
        return None
    return db.session.execute(
        sa.select(Recusal.number).where(Recusal.submission_key_hash == key_hash)
    ).scalar()


def _insert(recusal: Recusal, key_hash: str | None) -> None:
    """Add the row under a savepoint: a concurrent request with the same one-time key that
    won the race makes the unique index refuse this one, and the transaction stays usable."""
    try:
        with db.session.begin_nested():
            db.session.add(recusal)
    except IntegrityError:
        if key_hash is None:
            raise
        raise AlreadySubmitted(_existing(key_hash) or "") from None


# --- filing ------------------------------------------------------------------------------


def submit(data: RecusalInput, now: dt.datetime) -> tuple[Recusal, str]:
    """File an application from the public form. Returns it with the access code, which
    exists only here. The same one-time key again raises AlreadySubmitted."""
    key_hash = submission_key_hash(data.submission_key)
    existing = _existing(key_hash)
    if existing:
        raise AlreadySubmitted(existing)
    organ, officer, checked = _validate_application(data)
    code = new_access_code()
    recusal = _new(data, organ, officer, RecusalOrigin.PUBLIC, now,
                   access_code_hash=hash_code(code), submission_key_hash=key_hash)
    _insert(recusal, key_hash)
    _add_applicant(recusal, data)
    for upload, mime in checked:
        attachments.store(recusal, upload, mime, user_id=None, from_public=True)
    _open(recusal, now, trigger="submit", actor_id=None, role=Role.PUBLIC,
          payload={"origin": recusal.origin.value, "files": len(checked)})
    return recusal, code


def record_oral(staff: Any, data: RecusalInput, now: dt.datetime) -> tuple[Recusal, str]:
    """Intake records an application made in person. The applicant gets a code too."""
    if getattr(staff, "role", None) is not Role.INTAKE:
        raise Forbidden()
    key_hash = submission_key_hash(data.submission_key)
    existing = _existing(key_hash)
    if existing:
        raise AlreadySubmitted(existing)
    organ, officer, checked = _validate_application(data)
    if not in_scope(staff, organ):
        raise InvalidData({"organ_id" if officer is None else "officer_badge":
                           _("该辅警所在单位不在您的管辖范围内")})
    code = new_access_code()
    recusal = _new(data, organ, officer, RecusalOrigin.ORAL, now,
                   access_code_hash=hash_code(code), submission_key_hash=key_hash)
    _insert(recusal, key_hash)
    _add_applicant(recusal, data)
    for upload, mime in checked:
        attachments.store(recusal, upload, mime, user_id=staff.id, from_public=False)
    _open(recusal, now, trigger="submit", actor_id=staff.id, role=Role.INTAKE,
          payload={"origin": recusal.origin.value, "files": len(checked)})
    return recusal, code


def self_recuse(officer_user: Any, data: MatterInput, now: dt.datetime) -> Recusal:
    """The officer asks to step aside from a matter (自行回避). No applicant, no code."""
    officer = getattr(officer_user, "officer", None)
    if getattr(officer_user, "role", None) is not Role.OFFICER or officer is None:
        raise Forbidden()
    errors: dict[str, str] = {}
    _check_matter(data, officer.organ.pack, errors)
    if errors:
        raise InvalidData(errors)
    recusal = _from_matter(data, officer, RecusalOrigin.SELF, RecusalState.FILED, now)
    db.session.add(recusal)
    db.session.flush()
    _open(recusal, now, trigger="submit", actor_id=officer_user.id, role=Role.OFFICER,
          payload={"origin": recusal.origin.value})
    return recusal


def order(leader: Any, badge: str, data: MatterInput, earlier_acts: str, reason: str,
          now: dt.datetime) -> Recusal:
    """The leader's organ orders an officer in its tree to step aside (指令回避): opened
    already granted, with the ruling on the officer's earlier acts and the 指令回避决定书;
    no clock runs."""
    if getattr(leader, "role", None) is not Role.LEADER:
        raise Forbidden()
    errors: dict[str, str] = {}
    badge = badge.strip().upper()
    officer = _find_officer(badge) if badge else None
    if not badge:
        errors["officer_badge"] = _("请填写辅警编号")
    elif officer is None:
        errors["officer_badge"] = _("未找到编号为 %(badge)s 的辅警，请核对编号", badge=badge)
    elif not in_scope(leader, officer.organ):
        errors["officer_badge"] = _("该辅警所在单位不在您的管辖范围内")
    # The officer's pack once known; until then the ordering organ's (one tree, one pack).
    _check_matter(data, (officer.organ if officer is not None else leader.organ).pack, errors)
    if earlier_acts not in EARLIER_ACTS:
        errors["earlier_acts"] = _earlier_acts_message()
    if not reason.strip():
        errors["reason"] = _("请写明指令回避的理由")
    if errors:
        raise InvalidData(errors)
    recusal = _from_matter(data, officer, RecusalOrigin.ORDERED, RecusalState.GRANTED, now)
    # The ordering organ decides and issues the decision (it holds the officer's organ).
    recusal.organ = leader.organ
    recusal.decided_at = now
    recusal.earlier_acts_stand = EARLIER_ACTS[earlier_acts]
    recusal.earlier_acts_note = reason.strip()
    db.session.add(recusal)
    db.session.flush()
    open_case(recusal, trigger="order", actor_id=leader.id, role=Role.LEADER,
              rule="recusal_grounds", now=now, notice="ordered", reason=reason.strip(),
              payload={"origin": recusal.origin.value, "earlier_acts": earlier_acts},
              public=True)
    db.session.flush()
    return recusal


def _new(data: RecusalInput, organ: Organ, officer: Officer | None, origin: RecusalOrigin,
         now: dt.datetime, **extra: Any) -> Recusal:
    ground_code, ground_text = _ground_fields(data, organ.pack)
    return Recusal(
        number=numbering.next_number(NUMBER_PREFIX, now),
        organ_id=organ.id,
        organ=organ,
        state=RecusalState.FILED,
        origin=origin,
        applicant_role=data.applicant_role,
        officer_id=officer.id if officer else None,
        officer_badge_text=data.officer_badge.strip().upper(),
        officer_description=data.officer_description.strip(),
        matter_ref=data.matter_ref.strip(),
        matter_summary=data.matter_summary.strip(),
        ground_code=ground_code,
        ground_text=ground_text,
        facts=data.facts.strip(),
        created_at=now,
        updated_at=now,
        **extra,
    )


def _from_matter(data: MatterInput, officer: Officer, origin: RecusalOrigin,
                 state: RecusalState, now: dt.datetime) -> Recusal:
    ground_code, ground_text = _ground_fields(data, officer.organ.pack)
    return Recusal(
        number=numbering.next_number(NUMBER_PREFIX, now),
        organ_id=officer.organ_id,
        organ=officer.organ,
        state=state,
        origin=origin,
        applicant_role="",
        officer_id=officer.id,
        officer_badge_text=officer.badge_no,
        matter_ref=data.matter_ref.strip(),
        matter_summary=data.matter_summary.strip(),
        ground_code=ground_code,
        ground_text=ground_text,
        facts=data.facts.strip(),
        created_at=now,
        updated_at=now,
    )


def _add_applicant(recusal: Recusal, data: RecusalInput) -> None:
    db.session.add(RecusalApplicant(recusal_id=recusal.id, name=data.name.strip(),
                                    phone=data.phone.strip(), email=data.email.strip()))


def _open(recusal: Recusal, now: dt.datetime, *, trigger: str, actor_id: int | None,
          role: Role, payload: dict) -> None:
    """The first event, clocks and outbox row of an application awaiting decision."""
    # A party's application rests on who may apply; the officer's own on the grounds.
    rule = "recusal_grounds" if recusal.origin is RecusalOrigin.SELF else "recusal_applicants"
    open_case(recusal, trigger=trigger, actor_id=actor_id, role=role, rule=rule, now=now,
              starts=FILING_CLOCKS, payload=payload, public=True)


# --- transition hooks --------------------------------------------------------------------


def _earlier_acts_message() -> str:
    return _("请认定回避前该辅警已经作出的行为是否有效：继续有效，或需重新作出")


def _grant(case: Recusal, actor: Any, data: dict, now: dt.datetime) -> dict:
    choice = str(data.get("earlier_acts", "")).strip()
    if choice not in EARLIER_ACTS:
        raise InvalidData({"earlier_acts": _earlier_acts_message()})
    case.decided_at = now
    case.earlier_acts_stand = EARLIER_ACTS[choice]
    case.earlier_acts_note = str(data.get("reason", "")).strip()
    return {"earlier_acts": choice}


def _deny(case: Recusal, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.decided_at = now
    if case.origin not in TRACKED_ORIGINS:  # a self-recusal refused: no 复议 applies
        return {}
    limit = case.pack.limit("recusal_reconsider_request")
    case.reconsider_deadline_at = due_at(now, limit.amount, limit.unit.value)
    return {"reconsider_deadline": case.reconsider_deadline_at.isoformat()}


def _deny_on_reconsideration(case: Recusal, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.decided_at = now
    return {}


def _request_reconsideration(case: Recusal, actor: Any, data: dict,
                             now: dt.datetime) -> dict:
    case.reconsidered = True
    return {}


def _add_note(case: Recusal, actor: Any, data: dict, now: dt.datetime) -> dict:
    return {"note": str(data["note"]).strip()}


def notice_context(case: Recusal, kind: str, now: dt.datetime) -> dict:
    from oversight.services.workflow import history

    pack = case.pack
    identity = db.session.get(RecusalApplicant, case.id)
    last = {ev.trigger: ev for ev in history(case)}
    filed = last.get("submit")
    return {
        "organ": case.organ,
        "pack": pack,
        "officer": case.officer,
        "ground": case.ground,
        "applicant": case.applicant,
        "origin": case.origin,
        "tracked": case.origin in TRACKED_ORIGINS,
        "filed_at": filed.at if filed else case.created_at,
        "rules": {key: pack.rule(key) for key in RULE_KEYS},
        "decide_limit": pack.limit("recusal_decide"),
        "reconsider_limit": pack.limit("recusal_reconsider_request"),
        "answer_limit": pack.limit("recusal_reconsider_answer"),
        "reconsider_deadline": case.reconsider_deadline_at,
        "reconsider_request": last.get("request_reconsideration"),
        "recipient_email": identity.email if identity else "",
    }


registry.register(CaseTypeBinding(
    spec=RECUSAL,
    model=Recusal,
    number_prefix=NUMBER_PREFIX,
    identity_of=lambda case: db.session.get(RecusalApplicant, case.id),
    hooks={
        "grant": _grant,
        "grant_on_reconsideration": _grant,
        "deny": _deny,
        "deny_on_reconsideration": _deny_on_reconsideration,
        "request_reconsideration": _request_reconsideration,
        "add_note": _add_note,
    },
    notice_context=notice_context,
))
