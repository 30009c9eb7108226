"""Staff sessions: how one starts, when it ends on its own, and the second-factor gate.

A session carries two signed timestamps: when the user logged in (``auth_at``) and when they
were last seen (``seen_at``). A session idle for longer than ``SESSION_IDLE_MINUTES``, or
older than ``SESSION_MAX_HOURS`` since login, is ended on the server's word, whatever the
cookie's own lifetime: a cookie copied from a shared terminal dies with the timeout.
"""

from __future__ import annotations

import secrets
import time

from flask import Flask, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash

from oversight.services import second_factor

#: endpoints a signed-in user may reach before enrolling a required second factor
ENROLMENT_OPEN = frozenset({"staff.account_factor", "staff.logout", "staff.login",
                            "staff.login_factor"})
#: how often (seconds) ``seen_at`` is refreshed: not every request needs a new cookie
SEEN_RESOLUTION = 30
PENDING_KEY = "pending_factor"
PENDING_SECONDS = 300


def password_ok(user, password: str) -> bool:
    """Check a login's password. An unknown user name costs the same hashing work as a
    known one, so the answer's timing does not tell whether the account exists."""
    if user is not None:
        return user.check_password(password)
    dummy = current_app.extensions.get("oversight_dummy_hash")
    if dummy is None:
        from oversight.models import User

        probe = User()
        probe.set_password(secrets.token_urlsafe(16))
        dummy = current_app.extensions["oversight_dummy_hash"] = probe.password_hash
    check_password_hash(dummy, password)
    return False


def _now() -> int:
    return int(time.time())


def start_session(user) -> None:
    """A fresh session for ``user``: nothing from before the login carries over."""
    session.clear()
    login_user(user)
    now = _now()
    session["auth_at"] = session["seen_at"] = now


def begin_second_step(user, next_url: str) -> None:
    """Password accepted for an account with a second factor: remember who is half-way
    in (bound to the account's session nonce, for five minutes), nothing more."""
    session.clear()
    session[PENDING_KEY] = {"uid": user.id, "nonce": user.session_nonce,
                            "at": _now(), "next": next_url}


def pending_second_step() -> dict | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or _now() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    return pending


def _expired(now: int) -> bool:
    cfg = current_app.config
    auth_at, seen_at = session.get("auth_at"), session.get("seen_at")
    if not isinstance(auth_at, int) or not isinstance(seen_at, int):
        return True
    return (now - seen_at > cfg["SESSION_IDLE_MINUTES"] * 60
            or now - auth_at > cfg["SESSION_MAX_HOURS"] * 3600)


def _protected(endpoint: str | None) -> bool:
    return bool(endpoint) and endpoint.split(".", 1)[0] in ("staff", "admin")


def register(app: Flask) -> None:
    @app.before_request
    def _session_limits():
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        now = _now()
        if _expired(now):
            logout_user()
            session.clear()
            if not _protected(request.endpoint) or request.endpoint == "staff.login":
                return None
            flash(_("登录已超时，请重新登录"), "error")
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("staff.login", next=target))
        if now - session["seen_at"] >= SEEN_RESOLUTION:
            session["seen_at"] = now
        if (_protected(request.endpoint) and request.endpoint not in ENROLMENT_OPEN
                and second_factor.must_enrol(current_user)):
            # the enrolment page says why; no flash, or it would say it twice
            return redirect(url_for("staff.account_factor"))
        return None
