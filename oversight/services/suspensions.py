"""Duty suspensions (暂停履行职责): opening one, the domain effects of the suspension state
table's transitions, and the officer's duty status, which is derived from these records
and stored nowhere else.

A suspension opens in one of two ways, both tied to an investigation: automatically and
already active where the pack makes suspension mandatory during an investigation (云南
第三十二条), or as a request by an inspector of the team that a leader other than the
requester approves. At most one suspension per officer is open (requested or active): a
partial unique index enforces it, so two concurrent investigations cannot both open one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import g, has_app_context
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from oversight.extensions import db
from oversight.models import Suspension
from oversight.models.investigation import AppealOutcome, Investigation
from oversight.services import clocks, numbering, registry, workflow
from oversight.services.actors import SystemActor
from oversight.services.errors import IllegalTransition
from oversight.services.registry import CaseTypeBinding
from workflows.clocks import due_at
from workflows.investigation import CONCLUDED, InvestigationState
from workflows.roles import Role
from workflows.suspension import HOLDING_STATES, SUSPENSION, SuspensionState

NUMBER_PREFIX = "TZ"
MAX_KEY = "suspension_max"


class SuspensionExists(IllegalTransition):
    """The officer already has an open (requested or active) suspension."""

    def __init__(self, existing: Suspension):
        super().__init__(_("辅警 %(badge)s %(name)s 已有待审批或执行中的暂停履职"
                           "（%(number)s，%(state)s），不能重复暂停",
                           badge=existing.officer.badge_no, name=existing.officer.name,
                           number=existing.number, state=existing.state.label))
        self.existing = existing


# --- queries -----------------------------------------------------------------------------


def open_suspension_of(officer_id: int) -> Suspension | None:
    """The officer's one open (requested or active) suspension, if any."""
    return db.session.execute(
        sa.select(Suspension).where(Suspension.officer_id == officer_id,
                                    Suspension.state.in_(HOLDING_STATES))
    ).scalar_one_or_none()


def suspended_officer_ids(now: dt.datetime) -> set[int]:
    """Officers whose duties are suspended at ``now``: an active suspension whose term has
    not run out. Derived on every call, never stored."""
    return set(db.session.execute(
        sa.select(Suspension.officer_id).where(Suspension.state == SuspensionState.ACTIVE,
                                               Suspension.ends_at > now)
    ).scalars())


def is_suspended(officer: Any, now: dt.datetime | None = None) -> bool:
    """Whether ``officer`` is suspended now. In a request the set is read once and cached
    on ``flask.g``, so a page listing many officers costs one query."""
    if officer is None:
        return False
    from oversight.models.base import utcnow

    if now is not None or not has_app_context():
        return officer.id in suspended_officer_ids(now or utcnow())
    cached = g.get("_suspended_officer_ids")
    if cached is None:
        cached = g._suspended_officer_ids = suspended_officer_ids(utcnow())
    return officer.id in cached


def for_officer(officer_id: int) -> list[Suspension]:
    """Newest first, with their organs (whoever views them is checked against it)."""
    return list(db.session.execute(
        sa.select(Suspension).where(Suspension.officer_id == officer_id)
        .options(sa.orm.selectinload(Suspension.organ))
        .order_by(Suspension.created_at.desc(), Suspension.id.desc())
    ).scalars())


# --- opening -----------------------------------------------------------------------------


def _insert(suspension: Suspension) -> Suspension:
    """Insert under a savepoint. A concurrent transaction that opened the officer's
    suspension first makes the unique index refuse this row: the savepoint is rolled back,
    the caller's transaction stays usable, and SuspensionExists names the one that won."""
    try:
        with db.session.begin_nested():
            db.session.add(suspension)
    except IntegrityError:
        existing = open_suspension_of(suspension.officer_id)
        if existing is None:
            raise
        raise SuspensionExists(existing) from None
    return suspension


def open_automatic(inv: Investigation, now: dt.datetime) -> Suspension:
    """Suspend the investigated officer, by the system, because the pack makes it mandatory
    for the duration of the investigation. Raises SuspensionExists when the officer already
    has an open suspension (the caller decides what that means)."""
    existing = open_suspension_of(inv.officer_id)
    if existing is not None:
        raise SuspensionExists(existing)
    pack = inv.pack
    limit = pack.limit(MAX_KEY)
    suspension = _insert(Suspension(
        number=numbering.next_number(NUMBER_PREFIX, now), organ_id=inv.organ_id,
        state=SuspensionState.ACTIVE, officer_id=inv.officer_id, investigation_id=inv.id,
        automatic=True,
        reason=_("因涉嫌违法违纪被调查（调查编号 %(number)s），调查期间暂停履行职责",
                 number=inv.number),
        started_at=now, ends_at=due_at(now, limit.amount, limit.unit.value),
        created_at=now, updated_at=now,
    ))
    workflow.open_case(suspension, trigger="suspend_automatically", actor_id=None,
                       role=Role.SYSTEM, rule="suspension", now=now, starts=(MAX_KEY,),
                       notice="decision", reason=suspension.reason,
                       payload={"investigation": inv.number, "automatic": True})
    return suspension


