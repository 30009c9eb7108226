"""PENDING (kept out of CI until fixed): session protection trusts X-Forwarded-For.

Flask-Login builds the session identifier from ``X-Forwarded-For`` when the header is
present (``flask_login.utils._get_remote_addr``), and the app has no ProxyFix or other
rule for which proxy to trust. So a client chooses the address its session is bound to:
the same connection looks like two clients by changing the header, and a replayed cookie
from elsewhere looks like the victim's by copying the victim's address into it."""

from __future__ import annotations

from oversight.extensions import login_manager

UA = {"User-Agent": "Mozilla/5.0 (hostile test)"}


def identifier(app, remote: str, forwarded: str | None) -> str:
    headers = dict(UA)
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    with app.test_request_context("/staff/", headers=headers,
                                  environ_base={"REMOTE_ADDR": remote}):
        return login_manager._session_identifier_generator()


def test_a_spoofed_header_does_not_change_who_the_client_is(app):
    assert identifier(app, "10.0.0.2", None) == identifier(app, "10.0.0.2", "10.0.0.1")


def test_a_spoofed_header_does_not_make_a_thief_look_like_the_victim(app):
    assert identifier(app, "10.0.0.1", None) != identifier(app, "10.0.0.2", "10.0.0.1")
