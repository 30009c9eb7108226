"""Admin pages. Access is checked once, for the whole blueprint."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from oversight.extensions import db
from oversight.models import MailOutbox, Officer, Organ, User
from oversight.services.access import can
from workflows.policy import get_packs

bp = Blueprint("admin", __name__)


@bp.before_request
def _admin_only():
    if not current_user.is_authenticated:
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
    if not can(current_user, "admin"):
        abort(403)
    return None


@bp.get("/")
def index():
    organs = list(db.session.execute(sa.select(Organ).order_by(Organ.path)).scalars())
    users = list(db.session.execute(
        sa.select(User).options(sa.orm.joinedload(User.organ)).order_by(User.id)).scalars())
    officers = list(db.session.execute(
        sa.select(Officer).options(sa.orm.joinedload(Officer.organ))
        .order_by(Officer.badge_no)).scalars())
    return render_template("admin/index.html", organs=organs, users=users, officers=officers,
                           packs=get_packs())


@bp.get("/outbox")
def outbox():
    rows = list(db.session.execute(
        sa.select(MailOutbox).order_by(MailOutbox.id.desc()).limit(200)).scalars())
    return render_template("admin/outbox.html", rows=rows)
