"""Investigations (调查): opening one, its team and append-only evidence log, conflict
declarations, and the domain effects of the investigation state table's transitions.

An investigation is opened from accepted complaints (each fires its own
``start_investigation``), on the organ's own initiative, or assigned down (交办) by an upper
organ's leader, which leaves the team to the lower organ's leader. When a leader approves
its findings, in the same transaction every linked complaint concludes with its finding
(landing at the outcome-notice step) and the officer's suspension ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from oversight.extensions import db
from oversight.models import (
    Complaint,
    ConflictDeclaration,
    EvidenceEntry,
    Investigation,
    InvestigationMember,
    Officer,
    Organ,
    Suspension,
    User,
)
from oversight.services import attachments, numbering, registry, suspensions, workflow
from oversight.services.access import can, in_scope
from oversight.services.actors import SystemActor
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData
from oversight.services.registry import CaseTypeBinding
from oversight.storage import page_of
from workflows.complaint import ComplaintState, Finding
from workflows.investigation import (
    INVESTIGATION,
    OPEN_STATES,
    EvidenceKind,
    InvestigationOrigin,
    InvestigationState,
)
from workflows.roles import Role
from workflows.suspension import HOLDING_STATES, SuspensionState

NUMBER_PREFIX = "DC"
CLEARED_FINDINGS = (Finding.UNSUBSTANTIATED, Finding.UNFOUNDED)
VIOLATION_FINDINGS = (Finding.SUBSTANTIATED, Finding.PARTLY)
#: Not concluded: the investigation still runs (assigned down and waiting for a team too).
RUNNING_STATES = (InvestigationState.ASSIGNED,) + OPEN_STATES


# --- queries -----------------------------------------------------------------------------


def eligible_inspectors(organ: Organ) -> list[User]:
    """Active inspectors who may work on an investigation of ``organ``: those whose scope
    (their organ and its subtree) contains it. With their organs (the choice names them)."""
    return list(db.session.execute(
        sa.select(User).join(Organ, User.organ_id == Organ.id)
        .where(User.role == Role.INSPECTOR, User.active.is_(True),
               sa.literal(organ.path).startswith(Organ.path))
        .options(sa.orm.contains_eager(User.organ))
        .order_by(Organ.path, User.display_name, User.id)
    ).scalars())


def linked_complaints(inv: Investigation) -> list[Complaint]:
    """With their organs (each one's category is its organ's pack's)."""
    return list(db.session.execute(
        sa.select(Complaint).where(Complaint.investigation_id == inv.id)
        .options(sa.orm.selectinload(Complaint.organ)).order_by(Complaint.id)
    ).scalars())


def team_of(inv: Investigation) -> dict[int, User]:
    """The lead and the assistants by id, in one query (the page names each of them)."""
    ids = sorted(inv.team_ids)
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(
        sa.select(User).where(User.id.in_(ids))).scalars()}


def evidence_of(inv: Investigation) -> list[EvidenceEntry]:
    return list(db.session.execute(
        sa.select(EvidenceEntry).where(EvidenceEntry.investigation_id == inv.id)
        .options(sa.orm.selectinload(EvidenceEntry.added_by),
                 sa.orm.selectinload(EvidenceEntry.superseded_by))
        .order_by(EvidenceEntry.id)
    ).scalars())


def for_officer(officer_id: int) -> list[Investigation]:
    """Newest first, with their organs (shown, and checked against the viewer's scope)."""
    return list(db.session.execute(
        sa.select(Investigation).where(Investigation.officer_id == officer_id)
        .options(sa.orm.selectinload(Investigation.organ))
        .order_by(Investigation.created_at.desc(), Investigation.id.desc())
    ).scalars())


def conflicts_of(user_ids: Iterable[int], officer_id: int | None,
                 complaint_ids: Iterable[int]) -> dict[int, ConflictDeclaration]:
    """The first conflict each of ``user_ids`` declared with the officer or with any of the
    complaints, by user id."""
    user_ids, complaint_ids = list(user_ids), list(complaint_ids)
    parties = []
    if officer_id is not None:
        parties.append(ConflictDeclaration.officer_id == officer_id)
    if complaint_ids:
        parties.append(ConflictDeclaration.complaint_id.in_(complaint_ids))
    if not user_ids or not parties:
        return {}
    found: dict[int, ConflictDeclaration] = {}
    for decl in db.session.execute(
            sa.select(ConflictDeclaration).where(ConflictDeclaration.user_id.in_(user_ids),
                                                 sa.or_(*parties))
            .order_by(ConflictDeclaration.id)).scalars():
        found.setdefault(decl.user_id, decl)
    return found


