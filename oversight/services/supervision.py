"""Supervision of deadlines: the due-soon and overdue list of an organ's subtree, the 督办
an upper organ issues on a case with a deadline, and the reminders ``oversight deadlines``
sends. Every case type's running clocks count; nothing here is per type.

A 督办 is recorded on the case's hash-chained event log, shown on the case page and on the
handling organ's queue, and mailed to the handling organ's inspectors and leaders who have
an email address. Reminders are recorded per clock, kind and due date, so running the
command twice (or from two hosts at once) sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from oversight.extensions import db
from oversight.models import (
    CaseClock,
    ClockOutcome,
    ClockReminder,
    MailOutbox,
    Organ,
    Supervision,
    User,
)
from oversight.services import events, organs, registry
from oversight.services.access import CASE_ROLES, can, scope_filter
from oversight.services.errors import Forbidden, InvalidData
from oversight.storage import insert_ignoring_conflict, page_of
from workflows.clocks import to_local
from workflows.roles import Role

#: A running clock due within this many days is "due soon".
SOON_DAYS = 3
HANDLER_ROLES = (Role.INSPECTOR, Role.LEADER)


@dataclass(frozen=True)
class DueRow:
    clock: CaseClock
    case: Any

    def overdue(self, now: dt.datetime) -> bool:
        return self.clock.due_at < now


def _listed(actor: Any, now: dt.datetime, soon_days: int, organ: Organ | None,
            overdue_only: bool) -> Any:
    """The condition on ``CaseClock`` of the list: running, unpaused, due by the horizon,
    and its case in the subtree (``organ``'s, when given).

    A clock carries its case's organ (a case's organ never changes), so the condition is
    on the clock alone, and the index (outcome, organ_id, paused_at, due_at) answers it:
    the count reads index entries only, and the page reads the first clocks by due date.
    (Asking each clock's case for its organ made the count of a city bureau's list visit
    22,000 cases at 1M.)"""
    horizon = now if overdue_only else now + dt.timedelta(days=soon_days)
    where = [CaseClock.outcome == ClockOutcome.RUNNING, CaseClock.paused_at.is_(None),
             CaseClock.due_at <= horizon, scope_filter(actor, CaseClock.organ_id)]
    if organ is not None:
        where.append(organs.in_subtree(CaseClock.organ_id, organ.path))
    return sa.and_(*where)


def due_count(actor: Any, now: dt.datetime, *, soon_days: int = SOON_DAYS,
              organ: Organ | None = None, overdue_only: bool = False) -> int:
    """How many rows ``due_rows`` lists, in one COUNT query."""
    return db.session.execute(
        sa.select(sa.func.count(CaseClock.id))
        .where(_listed(actor, now, soon_days, organ, overdue_only))).scalar_one()


def due_rows(actor: Any, now: dt.datetime, *, soon_days: int = SOON_DAYS,
             organ: Organ | None = None, overdue_only: bool = False,
             limit: int | None = None, offset: int = 0) -> list[DueRow]:
    """Running, unpaused clocks of the cases in the actor's subtree (or ``organ``'s, when
    it is inside it) due within ``soon_days`` or already past due, soonest (most overdue)
    first, ties by clock id; ``limit`` rows from ``offset`` for a page. One query for the
    clocks, then one per case type for their cases (with the organ each list row names),
    the same number however many rows or types the page has."""
    q = (sa.select(CaseClock).where(_listed(actor, now, soon_days, organ, overdue_only))
         .order_by(CaseClock.due_at, CaseClock.id))
    if limit is not None:
        q = page_of(q, limit, offset)
    clocks = list(db.session.execute(q).scalars())
    if not clocks:
        return []
    cases: dict[tuple[str, int], Any] = {}
    for name in registry.case_types():
        model = registry.binding_for(name).model
        ids = {c.case_id for c in clocks if c.case_type == name}
        for case in db.session.execute(
                sa.select(model).where(model.id.in_(ids))
                .options(sa.orm.joinedload(model.organ))).scalars():
            cases[name, case.id] = case
    return [DueRow(clock, cases[clock.case_type, clock.case_id]) for clock in clocks
            if (clock.case_type, clock.case_id) in cases]


# --- 督办 ---------------------------------------------------------------------------------


def for_case(case: Any) -> list[Supervision]:
    return list(db.session.execute(
        sa.select(Supervision).where(Supervision.case_type == case.case_type,
                                     Supervision.case_id == case.id)
        .order_by(Supervision.issued_at, Supervision.id)).scalars())


def open_for(actor: Any) -> list[Supervision]:
    """Unanswered 督办 addressed to the actor's organ (the handler's to-do)."""
    if getattr(actor, "role", None) not in CASE_ROLES:
        return []
    return list(db.session.execute(
        sa.select(Supervision).where(Supervision.handler_organ_id == actor.organ_id,
                                     Supervision.acknowledged_at.is_(None))
        .order_by(Supervision.deadline, Supervision.id)).scalars())


def case_of(supervision: Supervision) -> Any:
    return db.session.get(registry.binding_for(supervision.case_type).model,
                          supervision.case_id)


def _handlers(organ_id: int) -> list[User]:
    return list(db.session.execute(
        sa.select(User).where(User.organ_id == organ_id, User.active.is_(True),
                              User.role.in_(HANDLER_ROLES))
        .order_by(User.id)).scalars())


def _mail(users: list[User], subject: str, body: str, now: dt.datetime) -> int:
    sent = 0
    for user in users:
        if user.email:
            db.session.add(MailOutbox(recipient=user.email, subject=subject, body=body,
                                      created_at=now))
            sent += 1
    return sent


def _record(case: Any, actor: Any, trigger: str, reason: str, payload: dict,
            now: dt.datetime) -> None:
    """The 督办 and its answer go on the case's own hash-chained log (and its search
    document, which indexes event reasons)."""
    from oversight.services.workflow import record_outbox

    events.append(case_type=case.case_type, case_id=case.id, actor_id=actor.id,
                  actor_role=actor.role, trigger=trigger, from_state=case.state.value,
                  to_state=case.state.value, at=now, reason=reason, article="",
                  payload=payload, public=False)
    record_outbox(case, now)


def parse_deadline(text: str, now: dt.datetime) -> dt.datetime:
    """A deadline typed as a date: the end of that day, Beijing time; not in the past."""
    from workflows.clocks import LOCAL_TZ

    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidData({"deadline": _("请填写办结期限，格式如 2026-12-31")}) from None
    if day < to_local(now).date():
        raise InvalidData({"deadline": _("督办期限不能早于今天")})
    return dt.datetime.combine(day, dt.time(23, 59, 59), LOCAL_TZ).astimezone(dt.UTC)


def issue(actor: Any, case: Any, *, deadline: str, text: str, now: dt.datetime
          ) -> Supervision:
    """An upper organ's leader urges the handling organ on a case of its subtree."""
    if not can(actor, "supervise", case):
        raise Forbidden(_("只有上级机关的领导可以督办下级机关的案件"))
    errors = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = _("请写明督办要求")
    try:
        due = parse_deadline(deadline, now)
    except InvalidData as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidData(errors)
    supervision = Supervision(case_type=case.case_type, case_id=case.id,
                              organ_id=actor.organ_id, issued_by_id=actor.id, issued_at=now,
                              handler_organ_id=case.organ_id, deadline=due, text=text)
    db.session.add(supervision)
    db.session.flush()
    _record(case, actor, "supervise", text,
            {"supervision": supervision.id, "deadline": due.isoformat(),
             "by_organ": actor.organ_id}, now)
    subject = _("督办：%(number)s 请于 %(date)s 前办理", number=case.number,
                date=to_local(due).strftime("%Y-%m-%d"))
    body = _("%(organ)s 对案件 %(number)s（%(type)s）督办：\n%(text)s\n\n"
             "请于 %(date)s 前办理并在系统中回复。", organ=actor.organ.full_name,
             number=case.number, type=registry.spec_for(case).label, text=text,
             date=to_local(due).strftime("%Y-%m-%d"))
    _mail(_handlers(case.organ_id), subject, body, now)
    return supervision


