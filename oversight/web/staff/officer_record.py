"""An officer's record as staff in scope and the officer themselves see it. No routes here:
the ``staff.me`` view and the officer pages both build on it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import render_template
from flask_login import current_user

from oversight.extensions import db
from oversight.models import Investigation, Officer, Recusal
from oversight.models.base import utcnow
from oversight.services import investigations, suspensions
from oversight.services.access import can
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
    return {"officer": officer, "suspensions": held, "in_force": in_force,
            "investigations": invs, "clarified": cleared, "recusals": recusals,
            "own": own, "now": now}


def me_page():
    """The officer's own record (rendered by the ``staff.me`` view)."""
    return render_template("staff/me.html",
                           **officer_record(current_user.officer, current_user))