def needs_clarification_prompt(inv: Investigation) -> bool:
    """Where the pack itself requires it (四川 第二十八条: an officer who met an untrue
    complaint is publicly cleared), the page prompts for the clarification record once the
    officer is cleared on a complaint found untrue. Elsewhere it is available, not asked."""
    return (inv.state is InvestigationState.CLEARED and inv.complaint_finding is Finding.UNFOUNDED
            and not inv.pack.rule("clarification").fallback and inv.clarified_at is None)


# --- the team ----------------------------------------------------------------------------


def _ids(value: Any) -> list[int]:
    """User ids from a form value: one id, a list, or a comma-separated text."""
    if value is None or value == "":
        return []
    if isinstance(value, (int, User)):
        value = [value]
    elif isinstance(value, str):
        value = value.split(",")
    out = []
    for item in value:
        if isinstance(item, User):
            item = item.id
        item = str(item).strip()
        if not item:
            continue
        if not item.isdigit():
            raise ValueError(item)
        if int(item) not in out:
            out.append(int(item))
    return out


def _check_team(organ: Organ, officer_id: int | None, complaint_ids: Iterable[int],
                lead: Any, assistants: Any) -> tuple[User, list[User]]:
    """The lead and assistants, validated: inspectors in scope of the organ, the lead not
    also an assistant, and nobody who declared a conflict with the officer or a complaint."""
    errors: dict[str, str] = {}
    try:
        lead_ids = _ids(lead)
    except ValueError:
        lead_ids = [-1]
    try:
        assistant_ids = _ids(assistants)
    except ValueError:
        assistant_ids = [-1]
    eligible = {u.id: u for u in eligible_inspectors(organ)}
    if len(lead_ids) != 1:
        errors["lead_id"] = _("请指定一名主办督察")
    elif lead_ids[0] not in eligible:
        errors["lead_id"] = _("主办督察须为本机关或上级机关在岗的督察")
    if any(i not in eligible for i in assistant_ids):
        errors["assistant_ids"] = _("协办人员须为本机关或上级机关在岗的督察")
    elif lead_ids and lead_ids[0] in assistant_ids:
        errors["assistant_ids"] = _("主办督察不必再列为协办人员")
    if errors:
        raise InvalidData(errors)
    conflicts = conflicts_of([lead_ids[0], *assistant_ids], officer_id, complaint_ids)
    for key, ids in (("lead_id", lead_ids), ("assistant_ids", assistant_ids)):
        named = [eligible[i].display_name for i in ids if i in conflicts]
        if named:
            errors[key] = _("%(names)s 已声明与本案存在利益冲突，不能指派",
                            names=_("、").join(named))
    if errors:
        raise InvalidData(errors)
    return eligible[lead_ids[0]], [eligible[i] for i in assistant_ids]


def _set_team(inv: Investigation, lead: User, assistants: list[User]) -> dict:
    inv.lead_id = lead.id
    wanted = {u.id for u in assistants}
    for member in list(inv.members):
        if member.user_id not in wanted:
            inv.members.remove(member)
    have = {m.user_id for m in inv.members}
    for u in assistants:
        if u.id not in have:
            inv.members.append(InvestigationMember(user_id=u.id))
    return {"lead": lead.display_name, "assistants": [u.display_name for u in assistants]}


# --- opening -----------------------------------------------------------------------------


