"""Admin pages. Access is checked once, for the whole blueprint."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from oversight import security_log
from oversight.extensions import db
from oversight.models import MailOutbox, Officer, Organ, User
from oversight.services import second_factor
from oversight.services.access import can
from oversight.services.uow import unit_of_work
from oversight.web.account_forms import FactorPolicyForm, ResetFactorForm
from workflows.policy import get_packs
from workflows.roles import Role

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


STAFF_ROLES = (Role.INTAKE, Role.INSPECTOR, Role.LEADER, Role.ADMIN, Role.OFFICER)


def _security_page(policy_form=None, reset_form=None, reset_user_id=None, status=200):
    if policy_form is None:
        policy_form = FactorPolicyForm()
        policy_form.roles.data = [r.value for r in second_factor.required_roles()]
    policy_form.roles.choices = [(r.value, r.label) for r in STAFF_ROLES]
    users = list(db.session.execute(
        sa.select(User).options(sa.orm.joinedload(User.organ)).order_by(User.id)).scalars())
    return render_template("admin/security.html", policy_form=policy_form,
                           reset_form=reset_form or ResetFactorForm(),
                           blank_reset=ResetFactorForm(formdata=None),
                           reset_user_id=reset_user_id, users=users,
                           counts=second_factor.enrolled_count(), roles=STAFF_ROLES,
                           required=second_factor.required_roles()), status


@bp.get("/security")
def security():
    return _security_page()


@bp.post("/security/policy")
def security_policy():
    form = FactorPolicyForm()
    form.roles.choices = [(r.value, r.label) for r in STAFF_ROLES]
    if not form.validate_on_submit():
        return _security_page(policy_form=form, status=400)
    with unit_of_work():
        second_factor.set_required_roles({Role(v) for v in form.roles.data},
                                         by=db.session.get(User, current_user.id))
    flash(_("两步验证要求已保存；相关角色未启用的账号将在下次操作时被要求启用"), "success")
    return redirect(url_for("admin.security"))


def _target(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/users/<int:user_id>/reset-factor")
def reset_factor(user_id: int):
    form = ResetFactorForm()
    if not form.validate_on_submit():
        return _security_page(reset_form=form, reset_user_id=user_id, status=400)
    with unit_of_work():
        user = _target(user_id)
        second_factor.remove(user, by=db.session.get(User, current_user.id),
                             reason=form.reason.data)
    flash(_("已重置 %(name)s 的两步验证，其现有登录均已失效", name=user.display_name), "success")
    return redirect(url_for("admin.security"))


@bp.post("/users/<int:user_id>/active")
def set_active(user_id: int):
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    if user_id == current_user.id:
        flash(_("不能停用自己的账号"), "error")
        return redirect(url_for("admin.security"))
    active = request.form.get("active") == "1"
    with unit_of_work():
        user = _target(user_id)
        user.active = active
        user.rotate_sessions()
        security_log.log("account_enabled" if active else "account_disabled",
                         user=user.id, by=current_user.id)
    flash(_("已启用账号 %(name)s", name=user.display_name) if active
          else _("已停用账号 %(name)s，其现有登录均已失效", name=user.display_name), "success")
    return redirect(url_for("admin.security"))
