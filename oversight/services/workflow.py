"""Fire a transition: the only way any case changes state.

In one transaction (committed by the caller's unit of work) it checks role, organ scope,
version and guards, moves the state through the shared machine, applies the case type's
domain hook, starts and stops clocks, issues notices, appends the hash-chained event and
writes the search outbox row. Any failure leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from oversight.extensions import db
from oversight.models import CaseEvent, SearchOutbox
from oversight.models.base import utcnow
from oversight.services import clocks, events, notices, registry
from oversight.services.access import can
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData, StaleCase
from workflows.engine import GuardContext, Transition

REQUIRED_MESSAGE = _l("此项必填")


def available_actions(case: Any, actor: Any) -> list[Transition]:
    """Exactly the triggers this actor may fire on this case now (role, scope, state)."""
    spec = registry.spec_for(case)
    return [t for t in spec.available(case.state, actor.role)
            if can(actor, f"fire:{t.trigger}", case)]


class _GuardView:
    """The case as guards read it: each attribute read once, then remembered. A guard such
    as ``Complaint.extended`` or ``Investigation.conflicted_ids`` runs a query, and a case
    page asks every offered action's guards: remembered, each runs once per page instead
    of once per guard. Guards only read, so nothing they see can change meanwhile."""

    def __init__(self, case: Any):
        self._case = case
        self._seen: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        seen = self.__dict__["_seen"]
        if name not in seen:
            seen[name] = getattr(self.__dict__["_case"], name)
        return seen[name]


def refusal_reason(
    case: Any, trigger: str, actor: Any, data: dict, now: dt.datetime
) -> str | None:
    """Why this actor may not fire ``trigger`` now, or None. Checks in the order a person
    would want to hear them: permission, state, required data, guards, four-eyes."""
    return _refusal(case, trigger, actor, data, now, _GuardView(case), None)


def refusal_reasons(case: Any, transitions: list[Transition], actor: Any, now: dt.datetime,
                    history: list[CaseEvent] | None = None) -> dict[str, str | None]:
    """``refusal_reason`` with no data for each of ``transitions`` (the actions a case page
    offers): the guards see one remembered view of the case, and the four-eyes rule reads
    ``history`` (the case's events, oldest first) when the page has it already. A fixed
    number of queries however many actions there are."""
    view = _GuardView(case)
    return {t.trigger: _refusal(case, t.trigger, actor, {}, now, view, history)
            for t in transitions}


def _refusal(case: Any, trigger: str, actor: Any, data: dict, now: dt.datetime,
             view: _GuardView, history: list[CaseEvent] | None) -> str | None:
    spec = registry.spec_for(case)
    t = spec.transition(trigger)
    if t is None or not can(actor, f"fire:{trigger}", case):
        return Forbidden().message
    if case.state not in t.source:
        return _("案件当前状态为「%(state)s」，不能执行「%(action)s」",
                 state=case.state.label, action=t.label)
    ctx = GuardContext(case=view, data=data, now=now, pack=registry.binding_for(case)
                       .pack_of(case), actor_id=actor.id)
    for guard in t.guards:
        message = guard(ctx)
        if message:
            return message
    if t.not_by_actor_of and actor.id is not None:
        if history is not None:
            last = next((ev.actor_id for ev in reversed(history)
                         if ev.trigger == t.not_by_actor_of), None)
        else:
            last = db.session.execute(
                sa.select(CaseEvent.actor_id).where(
                    CaseEvent.case_type == case.case_type, CaseEvent.case_id == case.id,
                    CaseEvent.trigger == t.not_by_actor_of,
                ).order_by(CaseEvent.seq.desc()).limit(1)
            ).scalar()
        if last == actor.id:
            return _("提出人不能审批自己的意见")
    return None


def fire(
    case: Any,
    trigger: str,
    actor: Any,
    data: dict | None = None,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> CaseEvent:
    """Fire ``trigger`` on ``case`` for ``actor``. Raises a ServiceError and changes
    nothing when the action is not allowed, stale, incomplete or refused by a guard."""
    data = dict(data or {})
    now = now or utcnow()
    binding = registry.binding_for(case)
    spec = binding.spec
    t = spec.transition(trigger)
    if t is None or not can(actor, f"fire:{trigger}", case):
        raise Forbidden()
    if expected_version is not None and str(expected_version) != str(case.version):
        raise StaleCase()
    missing = {name: str(REQUIRED_MESSAGE) for name in t.needs
               if not str(data.get(name, "")).strip()}
    if missing:
        raise InvalidData(missing)
    refused = refusal_reason(case, trigger, actor, data, now)
    if refused:
        raise IllegalTransition(refused)

    try:
        event = _apply(case, t, binding, actor, data, now)
    except StaleDataError as exc:
        # Another request changed the case first (the version column did not match).
        raise StaleCase() from exc
    follow = binding.follow_up(case, trigger) if binding.follow_up else None
    if follow:
        from oversight.services.actors import SystemActor

        fire(case, follow, SystemActor(), now=now)
    return event


def rule_for(case: Any, key: str) -> Any:
    """The pack rule a table row's rule key means for this case (what its event cites)."""
    return registry.binding_for(case).rule(case, key)


def _apply(case: Any, t: Transition, binding: Any, actor: Any, data: dict,
           now: dt.datetime) -> CaseEvent:
    pack = binding.pack_of(case)
    from_state = case.state
    hook = binding.hooks.get(t.trigger)
    payload = hook(case, actor, data, now) if hook else {}
    if not t.internal:
        binding.spec.move(case, t.trigger)
    case.updated_at = now  # dirties the row so the version column always advances
    db.session.flush()  # the optimistic-lock check happens here, before anything else

    reason = str(data.get("reason", "")).strip()
    clocks.stop(case, t.stops, now)
    clocks.cancel(case, t.cancels, now)
    clocks.pause(case, t.pauses, now, reason)
    clocks.resume(case, t.resumes, now)
    for kind in t.starts:
        clocks.start(case, kind, pack, now)

    article = binding.rule(case, t.rule).citation.label if t.rule else ""
    notice = (notices.issue(case, t.notice, now, {"article": article, "reason": reason})
              if t.notice else None)
    if notice is not None:
        payload["notice"] = notice.number
    event = events.append(
        case_type=case.case_type,
        case_id=case.id,
        actor_id=actor.id,
        actor_role=actor.role,
        trigger=t.trigger,
        from_state=from_state.value,
        to_state=case.state.value,
        at=now,
        reason=reason,
        article=article,
        payload=payload,
        public=t.public,
    )
    _to_search_outbox(case, now)
    db.session.flush()
    return event


def open_case(case: Any, *, trigger: str, actor_id: int | None, role: Any, rule: str,
              now: dt.datetime, starts: tuple[str, ...] = (), notice: str | None = None,
              payload: dict | None = None, reason: str = "", public: bool = False
              ) -> CaseEvent:
    """Record how a new case came to be: the opening event (not a row of the state table:
    nothing moves), the clocks it starts, the notice it issues and its search outbox row,
    in the caller's transaction. Every case type opens through here."""
    binding = registry.binding_for(case)
    pack = binding.pack_of(case)
    payload = dict(payload or {})
    for kind in starts:
        clocks.start(case, kind, pack, now)
    article = binding.rule(case, rule).citation.label
    if notice is not None:
        issued = notices.issue(case, notice, now, {"article": article, "reason": reason})
        payload["notice"] = issued.number
    event = events.append(
        case_type=case.case_type, case_id=case.id, actor_id=actor_id, actor_role=role,
        trigger=trigger, from_state="", to_state=case.state.value, at=now, reason=reason,
        article=article, payload=payload, public=public, first=True,
    )
    _to_search_outbox(case, now)
    return event


def record_outbox(case: Any, now: dt.datetime) -> None:
    """Queue the case for the search index (for records written outside ``fire``)."""
    _to_search_outbox(case, now)


def _to_search_outbox(case: Any, now: dt.datetime) -> None:
    db.session.add(SearchOutbox(case_type=case.case_type, case_id=case.id, created_at=now))


def history(case: Any, public_only: bool = False) -> list[CaseEvent]:
    q = sa.select(CaseEvent).where(
        CaseEvent.case_type == case.case_type, CaseEvent.case_id == case.id
    )
    if public_only:
        q = q.where(CaseEvent.public.is_(True))
    return list(db.session.execute(q.order_by(CaseEvent.seq)).scalars())