def open_investigation(actor: Any, *, organ: Organ, subject: str, summary: str = "",
                       officer: Officer | None = None, complaints: Iterable[Complaint] = (),
                       lead: Any = None, assistants: Any = (),
                       origin: InvestigationOrigin | str, now: dt.datetime) -> Investigation:
    """Open an investigation. From complaints, each of them must be accepted and each
    fires its ``start_investigation`` (linking it); on the organ's own initiative the
    opener names the team; assigned down (交办) by an upper organ's leader to an organ in
    its subtree, it waits for that organ's leader to name the team (``assign_team``).
    Raises InvalidData keyed by the open form's fields."""
    from oversight.services.workflow import fire

    origin = InvestigationOrigin(origin)
    complaints = list(complaints)
    errors: dict[str, str] = {}
    subject = (subject or "").strip()
    if not subject:
        errors["subject"] = _("请填写调查事项")
    elif len(subject) > 200:
        errors["subject"] = _("调查事项不超过 200 字")
    if organ is None or not in_scope(actor, organ):
        raise InvalidData({**errors, "organ_id": _("请选择您管辖范围内的承办机关")})
    assigned_by = None
    if origin is InvestigationOrigin.ASSIGNED:
        if actor.role is not Role.LEADER:
            raise Forbidden(_("只有上级机关领导可以交办调查"))
        if organ.id == actor.organ_id:
            errors["organ_id"] = _("交办须选择下级机关")
        if complaints:
            errors["complaint_numbers"] = _("交办调查不关联投诉；投诉请转办至下级机关")
        assigned_by = actor.organ
    elif origin is InvestigationOrigin.COMPLAINT:
        officer = _officer_of_complaints(actor, complaints, officer, errors)
    elif actor.role not in (Role.INSPECTOR, Role.LEADER):
        raise Forbidden()
    if officer is not None and not in_scope(actor, officer.organ):
        errors["officer_badge"] = _("该辅警不在您的管辖范围内")
    if errors:
        raise InvalidData(errors)
    team = None
    if origin is not InvestigationOrigin.ASSIGNED:
        team = _check_team(organ, officer.id if officer else None,
                           [c.id for c in complaints], lead, assistants)
    inv = _create(actor, organ=organ, subject=subject, summary=summary, officer=officer,
                  origin=origin, team=team, assigned_by=assigned_by, now=now,
                  complaint_numbers=[c.number for c in complaints])
    for complaint in complaints:
        fire(complaint, "start_investigation", actor, {"investigation_id": inv.id}, now=now)
    return inv


def _officer_of_complaints(actor: Any, complaints: list[Complaint], officer: Officer | None,
                           errors: dict[str, str]) -> Officer | None:
    if not complaints:
        errors["complaint_numbers"] = _("请填写已受理的投诉编号")
        return officer
    for c in complaints:
        if not can(actor, "view", c):
            errors["complaint_numbers"] = _("未找到投诉 %(number)s，或不在您的管辖范围内",
                                            number=c.number)
            return officer
        if c.state is not ComplaintState.ACCEPTED:
            errors["complaint_numbers"] = _("投诉 %(number)s 当前为「%(state)s」，只有已受理的"
                                            "投诉可以立案调查", number=c.number,
                                            state=c.state.label)
            return officer
        if not can(actor, "fire:start_investigation", c):
            raise Forbidden()
    named = {c.officer_id for c in complaints if c.officer_id is not None}
    if officer is not None:
        named.add(officer.id)
    if len(named) > 1:
        errors["complaint_numbers"] = _("所选投诉涉及不同的辅警，请分别立案调查")
        return officer
    if officer is None and named:
        officer = db.session.get(Officer, named.pop())
    return officer


def _create(actor: Any, *, organ: Organ, subject: str, summary: str, officer: Officer | None,
            origin: InvestigationOrigin, team: tuple[User, list[User]] | None,
            assigned_by: Organ | None, now: dt.datetime,
            complaint_numbers: list[str]) -> Investigation:
    """The investigation row, its team, its opening event and outbox row, and (where the
    pack makes it mandatory) the officer's suspension."""
    inv = Investigation(
        number=numbering.next_number(NUMBER_PREFIX, now), organ_id=organ.id,
        state=(InvestigationState.ASSIGNED if origin is InvestigationOrigin.ASSIGNED
               else InvestigationState.INVESTIGATING),
        origin=origin, assigned_by_organ_id=assigned_by.id if assigned_by else None,
        officer_id=officer.id if officer else None, subject=subject,
        summary=(summary or "").strip(), category_codes=[], created_at=now, updated_at=now,
    )
    payload: dict[str, Any] = {"origin": origin.value}
    if team is not None:
        payload.update(_set_team(inv, *team))
    db.session.add(inv)
    db.session.flush()
    if complaint_numbers:
        payload["complaints"] = complaint_numbers
    if officer is not None:
        payload["officer"] = officer.badge_no
    if assigned_by is not None:
        payload["assigned_by"] = assigned_by.name
    payload.update(_mandatory_suspension(inv, now))
    rule = "complaint_transfer" if origin is InvestigationOrigin.ASSIGNED else "complaint_channel"
    workflow.open_case(inv, trigger="assign_down" if assigned_by is not None else "open",
                       actor_id=actor.id, role=actor.role, rule=rule, now=now,
                       payload=payload)
    return inv


