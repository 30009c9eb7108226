"""Blueprints by audience, plus the request plumbing they share."""

from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa
from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from oversight.extensions import db, login_manager
from oversight.web import auth, filters


def _session_identifier() -> str:
    agent = request.headers.get("User-Agent", "")
    return hashlib.sha512(f"{request.remote_addr}|{agent}".encode()).hexdigest()


def register_web(app: Flask) -> None:
    # Route modules add to their blueprint on import: they must load before registration.
    import oversight.web.public.recusals  # noqa: F401
    import oversight.web.public.transparency  # noqa: F401
    import oversight.web.staff.account  # noqa: F401
    import oversight.web.staff.consequences  # noqa: F401
    import oversight.web.staff.intervention  # noqa: F401
    import oversight.web.staff.investigations  # noqa: F401
    import oversight.web.staff.recusals  # noqa: F401
    import oversight.web.staff.search  # noqa: F401
    import oversight.web.staff.stats  # noqa: F401
    import oversight.web.staff.supervision  # noqa: F401
    from oversight.web.admin.views import bp as admin_bp
    from oversight.web.public.views import bp as public_bp
    from oversight.web.staff.views import bp as staff_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(staff_bp, url_prefix="/staff")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    filters.register(app)

    login_manager.login_view = "staff.login"
    login_manager.login_message = _l("请先登录")
    login_manager.localize_callback = str  # flash a plain string, never a lazy one
    login_manager.session_protection = "basic"
    # Flask-Login ties a session to the X-Forwarded-For header a client sends; tie it to
    # the address the server saw instead (ProxyFix rewrites it when PROXY_HOPS is set).
    login_manager._session_identifier_generator = _session_identifier

    @login_manager.user_loader
    def _load_user(session_id: str):
        from oversight.models import User

        user_id, _sep, nonce = session_id.partition(":")
        if not user_id.isdigit():
            return None
        # with its organ: every signed-in page names it (the nav) or scopes by it
        user = db.session.get(User, int(user_id), options=[sa.orm.joinedload(User.organ)])
        if user is None or not user.active or user.session_nonce != nonce:
            return None
        return user

    # A request reads in a plain transaction; its writes go through unit_of_work, which
    # begins its own (BEGIN IMMEDIATE on SQLite: see oversight.storage).
    auth.register(app)

    @app.after_request
    def _headers(response):
        csp = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint and (request.endpoint.startswith("staff.")
                                 or request.endpoint.startswith("public.track")
                                 or request.endpoint.startswith("public.new_")):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def _csrf(e):
        return render_template("errors/400.html",
                               message=_("页面已过期或来源无效，请返回上一页刷新后重新提交。")), 400

    @app.errorhandler(404)
    def _not_found(_e):
        return render_template("errors/404.html"), 404

    @app.errorhandler(403)
    def _forbidden(_e):
        return render_template("errors/403.html"), 403

    @app.errorhandler(429)
    def _too_many(_e):
        response = app.make_response((render_template("errors/429.html"), 429))
        response.headers["Retry-After"] = str(app.config["SUBMIT_WINDOW_SECONDS"])
        return response

    @app.errorhandler(413)
    def _too_large(_e):
        return render_template("errors/413.html"), 413

    @app.errorhandler(500)
    def _server_error(_e):
        ref = uuid.uuid4().hex[:12]
        app.logger.exception("unhandled error ref=%s", ref)
        return render_template("errors/500.html", ref=ref), 500
