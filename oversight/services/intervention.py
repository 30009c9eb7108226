"""Early intervention (预警): flag an officer whose accepted complaints pile up, so the
leaders of the officer's organ look at the pattern before a single case would make them.

Two rules, thresholds per organ (``InterventionRule``; the nearest ancestor's row applies,
else the defaults): ``threshold`` complaints within ``months`` calendar months, or two in
one category within the same window (only the organ's ``repeat_categories`` when it names
any). The rules are evaluated when a complaint is accepted, inside the accepting unit of
work, so a flag, its mails and the acceptance are saved together or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from oversight.extensions import db
from oversight.models import (
    CaseEvent,
    Complaint,
    InterventionRule,
    MailOutbox,
    Officer,
    OfficerFlag,
    Organ,
    User,
)
from oversight.services.access import can, scope_filter
from oversight.services.errors import Forbidden, IllegalTransition, InvalidData
from oversight.storage import page_of
from workflows.clocks import LOCAL_TZ, add_months, to_local
from workflows.complaint import ComplaintState
from workflows.policy import PolicyError
from workflows.roles import Role

DEFAULT_THRESHOLD = 3
DEFAULT_MONTHS = 12
#: the repeat rule: this many complaints in one category within the window
REPEAT_COUNT = 2
#: bounds of what an organ may set (the table's CHECK enforces the lower ones too)
THRESHOLD_RANGE = (2, 99)
MONTHS_RANGE = (1, 120)
#: how long a cleared flag stays on the leaders' list
RECENTLY_CLEARED_DAYS = 90

KIND_COUNT = "count"
KIND_REPEAT = "repeat"

#: A complaint in one of these states is not counted on its own: a transferred one goes
#: on as the receiving organ's new complaint (which counts when that organ accepts it), a
#: merged one is a duplicate of the case it joined (which counts). Either way the same
#: matter would otherwise count twice.
_CONTINUED_ELSEWHERE = (ComplaintState.TRANSFERRED, ComplaintState.MERGED)


@dataclass(frozen=True)
class Thresholds:
    """The rule that applies to an organ, and whose row it is (None: the defaults)."""

    threshold: int
    months: int
    repeat_categories: tuple[str, ...]
    source: Organ | None

    def repeats(self, category_code: str) -> bool:
        return not self.repeat_categories or category_code in self.repeat_categories


@dataclass(frozen=True)
class Counted:
    """A complaint as the rules count it: accepted at ``accepted_at``."""

    complaint: Complaint
    accepted_at: dt.datetime


def _chain(organ: Organ) -> list[int]:
    return [int(part) for part in (organ.path or "").strip("/").split("/") if part] \
        or [organ.id]


def thresholds_for(organ: Organ) -> Thresholds:
    """The organ's own row, else the nearest ancestor's (``path`` is "/1/4/9/"), else the
    defaults (3 in 12 months, any category)."""
    return thresholds_of([organ])[organ.id]


def thresholds_of(organs: list[Organ]) -> dict[int, Thresholds]:
    """``thresholds_for`` of several organs, by id: one query for all their rows (and one
    for the organs whose rows apply, unless already loaded)."""
    chains = {organ.id: _chain(organ) for organ in organs}
    wanted = {oid for chain in chains.values() for oid in chain}
    rows = {row.organ_id: row for row in db.session.execute(
        sa.select(InterventionRule).where(InterventionRule.organ_id.in_(wanted))).scalars()}
    applying = {}
    for organ_id, chain in chains.items():
        applying[organ_id] = next((rows[a] for a in reversed(chain) if a in rows), None)
    sources = {row.organ_id for row in applying.values() if row is not None}
    source_organs = {o.id: o for o in db.session.execute(
        sa.select(Organ).where(Organ.id.in_(sources))).scalars()} if sources else {}
    return {organ_id: Thresholds(row.threshold, row.months, tuple(row.repeat_categories or ()),
                                 source_organs[row.organ_id])
            if row is not None else Thresholds(DEFAULT_THRESHOLD, DEFAULT_MONTHS, (), None)
            for organ_id, row in applying.items()}


def window_start(now: dt.datetime, months: int) -> dt.datetime:
    """The start of the counting window: midnight (Beijing time) of the calendar day
    ``months`` months before the local date of ``now``. 31 March back one month is 28 or
    29 February (``add_months`` clamps to the month's last day)."""
    first_day = add_months(to_local(now).date(), -months)
    return dt.datetime.combine(first_day, dt.time(), tzinfo=LOCAL_TZ).astimezone(dt.UTC)


def counted_complaints(officer: Officer, now: dt.datetime, months: int,
                       trigger_complaint: Complaint | None = None) -> list[Counted]:
    """The complaints that count against ``officer`` at ``now``, oldest first.

    A complaint counts when it names this officer (``officer_id``), was accepted (受理: the
    complaint has an ``accept`` event in its hash-chained log, so one refused, withdrawn
    before acceptance or still waiting does not count, while one withdrawn or concluded
    after acceptance still does) and that acceptance falls in the window: from
    ``window_start(now, months)`` up to ``now``. Transferred and merged complaints are
    left out (see ``_CONTINUED_ELSEWHERE``). The finding does not matter: the pattern of
    complaints is the signal, not their outcome.

    ``trigger_complaint`` is the complaint being accepted right now: its ``accept`` event
    is written only after the domain hook runs, so it is counted as accepted at ``now``.
    """
    since = window_start(now, months)
    first_accept = (
        sa.select(CaseEvent.case_id, sa.func.min(CaseEvent.at).label("accepted_at"))
        .where(CaseEvent.case_type == Complaint.case_type, CaseEvent.trigger == "accept",
               CaseEvent.case_id.in_(
                   sa.select(Complaint.id).where(Complaint.officer_id == officer.id)))
        .group_by(CaseEvent.case_id).subquery()
    )
    rows = db.session.execute(
        sa.select(Complaint, first_accept.c.accepted_at)
        .join(first_accept, first_accept.c.case_id == Complaint.id)
        .where(Complaint.state.not_in(_CONTINUED_ELSEWHERE),
               first_accept.c.accepted_at >= since, first_accept.c.accepted_at <= now)
    ).all()
    counted = {complaint.id: Counted(complaint, at) for complaint, at in rows}
    if trigger_complaint is not None and trigger_complaint.officer_id == officer.id \
            and trigger_complaint.state not in _CONTINUED_ELSEWHERE:
        counted.setdefault(trigger_complaint.id, Counted(trigger_complaint, now))
    return sorted(counted.values(), key=lambda c: (c.accepted_at, c.complaint.id))


def evaluate(officer: Officer | None, now: dt.datetime,
             trigger_complaint: Complaint | None = None) -> list[OfficerFlag]:
    """Apply the officer's organ's rules at ``now``; return the flags raised (often none).

    A flag is not raised while one of the same kind (and, for repeats, category) is open.
    Once it is cleared, the complaints it listed still count within the window, so the
    next qualifying acceptance raises a new flag: clearing says "looked at", not "reset".
    Only the category of the complaint being accepted is checked for repeats, since no
    other category's count changed. Runs in the caller's transaction; never commits."""
    if officer is None:
        return []
    # Two acceptances about one officer at once must not both raise the same flag: take
    # the officer's row lock first (PostgreSQL; SQLite already serialises writers).
    db.session.execute(sa.select(Officer.id).where(Officer.id == officer.id)
                       .with_for_update())
    rule = thresholds_for(officer.organ)
    counted = counted_complaints(officer, now, rule.months, trigger_complaint)
    open_keys = {(f.kind, f.category_code) for f in open_flags_of(officer)}
    raised = []
    if len(counted) >= rule.threshold and (KIND_COUNT, "") not in open_keys:
        raised.append(_raise(officer, KIND_COUNT, "", counted, now))
    if trigger_complaint is not None and trigger_complaint.officer_id == officer.id:
        code = trigger_complaint.category_code
        same = [c for c in counted if c.complaint.category_code == code]
        if rule.repeats(code) and len(same) >= REPEAT_COUNT \
                and (KIND_REPEAT, code) not in open_keys:
            raised.append(_raise(officer, KIND_REPEAT, code, same, now))
    if raised:
        db.session.flush()
        _queue_mail(officer, raised, counted, now)
    return raised


def _raise(officer: Officer, kind: str, category_code: str, counted: list[Counted],
           now: dt.datetime) -> OfficerFlag:
    flag = OfficerFlag(officer_id=officer.id, organ_id=officer.organ_id, kind=kind,
                       category_code=category_code,
                       complaint_ids=[c.complaint.id for c in counted], flagged_at=now)
    db.session.add(flag)
    return flag


def open_flags_of(officer: Officer) -> list[OfficerFlag]:
    return list(db.session.execute(
        sa.select(OfficerFlag).where(OfficerFlag.officer_id == officer.id,
                                     OfficerFlag.cleared_at.is_(None))
        .order_by(OfficerFlag.id)).scalars())


# --- what a flag says ------------------------------------------------------------------------


def category_label(pack: Any, code: str) -> str:
    try:
        return pack.category(code).label
    except PolicyError:  # a code another pack used (a transferred complaint keeps its own)
        return code


def describe(flag: OfficerFlag, rule: Thresholds | None = None) -> str:
    """The flag's reason in one line, with the thresholds as they are now (``rule``: those
    of the flag's organ, when the caller has them already)."""
    organ = db.session.get(Organ, flag.organ_id)
    rule = rule or thresholds_for(organ)
    count = len(flag.complaint_ids or [])
    if flag.kind == KIND_REPEAT:
        return _("%(months)s个月内同类投诉 %(n)s 件（%(category)s）", months=rule.months,
                 n=count, category=category_label(organ.pack, flag.category_code))
    return _("%(months)s个月内被投诉 %(n)s 件（预警线 %(threshold)s 件）", months=rule.months,
             n=count, threshold=rule.threshold)


def accepted_dates(complaint_ids: list[int]) -> dict[int, dt.datetime]:
    """When each of these complaints was accepted, from their event logs."""
    if not complaint_ids:
        return {}
    return dict(db.session.execute(
        sa.select(CaseEvent.case_id, sa.func.min(CaseEvent.at))
        .where(CaseEvent.case_type == Complaint.case_type, CaseEvent.trigger == "accept",
               CaseEvent.case_id.in_(complaint_ids))
        .group_by(CaseEvent.case_id)).all())


def complaints_of(flags: list[OfficerFlag]) -> dict[int, Complaint]:
    """The complaints these flags list, by id, with their organs (their pack names the
    category; scope is checked against them)."""
    ids = {cid for f in flags for cid in (f.complaint_ids or [])}
    if not ids:
        return {}
    return {c.id: c for c in db.session.execute(
        sa.select(Complaint).where(Complaint.id.in_(ids))
        .options(sa.orm.selectinload(Complaint.organ))).scalars()}


def flag_organs(flags: list[OfficerFlag]) -> dict[int, Organ]:
    """The organs these flags belong to, by id, in one query."""
    ids = {f.organ_id for f in flags}
    if not ids:
        return {}
    return {o.id: o for o in db.session.execute(
        sa.select(Organ).where(Organ.id.in_(ids))).scalars()}


def _queue_mail(officer: Officer, raised: list[OfficerFlag], counted: list[Counted],
                now: dt.datetime) -> None:
    """Tell each active leader of the officer's organ who has an email address. The mail
    names complaints by number, category and date only: never a complainant."""
    leaders = list(db.session.execute(
        sa.select(User).where(User.organ_id == officer.organ_id, User.role == Role.LEADER,
                              User.active.is_(True), User.email != "")
        .order_by(User.id)).scalars())
    if not leaders:
        return
    listed = {cid for flag in raised for cid in flag.complaint_ids}
    lines = [_("%(number)s　%(category)s　%(date)s 受理", number=c.complaint.number,
               category=category_label(c.complaint.pack, c.complaint.category_code),
               date=to_local(c.accepted_at).strftime("%Y-%m-%d"))
             for c in counted if c.complaint.id in listed]
    subject = _("辅警预警：%(badge)s %(name)s", badge=officer.badge_no, name=officer.name)
    body = "\n".join([
        _("辅警 %(badge)s %(name)s（%(organ)s）触发早期预警：", badge=officer.badge_no,
          name=officer.name, organ=officer.organ.full_name),
        *("· " + describe(flag) for flag in raised),
        "",
        _("涉及的投诉："),
        *lines,
        "",
        _("请登录辅警监督系统，在“辅警预警”页面查看并处理。"),
    ])
    for leader in leaders:
        db.session.add(MailOutbox(recipient=leader.email.strip(), subject=subject, body=body,
                                  created_at=now))


# --- leaders' list, clearing, settings -----------------------------------------------------


def _listed(actor: Any, now: dt.datetime) -> Any:
    """The leaders' list: open flags in the actor's subtree and those cleared in the last
    ``RECENTLY_CLEARED_DAYS`` days."""
    recent = now - dt.timedelta(days=RECENTLY_CLEARED_DAYS)
    return sa.and_(scope_filter(actor, OfficerFlag.organ_id),
                   sa.or_(OfficerFlag.cleared_at.is_(None), OfficerFlag.cleared_at >= recent))


def flag_counts(actor: Any, now: dt.datetime) -> tuple[int, int]:
    """(all, open) of the flags ``flags_for`` lists, in one COUNT query."""
    if not can(actor, "manage_flags", actor.organ):
        return 0, 0
    total, still_open = db.session.execute(
        sa.select(sa.func.count(OfficerFlag.id),
                  sa.func.count(sa.case((OfficerFlag.cleared_at.is_(None), OfficerFlag.id))))
        .where(_listed(actor, now))).one()
    return total, still_open


def _open_first(column: Any) -> Any:
    return sa.case((column.is_(None), 0), else_=1)


def flag_position(actor: Any, now: dt.datetime, flag_id: int) -> int | None:
    """Where flag ``flag_id`` stands in ``flags_for``'s order (0 first), or None when the
    list does not hold it: a link to one flag opens the page it is on."""
    if not can(actor, "manage_flags", actor.organ):
        return None
    flag = db.session.execute(sa.select(OfficerFlag.cleared_at, OfficerFlag.flagged_at)
                              .where(OfficerFlag.id == flag_id, _listed(actor, now))).first()
    if flag is None:
        return None
    bucket = 0 if flag.cleared_at is None else 1
    before = sa.or_(
        _open_first(OfficerFlag.cleared_at) < bucket,
        sa.and_(_open_first(OfficerFlag.cleared_at) == bucket, sa.or_(
            OfficerFlag.flagged_at > flag.flagged_at,
            sa.and_(OfficerFlag.flagged_at == flag.flagged_at, OfficerFlag.id > flag_id))))
    return db.session.execute(sa.select(sa.func.count(OfficerFlag.id))
                              .where(_listed(actor, now), before)).scalar_one()


def flags_for(actor: Any, now: dt.datetime, *, limit: int | None = None,
              offset: int = 0) -> list[OfficerFlag]:
    """Open flags in the actor's subtree, then those cleared in the last
    ``RECENTLY_CLEARED_DAYS`` days; newest first within each, ties by id. ``limit`` flags
    from ``offset`` for a page."""
    if not can(actor, "manage_flags", actor.organ):
        return []
    q = (sa.select(OfficerFlag).where(_listed(actor, now))
         .options(sa.orm.joinedload(OfficerFlag.officer).joinedload(Officer.organ))
         .order_by(_open_first(OfficerFlag.cleared_at), OfficerFlag.flagged_at.desc(),
                   OfficerFlag.id.desc()))
    if limit is not None:
        q = page_of(q, limit, offset)
    return list(db.session.execute(q).scalars())


def flags_on_record(actor: Any, officer: Officer) -> list[OfficerFlag]:
    """Every flag of this officer (open first), for a leader whose subtree holds it."""
    flags = list(db.session.execute(
        sa.select(OfficerFlag).where(OfficerFlag.officer_id == officer.id)
        .order_by(OfficerFlag.flagged_at.desc(), OfficerFlag.id.desc())).scalars())
    organs = {o.id: o for o in db.session.execute(
        sa.select(Organ).where(Organ.id.in_({f.organ_id for f in flags}))).scalars()} \
        if flags else {}
    mine = [f for f in flags if can(actor, "manage_flags", organs[f.organ_id])]
    return [f for f in mine if f.cleared_at is None] + \
        [f for f in mine if f.cleared_at is not None]


def open_count(actor: Any) -> int:
    if not can(actor, "manage_flags", actor.organ):
        return 0
    return db.session.execute(
        # count(*), not count(id): the open flags' partial index answers it alone
        sa.select(sa.func.count()).select_from(OfficerFlag).where(
            scope_filter(actor, OfficerFlag.organ_id), OfficerFlag.cleared_at.is_(None))
    ).scalar_one()


def clear(flag: OfficerFlag, actor: Any, note: str, now: dt.datetime) -> None:
    """Clear a flag with the leader's note of what was looked at or done."""
    if not can(actor, "manage_flags", db.session.get(Organ, flag.organ_id)):
        raise Forbidden()
    if flag.cleared_at is not None:
        raise IllegalTransition(_("该预警已于 %(when)s 解除",
                                  when=to_local(flag.cleared_at).strftime("%Y-%m-%d %H:%M")))
    note = (note or "").strip()
    if not note:
        raise InvalidData({"note": _("请填写解除预警的说明（已了解的情况或采取的措施）")})
    if len(note) > 2000:
        raise InvalidData({"note": _("说明请不超过 2000 字")})
    flag.cleared_at, flag.cleared_by_id, flag.clear_note = now, actor.id, note


def _whole_number(value: Any, low: int, high: int, message: str, field: str,
                  errors: dict[str, str]) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        errors[field] = message
        return None
    return number


def configure(organ: Organ, actor: Any, threshold: Any, months: Any,
              repeat_categories: list[str], now: dt.datetime) -> InterventionRule:
    """Set an organ's thresholds. The organ's own leaders or an admin may; categories
    must come from the organ's pack. Applies from the next acceptance on: flags already
    raised stay as they are."""
    if not can(actor, "configure_intervention", organ):
        raise Forbidden()
    errors: dict[str, str] = {}
    n = _whole_number(threshold, *THRESHOLD_RANGE,
                      _("请填写 %(low)s 到 %(high)s 之间的整数", low=THRESHOLD_RANGE[0],
                        high=THRESHOLD_RANGE[1]), "threshold", errors)
    m = _whole_number(months, *MONTHS_RANGE,
                      _("请填写 %(low)s 到 %(high)s 之间的整数", low=MONTHS_RANGE[0],
                        high=MONTHS_RANGE[1]), "months", errors)
    codes = [c.code for c in organ.pack.categories]
    chosen = list(dict.fromkeys(str(c) for c in repeat_categories or []))
    if any(c not in codes for c in chosen):
        errors["repeat_categories"] = _("请从本机关适用的投诉类别中选择")
    if errors:
        raise InvalidData(errors)
    row = db.session.get(InterventionRule, organ.id)
    if row is None:
        row = InterventionRule(organ_id=organ.id, created_at=now)
        db.session.add(row)
    row.threshold, row.months, row.updated_at = n, m, now
    row.repeat_categories = [c for c in codes if c in chosen]  # the pack's order
    return row