def _mandatory_suspension(inv: Investigation, now: dt.datetime) -> dict:
    """Where the pack suspends an investigated officer for the investigation's duration
    (云南 第三十二条), do it now. An officer already suspended (or awaiting a decision on
    one) keeps that suspension; the payload says which."""
    if inv.officer_id is None or not inv.pack.suspension_mandatory:
        return {}
    try:
        suspension = suspensions.open_automatic(inv, now)
    except suspensions.SuspensionExists as exc:
        return {"suspension_existing": exc.existing.number}
    return {"suspension": suspension.number}


def link_complaint(case: Complaint, actor: Any, data: dict, now: dt.datetime) -> dict:
    """The complaint's ``start_investigation`` hook: link it to the investigation named by
    id (opened by :func:`open_investigation`) or by number (joining one already running in
    the actor's scope), or open a new one led by the actor into the complaint's officer."""
    inv = None
    if data.get("investigation_id"):
        inv = db.session.get(Investigation, int(data["investigation_id"]))
        if inv is None or not can(actor, "view", inv):
            raise InvalidData({"investigation_number": _("未找到该调查")})
    elif str(data.get("investigation_number") or "").strip():
        number = str(data["investigation_number"]).strip().upper()
        inv = db.session.execute(
            sa.select(Investigation).where(Investigation.number == number)
        ).scalar_one_or_none()
        if inv is None or not can(actor, "view", inv):
            raise InvalidData({"investigation_number": _("未找到该调查编号，或不在您的管辖范围内")})
    if inv is None:
        team = _check_team(case.organ, case.officer_id, [case.id], actor, ())
        inv = _create(actor, organ=case.organ, subject=_("投诉 %(number)s 反映的问题",
                                                        number=case.number),
                      summary=case.narrative, officer=case.officer,
                      origin=InvestigationOrigin.COMPLAINT, team=team, assigned_by=None,
                      now=now, complaint_numbers=[case.number])
    else:
        _join(inv, case, now)
    case.investigation_id = inv.id
    case.investigation = inv
    return {"investigation": inv.number}


def _join(inv: Investigation, case: Complaint, now: dt.datetime) -> None:
    if inv.state not in RUNNING_STATES:
        raise InvalidData({"investigation_number": _("调查 %(number)s 已%(state)s，不能并入",
                                                     number=inv.number,
                                                     state=inv.state.label)})
    if case.officer_id is not None and inv.officer_id not in (None, case.officer_id):
        raise InvalidData({"investigation_number": _(
            "调查 %(number)s 针对的是另一名辅警，不能并入", number=inv.number)})
    conflicts = conflicts_of(inv.team_ids, None, [case.id])
    if conflicts:
        names = _("、").join(d.user.display_name for d in conflicts.values())
        raise InvalidData({"investigation_number": _(
            "调查组成员 %(names)s 已声明与本投诉存在利益冲突，请先调整调查组", names=names)})
    if inv.officer_id is None and case.officer_id is not None:
        # The complaint names the officer the investigation had not identified.
        inv.officer_id = case.officer_id
        inv.officer = case.officer
        _mandatory_suspension(inv, now)


# --- transition hooks ----------------------------------------------------------------------


def _team_hook(inv: Investigation, actor: Any, data: dict, now: dt.datetime) -> dict:
    complaint_ids = [c.id for c in linked_complaints(inv)]
    team = _check_team(inv.organ, inv.officer_id, complaint_ids, data.get("lead_id"),
                       data.get("assistant_ids"))
    return _set_team(inv, *team)


