"""A staff member's own account: the second login step, the password, the second factor.

Every wrong password or code here counts toward the same per-account lockout as the login
form (database counters, so it holds across workers): a stolen session cannot be used to
guess the password, and a stolen password cannot be used to guess codes.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from oversight import security_log
from oversight.extensions import db
from oversight.models import User
from oversight.models.base import utcnow
from oversight.services import second_factor, throttle
from oversight.services.uow import unit_of_work
from oversight.web import auth
from oversight.web.account_forms import CodeForm, PasswordChangeForm, RemoveFactorForm
from oversight.web.staff.views import bp

ENROL_KEY = "enrol_secret"


def _lock_key(username: str) -> str:
    return f"login:{username.strip().lower()}"


def _locked(username: str) -> bool:
    cfg = current_app.config
    return throttle.blocked(_lock_key(username), utcnow(), cfg["LOGIN_MAX_FAILURES"],
                            cfg["TRACK_WINDOW_SECONDS"])


def _failed(username: str) -> None:
    throttle.record_failure(_lock_key(username), utcnow(),
                            current_app.config["TRACK_WINDOW_SECONDS"])


@bp.route("/login/factor", methods=["GET", "POST"])
def login_factor():
    pending = auth.pending_second_step()
    if pending is None:
        session.pop(auth.PENDING_KEY, None)
        flash(_("验证已超时，请重新登录"), "error")
        return redirect(url_for("staff.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        with unit_of_work():
            user = db.session.get(User, pending["uid"])
            ok = (user is not None and user.active and user.session_nonce == pending["nonce"]
                  and not _locked(user.username)
                  and second_factor.verify(user, form.code.data))
            if user is not None and not ok:
                _failed(user.username)
                security_log.log("totp_refused", user=user.id)
            elif ok:
                throttle.clear(_lock_key(user.username))
        if ok:
            auth.start_session(user)
            return redirect(pending["next"])
        error = _("验证码不正确或已使用，或账号已被锁定，请稍后再试")
    status = 400 if request.method == "POST" else 200
    return render_template("staff/login_factor.html", form=form, error=error), status


def _account_page(password_form=None, remove_form=None, status=200):
    return render_template(
        "staff/account.html",
        password_form=password_form or PasswordChangeForm(username=current_user.username),
        remove_form=remove_form or RemoveFactorForm(),
        required=current_user.role in second_factor.required_roles(),
    ), status


@bp.get("/account")
def account():
    return _account_page()


@bp.post("/account/password")
def account_password():
    form = PasswordChangeForm(username=current_user.username)
    if not form.validate_on_submit():
        return _account_page(password_form=form, status=400)
    with unit_of_work():
        user = db.session.get(User, current_user.id)
        if _locked(user.username) or not user.check_password(form.current.data):
            _failed(user.username)
            ok = False
        else:
            user.set_password(form.new.data)  # every other session of this account ends
            security_log.log("password_changed", user=user.id)
            ok = True
    if not ok:
        form.current.errors = [_("当前密码不正确，或尝试次数过多已被暂时锁定")]
        return _account_page(password_form=form, status=400)
    auth.start_session(user)
    flash(_("密码已修改；其他设备上的登录已全部失效"), "success")
    return redirect(url_for("staff.account"))


@bp.route("/account/factor", methods=["GET", "POST"])
def account_factor():
    if current_user.totp_secret:
        return redirect(url_for("staff.account"))
    secret = session.get(ENROL_KEY)
    if not isinstance(secret, str) or len(secret) != 32:
        secret = session[ENROL_KEY] = second_factor.new_secret()
    form = CodeForm()
    if form.validate_on_submit():
        with unit_of_work():
            user = db.session.get(User, current_user.id)
            ok = not _locked(user.username) and second_factor.enrol(user, secret,
                                                                     form.code.data)
            if not ok:
                _failed(user.username)
        if ok:
            session.pop(ENROL_KEY, None)
            auth.start_session(user)  # the nonce changed: other sessions end, this one goes on
            flash(_("两步验证已启用；今后登录时须输入验证器应用中的验证码"), "success")
            return redirect(url_for("staff.account"))
        form.code.errors = [_("验证码不正确，请确认手机时间准确后输入最新的验证码")]
    uri = second_factor.provisioning_uri(current_user, secret)
    return render_template(
        "staff/account_factor.html", form=form, qr=second_factor.qr_svg(uri),
        secret=second_factor.grouped(secret),
        required=current_user.role in second_factor.required_roles(),
    ), 400 if request.method == "POST" else 200


@bp.post("/account/factor/remove")
def account_factor_remove():
    form = RemoveFactorForm()
    if current_user.role in second_factor.required_roles():
        flash(_("按本系统安全设置，您的角色必须使用两步验证，不能停用"), "error")
        return redirect(url_for("staff.account"))
    if not form.validate_on_submit():
        return _account_page(remove_form=form, status=400)
    with unit_of_work():
        user = db.session.get(User, current_user.id)
        ok = (not _locked(user.username) and user.check_password(form.password.data)
              and second_factor.verify(user, form.code.data))
        if ok:
            second_factor.remove(user, by=user, reason="self")
        else:
            _failed(user.username)
    if not ok:
        form.code.errors = [_("密码或验证码不正确，两步验证未停用")]
        return _account_page(remove_form=form, status=400)
    auth.start_session(user)
    flash(_("两步验证已停用"), "success")
    return redirect(url_for("staff.account"))