def open_request(inv: Investigation, actor: Any, reason: str, now: dt.datetime) -> Suspension:
    """An inspector of the team asks that the officer's duties be suspended; a leader other
    than the requester decides (the table's four-eyes rule reads this opening event)."""
    existing = open_suspension_of(inv.officer_id)
    if existing is not None:
        raise SuspensionExists(existing)
    suspension = _insert(Suspension(
        number=numbering.next_number(NUMBER_PREFIX, now), organ_id=inv.organ_id,
        state=SuspensionState.REQUESTED, officer_id=inv.officer_id, investigation_id=inv.id,
        automatic=False, reason=reason, created_at=now, updated_at=now,
    ))
    workflow.open_case(suspension, trigger="request", actor_id=actor.id, role=actor.role,
                       rule="suspension", now=now, reason=suspension.reason,
                       payload={"investigation": inv.number})
    return suspension


# --- transition hooks ----------------------------------------------------------------------


def _approve(case: Suspension, actor: Any, data: dict, now: dt.datetime) -> dict:
    limit = case.pack.limit(MAX_KEY)
    case.started_at = now
    # The same arithmetic as the suspension_max clock the transition starts.
    case.ends_at = due_at(now, limit.amount, limit.unit.value)
    return {"ends_at": case.ends_at.isoformat()}


def _end(case: Suspension, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.ended_at = now
    return {}


def _expire(case: Suspension, actor: Any, data: dict, now: dt.datetime) -> dict:
    # The suspension ended when its term ran out, whenever the sweep notices: the officer
    # was no longer suspended after ends_at (see suspended_officer_ids). The maximum term
    # was kept, so its clock is met at that moment, not breached by a late sweep.
    case.ended_at = min(now, case.ends_at)
    clocks.stop(case, (MAX_KEY,), case.ended_at)
    return {"ended_at": case.ended_at.isoformat()}


def _appeal(case: Suspension, actor: Any, data: dict, now: dt.datetime) -> dict:
    # A 申诉 is recorded and decided; it never pauses the suspension.
    case.appeal_text = str(data["reason"]).strip()
    case.appeal_at = now
    return {}


def _dismiss_appeal(case: Suspension, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.appeal_outcome = AppealOutcome.UPHELD
    case.appeal_decided_at = now
    return {"outcome": AppealOutcome.UPHELD.value}


def _revoke_on_appeal(case: Suspension, actor: Any, data: dict, now: dt.datetime) -> dict:
    case.appeal_outcome = AppealOutcome.REVOKED
    case.appeal_decided_at = now
    if case.ended_at is None:
        case.ended_at = now
    return {"outcome": AppealOutcome.REVOKED.value}


# --- sweeping ------------------------------------------------------------------------------


def sweep_expired(now: dt.datetime) -> list[str]:
    """Fire ``expire`` on every active suspension whose term has run out at ``now``.
    Returns their numbers. Runs in the caller's unit of work."""
    from oversight.services.workflow import fire

    due = list(db.session.execute(
        sa.select(Suspension).where(Suspension.state == SuspensionState.ACTIVE,
                                    Suspension.ends_at <= now)
        .order_by(Suspension.ends_at, Suspension.id)
    ).scalars())
    for suspension in due:
        fire(suspension, "expire", SystemActor(), now=now)
    return [s.number for s in due]


# --- notices ------------------------------------------------------------------------------

#: The hooks of an investigation's approval run before it moves: read its outcome ahead.
_OUTCOME_OF_PENDING = {
    InvestigationState.CLEARANCE_PENDING: InvestigationState.CLEARED,
    InvestigationState.VIOLATION_PENDING: InvestigationState.VIOLATION,
}


def investigation_outcome(inv: Investigation | None) -> InvestigationState | None:
    """The conclusion of the suspension's investigation: concluded, or being approved."""
    if inv is None:
        return None
    if inv.state in CONCLUDED:
        return inv.state
    return _OUTCOME_OF_PENDING.get(inv.state) if inv.concluded_at is not None else None


def notice_context(case: Suspension, kind: str, now: dt.datetime) -> dict:
    pack = case.pack
    limit = pack.limit(MAX_KEY)
    inv = case.investigation
    return {
        "organ": case.organ,
        "pack": pack,
        "suspension": case,
        "officer": case.officer,
        "investigation": inv,
        "outcome": investigation_outcome(inv),
        "finding": inv.complaint_finding if inv is not None else None,
        #: ended because its maximum term ran out (``expire``), not lifted early
        "expired": case.ended_at is not None and case.ends_at is not None
        and case.ended_at >= case.ends_at,
        "limit": limit,
        #: the maximum is the national rule for 人民警察, applied to 辅警 by analogy (参照)
        "limit_by_analogy": limit.citation.national,
        "rules": {key: pack.rule(key) for key in ("suspension", "appeal_right")},
        "recipient_email": "",
    }


registry.register(CaseTypeBinding(
    spec=SUSPENSION,
    model=Suspension,
    number_prefix=NUMBER_PREFIX,
    identity_of=None,
    hooks={
        "approve": _approve,
        "lift": _end,
        "lift_on_conclusion": _end,
        "expire": _expire,
        "appeal": _appeal,
        "dismiss_appeal": _dismiss_appeal,
        "revoke_on_appeal": _revoke_on_appeal,
    },
    notice_context=notice_context,
))