def _add_evidence(inv: Investigation, actor: Any, data: dict, now: dt.datetime) -> dict:
    errors: dict[str, str] = {}
    try:
        kind = EvidenceKind(data.get("evidence_kind"))
    except ValueError:
        kind = None
        errors["evidence_kind"] = _("请选择证据类型")
    title = str(data.get("evidence_title") or "").strip()
    if len(title) > 200:
        errors["evidence_title"] = _("证据名称不超过 200 字")
    recorder_ref = str(data.get("recorder_ref") or "").strip()
    if kind is EvidenceKind.RECORDER and not recorder_ref:
        errors["recorder_ref"] = _("执法记录仪视频须注明记录仪编号和起止时间")
    files: list[attachments.Upload] = data.get("files") or []
    if len(files) > 1:
        errors["files"] = _("每条证据记录只能附一个文件")
    checked = None
    for upload in files:
        mime, message = attachments.check(upload)
        if message:
            errors["files"] = message
        checked = (upload, mime)
    replaced = None
    if data.get("evidence_id"):
        # A corrected entry may name the superseded one it replaces.
        replaced = _entry(inv, data["evidence_id"])
        if replaced is None or replaced.superseded_at is None \
                or replaced.replaced_by_entry_id is not None:
            errors["evidence_id"] = _("只能替换本案已注明替代、尚未被替换的证据记录")
    if errors:
        raise InvalidData(errors)
    entry = EvidenceEntry(investigation_id=inv.id, kind=kind, title=title,
                          description=str(data.get("evidence_description") or "").strip(),
                          recorder_ref=recorder_ref, added_by_id=actor.id, added_at=now)
    if checked is not None:
        att = attachments.store(inv, checked[0], checked[1], user_id=actor.id,
                                from_public=False)
        db.session.flush()
        entry.attachment_id = att.id
    db.session.add(entry)
    db.session.flush()
    payload: dict[str, Any] = {"evidence_id": entry.id, "kind": kind.value, "title": title}
    if replaced is not None:
        replaced.replaced_by_entry_id = entry.id
        payload["replaces"] = replaced.id
    return payload


def _entry(inv: Investigation, value: Any) -> EvidenceEntry | None:
    try:
        entry = db.session.get(EvidenceEntry, int(value))
    except (TypeError, ValueError):
        return None
    return entry if entry is not None and entry.investigation_id == inv.id else None


def _supersede_evidence(inv: Investigation, actor: Any, data: dict, now: dt.datetime) -> dict:
    entry = _entry(inv, data.get("evidence_id"))
    if entry is None:
        raise InvalidData({"evidence_id": _("请选择本案的证据记录")})
    if entry.superseded_at is not None:
        raise InvalidData({"evidence_id": _("该证据记录已于 %(when)s 被替代",
                                            when=_local(entry.superseded_at))})
    entry.superseded_at = now
    entry.superseded_by_id = actor.id
    entry.superseded_reason = str(data["reason"]).strip()
    return {"evidence_id": entry.id, "title": entry.title}


def _local(moment: dt.datetime) -> str:
    from workflows.clocks import to_local

    return to_local(moment).strftime("%Y-%m-%d %H:%M")


def _request_suspension(inv: Investigation, actor: Any, data: dict, now: dt.datetime) -> dict:
    try:
        suspension = suspensions.open_request(inv, actor, str(data["reason"]).strip(), now)
    except suspensions.SuspensionExists as exc:
        raise IllegalTransition(exc.message) from None
    return {"suspension": suspension.number}


def _finding(data: dict, allowed: tuple[Finding, ...]) -> Finding:
    try:
        finding = Finding(data.get("complaint_finding"))
    except ValueError:
        finding = None
    if finding not in allowed:
        raise InvalidData({"complaint_finding": _("请选择：%(choices)s",
                                                  choices=_("、").join(f.label for f in allowed))})
    return finding


def _propose_cleared(inv: Investigation, actor: Any, data: dict, now: dt.datetime) -> dict:
    inv.complaint_finding = _finding(data, CLEARED_FINDINGS)
    inv.facts = str(data["facts"]).strip()
    inv.category_codes = []
    return {"finding": inv.complaint_finding.value, "facts": inv.facts}


