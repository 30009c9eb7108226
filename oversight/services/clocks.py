"""Start, stop, pause, resume and extend the statutory clocks a transition names, from the
organ's pack. A clock keeps the due date its limit first gave (``base_due_at``), the days an
extension added and every pause, so an auditor can rebuild its due date by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from oversight.extensions import db
from oversight.models import CaseClock, ClockOutcome
from workflows.clocks import due_at


def start(case: Any, kind: str, pack: Any, now: dt.datetime) -> CaseClock:
    limit = pack.limit(kind)
    due = due_at(now, limit.amount, limit.unit.value)
    clock = CaseClock(
        case_type=case.case_type,
        case_id=case.id,
        organ_id=case.organ_id,
        kind=kind,
        started_at=now,
        due_at=due,
        base_due_at=due,
        pauses=[],
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
    """Stop clocks whose duty was done: met if on time, breached if late. A clock stopped
    while paused is resumed first (the pause ends with it)."""
    for clock in running(case, kinds):
        if clock.paused_at is not None:
            _resume(clock, now)
        clock.stopped_at = now
        clock.outcome = ClockOutcome.MET if now <= clock.due_at else ClockOutcome.BREACHED


def pause(case: Any, kinds: tuple[str, ...], now: dt.datetime, reason: str = "") -> None:
    """Stop the time counting (a hearing under 信访工作条例 第三十六条 is not counted)."""
    for clock in running(case, kinds):
        if clock.paused_at is None:
            clock.paused_at = now
            # The open interval is kept with its reason; resuming closes it.
            clock.pauses = [*(clock.pauses or []), {"from": now.isoformat(), "to": None,
                                                    "reason": reason}]


def resume(case: Any, kinds: tuple[str, ...], now: dt.datetime) -> None:
    for clock in running(case, kinds):
        if clock.paused_at is not None:
            _resume(clock, now)


def _resume(clock: CaseClock, now: dt.datetime) -> None:
    """End the pause: the due date moves by exactly the time paused, and the interval is
    closed on the clock."""
    clock.due_at = clock.due_at + (now - clock.paused_at)
    intervals = [dict(i) for i in clock.pauses or []]
    if intervals and intervals[-1].get("to") is None:
        intervals[-1]["to"] = now.isoformat()
    clock.pauses = intervals
    clock.paused_at = None


def paused(case: Any, kind: str) -> bool:
    return any(c.paused_at is not None for c in running(case, (kind,)))


def extend(case: Any, kind: str, days: int) -> CaseClock | None:
    """Add ``days`` calendar days to the running clock ``kind`` (an approved extension)."""
    for clock in running(case, (kind,)):
        clock.due_at = clock.due_at + dt.timedelta(days=days)
        clock.extended_days = (clock.extended_days or 0) + days
        return clock
    return None


def extended(case: Any, kind: str) -> bool:
    """Whether any clock ``kind`` of the case (running or not) was ever extended."""
    return db.session.execute(sa.select(sa.func.count(CaseClock.id)).where(
        CaseClock.case_type == case.case_type, CaseClock.case_id == case.id,
        CaseClock.kind == kind, CaseClock.extended_days > 0)).scalar() > 0


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
