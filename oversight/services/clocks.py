"""Start and stop the statutory clocks a transition names, from the organ's pack."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from oversight.extensions import db
from oversight.models import CaseClock, ClockOutcome
from workflows.clocks import due_at


def start(case: Any, kind: str, pack: Any, now: dt.datetime) -> CaseClock:
    limit = pack.limit(kind)
    clock = CaseClock(
        case_type=case.case_type,
        case_id=case.id,
        kind=kind,
        started_at=now,
        due_at=due_at(now, limit.amount, limit.unit.value),
        amount=limit.amount,
        unit=limit.unit.value,
        citation=limit.citation.label,
    )
    db.session.add(clock)
    return clock


def running(case: Any, kinds: tuple[str, ...] | None = None) -> list[CaseClock]:
    q = sa.select(CaseClock).where(
        CaseClock.case_type == case.case_type,
        CaseClock.case_id == case.id,
        CaseClock.outcome == ClockOutcome.RUNNING,
    )
    if kinds is not None:
        q = q.where(CaseClock.kind.in_(kinds))
    return list(db.session.execute(q).scalars())


def stop(case: Any, kinds: tuple[str, ...], now: dt.datetime) -> None:
    """Stop clocks whose duty was done: met if on time, breached if late."""
    for clock in running(case, kinds):
        clock.stopped_at = now
        clock.outcome = ClockOutcome.MET if now <= clock.due_at else ClockOutcome.BREACHED


def cancel(case: Any, kinds: tuple[str, ...], now: dt.datetime) -> None:
    """End clocks whose duty fell away (withdrawn, transferred, merged)."""
    for clock in running(case, kinds):
        clock.stopped_at = now
        clock.outcome = ClockOutcome.CANCELLED


def for_case(case: Any) -> list[CaseClock]:
    return list(
        db.session.execute(
            sa.select(CaseClock)
            .where(CaseClock.case_type == case.case_type, CaseClock.case_id == case.id)
            .order_by(CaseClock.started_at, CaseClock.id)
        ).scalars()
    )