def _codes(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    out = []
    for code in value or []:
        code = str(code).strip()
        if code and code not in out:
            out.append(code)
    return out


def _propose_violation(inv: Investigation, actor: Any, data: dict, now: dt.datetime) -> dict:
    finding = _finding(data, VIOLATION_FINDINGS)
    codes = _codes(data.get("category_codes"))
    known = {c.code for c in inv.pack.categories}
    if not codes or any(code not in known for code in codes):
        raise InvalidData({"category_codes": _("请从本地规定列举的违规行为中选择")})
    inv.complaint_finding = finding
    inv.facts = str(data["facts"]).strip()
    inv.category_codes = codes
    return {"finding": finding.value, "facts": inv.facts, "categories": codes}


def _approve_cleared(inv: Investigation, actor: Any, data: dict, now: dt.datetime) -> dict:
    handling = _("经调查，反映的问题%(finding)s，对该辅警不予处理。",
                 finding=inv.complaint_finding.label)
    return _conclude(inv, InvestigationState.CLEARED, handling, now)


def _approve_violation(inv: Investigation, actor: Any, data: dict, now: dt.datetime) -> dict:
    measures = inv.pack.rule("measures")
    handling = _("经调查，该辅警存在违规行为（%(categories)s），本机关将依照%(article)s"
                 "对其作出处理。", categories=_("、").join(c.label for c in inv.categories),
                 article=measures.citation.label)
    return _conclude(inv, InvestigationState.VIOLATION, handling, now)


def _conclude(inv: Investigation, outcome: InvestigationState, handling: str,
              now: dt.datetime) -> dict:
    """The approval's effects, in the approval's transaction: the complaints conclude with
    the investigation's finding and the officer's suspension ends (a request lapses)."""
    from oversight.services.workflow import fire

    inv.concluded_at = now
    payload: dict[str, Any] = {}
    concluded = []
    for complaint in linked_complaints(inv):
        if complaint.state is ComplaintState.INVESTIGATING:
            fire(complaint, "conclude_by_investigation", SystemActor(), {
                "finding": inv.complaint_finding.value, "facts": inv.facts,
                "handling": handling}, now=now)
            concluded.append(complaint.number)
    if concluded:
        payload["complaints"] = concluded
    reason = _("调查 %(number)s 已办结，结论为%(outcome)s", number=inv.number,
               outcome=outcome.label)
    for suspension in db.session.execute(
            sa.select(Suspension).where(Suspension.investigation_id == inv.id,
                                        Suspension.state.in_(HOLDING_STATES))).scalars():
        other = _continuing_investigation(inv) \
            if suspension.state is SuspensionState.ACTIVE else None
        if other is not None:
            # Mandatory suspension: another investigation into the officer still runs,
            # so the suspension goes on under it rather than ending with this one.
            suspension.investigation_id = other.id
            payload["suspension_continues"] = {"suspension": suspension.number,
                                               "investigation": other.number}
        elif suspension.state is SuspensionState.ACTIVE:
            fire(suspension, "lift_on_conclusion", SystemActor(), {"reason": reason}, now=now)
            payload["suspension_lifted"] = suspension.number
        else:
            fire(suspension, "lapse_request", SystemActor(), {"reason": reason}, now=now)
            payload["suspension_lapsed"] = suspension.number
    return payload


def _continuing_investigation(inv: Investigation) -> Investigation | None:
    if not inv.pack.suspension_mandatory or inv.officer_id is None:
        return None
    for other in db.session.execute(
            sa.select(Investigation).where(Investigation.officer_id == inv.officer_id,
                                           Investigation.id != inv.id,
                                           Investigation.state.in_(RUNNING_STATES))
            .order_by(Investigation.id)).scalars():
        if other.pack.suspension_mandatory:
            return other
    return None


def _record_clarification(inv: Investigation, actor: Any, data: dict,
                          now: dt.datetime) -> dict:
    inv.clarification = str(data["clarification"]).strip()
    inv.clarified_at = now
    return {"clarification": inv.clarification}


def _add_note(inv: Investigation, actor: Any, data: dict, now: dt.datetime) -> dict:
    return {"note": str(data["note"]).strip()}


# --- conflicts of interest ----------------------------------------------------------------


def declare_conflict(user: User, officer: Officer | None = None,
                     complaint: Complaint | None = None, reason: str = "",
                     now: dt.datetime | None = None) -> ConflictDeclaration:
    """An inspector declares a conflict of interest with an officer or with a complaint
    (its complainant). From then on they cannot be put on a team it concerns."""
    from oversight.models.base import utcnow

    if getattr(user, "role", None) is not Role.INSPECTOR:
        raise Forbidden(_("只有督察需要声明利益冲突"))
    errors: dict[str, str] = {}
    if (officer is None) == (complaint is None):
        errors["officer_badge"] = _("请填写辅警编号或投诉编号中的一项")
    elif officer is not None and not in_scope(user, officer.organ):
        errors["officer_badge"] = _("该辅警不在您的管辖范围内")
    elif complaint is not None and not can(user, "view", complaint):
        errors["complaint_number"] = _("未找到该投诉编号，或不在您的管辖范围内")
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = _("请写明存在利益冲突的情形")
    if errors:
        raise InvalidData(errors)
    party = (ConflictDeclaration.officer_id == officer.id if officer is not None
             else ConflictDeclaration.complaint_id == complaint.id)
    if db.session.execute(sa.select(ConflictDeclaration.id).where(
            ConflictDeclaration.user_id == user.id, party)).first():
        key = "officer_badge" if officer is not None else "complaint_number"
        raise InvalidData({key: _("您已声明过与此对象的利益冲突")})
    decl = ConflictDeclaration(user_id=user.id, officer_id=officer.id if officer else None,
                               complaint_id=complaint.id if complaint else None,
                               reason=reason, declared_at=now or utcnow())
    db.session.add(decl)
    db.session.flush()
    return decl


def conflicted_teams(decl: ConflictDeclaration) -> list[Investigation]:
    """Running investigations the declarer is already on that the conflict concerns: their
    leader should change the team."""
    q = sa.select(Investigation).where(Investigation.state.in_(RUNNING_STATES))
    if decl.officer_id is not None:
        q = q.where(Investigation.officer_id == decl.officer_id)
    else:
        q = q.where(Investigation.id.in_(sa.select(Complaint.investigation_id).where(
            Complaint.id == decl.complaint_id)))
    return [inv for inv in db.session.execute(q.order_by(Investigation.id)).scalars()
            if decl.user_id in inv.team_ids]


def _declarations(actor: Any, *columns: Any) -> sa.Select:
    """``columns`` of the declarations ``actor`` sees: an inspector their own, a leader
    those of the users of their subtree."""
    q = sa.select(*columns).select_from(ConflictDeclaration)
    if actor.role is Role.INSPECTOR:
        return q.where(ConflictDeclaration.user_id == actor.id)
    return (q.join(User, ConflictDeclaration.user_id == User.id)
            .join(Organ, User.organ_id == Organ.id)
            .where(Organ.path.startswith(actor.organ.path)))


def declaration_count(actor: Any) -> int:
    """How many declarations ``declarations_for`` lists, in one COUNT query."""
    return db.session.execute(
        _declarations(actor, sa.func.count(ConflictDeclaration.id))).scalar_one()


def declarations_for(actor: Any, *, limit: int | None = None, offset: int = 0
                     ) -> list[ConflictDeclaration]:
    """Newest first (ties by id), with the officers they name and, for a leader, who
    declared (the list shows them); ``limit`` from ``offset`` for a page."""
    q = (_declarations(actor, ConflictDeclaration)
         .options(sa.orm.selectinload(ConflictDeclaration.officer))
         .order_by(ConflictDeclaration.declared_at.desc(), ConflictDeclaration.id.desc()))
    if actor.role is not Role.INSPECTOR:
        q = q.options(sa.orm.contains_eager(ConflictDeclaration.user))
    if limit is not None:
        q = page_of(q, limit, offset)
    return list(db.session.execute(q).scalars())


registry.register(CaseTypeBinding(
    spec=INVESTIGATION,
    model=Investigation,
    number_prefix=NUMBER_PREFIX,
    identity_of=None,
    hooks={
        "assign_team": _team_hook,
        "change_team": _team_hook,
        "add_evidence": _add_evidence,
        "supersede_evidence": _supersede_evidence,
        "request_suspension": _request_suspension,
        "propose_cleared": _propose_cleared,
        "propose_violation": _propose_violation,
        "approve_cleared": _approve_cleared,
        "approve_violation": _approve_violation,
        "record_clarification": _record_clarification,
        "add_note": _add_note,
    },
))