def acknowledge(actor: Any, supervision: Supervision, response: str, now: dt.datetime
                ) -> None:
    """The handling organ answers a 督办 (what it did, what it will do by when)."""
    case = case_of(supervision)
    if not can(actor, "answer_supervision", case) or actor.organ_id != supervision.handler_organ_id:
        raise Forbidden(_("只有承办机关的人员可以回复督办"))
    if supervision.acknowledged_at is not None:
        raise InvalidData({"response": _("该督办已回复")})
    response = (response or "").strip()
    if not response:
        raise InvalidData({"response": _("请填写办理情况")})
    supervision.acknowledged_at, supervision.acknowledged_by_id = now, actor.id
    supervision.response = response
    _record(case, actor, "answer_supervision", response, {"supervision": supervision.id}, now)


# --- reminders ---------------------------------------------------------------------------


def send_reminders(now: dt.datetime, soon_days: int = SOON_DAYS) -> dict[str, int]:
    """Remind the handling organ of every running clock due soon or overdue, once per
    clock, kind and due date. Safe to run from cron, twice, or from two hosts."""
    horizon = now + dt.timedelta(days=soon_days)
    counts = {"due_soon": 0, "overdue": 0, "mails": 0}
    clocks = list(db.session.execute(
        sa.select(CaseClock).where(CaseClock.outcome == ClockOutcome.RUNNING,
                                   CaseClock.paused_at.is_(None), CaseClock.due_at <= horizon)
        .order_by(CaseClock.due_at, CaseClock.id)).scalars())
    for clock in clocks:
        kind = "overdue" if clock.due_at < now else "due_soon"
        table = ClockReminder.__table__
        # The unique (clock, kind, due date) row is the claim: whoever inserts it sends.
        if not insert_ignoring_conflict(db.session, table, clock_id=clock.id, kind=kind,
                                        due_at=clock.due_at, sent_at=now, recipients=0):
            continue
        case = db.session.get(registry.binding_for(clock.case_type).model, clock.case_id)
        date = to_local(clock.due_at).strftime("%Y-%m-%d %H:%M")
        subject = (_("已超期：%(number)s %(clock)s（%(date)s 到期）", number=case.number,
                     clock=clock.label, date=date) if kind == "overdue" else
                   _("即将到期：%(number)s %(clock)s（%(date)s 前）", number=case.number,
                     clock=clock.label, date=date))
        body = _("%(type)s %(number)s（%(organ)s）的“%(clock)s”期限%(state)s：%(date)s。\n"
                 "依据：%(cite)s", type=registry.spec_for(case).label, number=case.number,
                 organ=case.organ.full_name, clock=clock.label,
                 state=_("已于以下时间届满") if kind == "overdue" else _("将于以下时间届满"),
                 date=date, cite=clock.citation)
        mails = _mail(_handlers(case.organ_id), subject, body, now)
        db.session.execute(table.update().where(
            table.c.clock_id == clock.id, table.c.kind == kind,
            table.c.due_at == clock.due_at).values(recipients=mails))
        counts[kind] += 1
        counts["mails"] += mails
    return counts
