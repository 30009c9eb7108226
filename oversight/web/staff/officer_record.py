"""An officer's record as staff in scope and the officer themselves see it. No routes here:
the ``staff.me`` view and the officer pages both build on it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import render_template
from flask_login import current_user

from oversight.extensions import db
from oversight.models import Investigation, Notice, Officer, Recusal
from oversight.models.base import utcnow
from oversight.services import discipline, investigations, recoveries, suspensions
from oversight.services.access import can
from workflows.clocks import to_local
from workflows.recusal import RecusalState
from workflows.roles import Role


def officer_record(officer: Officer, actor: Any) -> dict:
    """What an officer's record shows this actor: duty status (derived), suspensions,
    granted recusals, clarifications and investigations it may see."""
    now = utcnow()
    own = actor.role is Role.OFFICER
    held = [s for s in suspensions.for_officer(officer.id) if can(actor, "view", s)]
    in_force = next((s for s in held if s.in_force(now)), None)
    invs = [] if own else [i for i in investigations.for_officer(officer.id)
                           if can(actor, "view", i)]
    cleared = [i for i in db.session.execute(
        sa.select(Investigation).where(Investigation.officer_id == officer.id,
                                       Investigation.clarified_at.is_not(None))
        .order_by(Investigation.clarified_at.desc())).scalars()]
    recusals = list(db.session.execute(
        sa.select(Recusal).where(Recusal.officer_id == officer.id,
                                 Recusal.state == RecusalState.GRANTED)
        .order_by(Recusal.decided_at.desc(), Recusal.id.desc())).scalars())
    decisions = [d for d in discipline.for_officer(officer.id) if can(actor, "view", d)]
    appeals = [a for a in discipline.appeals_for_officer(officer.id) if can(actor, "view", a)]
    recs = [r for r in recoveries.for_officer(officer.id) if can(actor, "view", r)]
    return {"officer": officer, "suspensions": held, "in_force": in_force,
            "investigations": invs, "clarified": cleared, "recusals": recusals,
            "decisions": decisions, "appeals": appeals, "recoveries": recs,
            "appeal_of": {a.decision_id: a for a in appeals},
            "revoked": [d for d in decisions if d.revoked_at is not None],
            "today": to_local(now).date(), "own": own, "now": now}


def notices_to(cases: list[Any]) -> list[Notice]:
    """Every notice issued on these cases (the officer's own matters), newest first."""
    by_type: dict[str, list[int]] = {}
    for c in cases:
        by_type.setdefault(c.case_type, []).append(c.id)
    if not by_type:
        return []
    # One "type = ? AND id IN (...)" per case type, not a row-value IN: SQLite walks the
    # (case_type, case_id) index for these, while it scanned every notice for the other.
    return list(db.session.execute(
        sa.select(Notice).where(sa.or_(*(
            sa.and_(Notice.case_type == case_type, Notice.case_id.in_(ids))
            for case_type, ids in sorted(by_type.items()))))
        .order_by(Notice.issued_at.desc(), Notice.id.desc())).scalars())


def me_page():
    """The officer's own record (rendered by the ``staff.me`` view)."""
    record = officer_record(current_user.officer, current_user)
    mine = record["suspensions"] + record["decisions"] + record["appeals"] \
        + record["recoveries"]
    return render_template("staff/me.html", notices=notices_to(mine), r=record, **record)
