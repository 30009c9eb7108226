"""Session protection does not trust X-Forwarded-For. Flask-Login binds a session to
the client's address, and would read it from ``X-Forwarded-For`` when the header is
present; the app reads forwarded headers only through the configured number of proxies
(``PROXY_HOPS``, ProxyFix), so a client cannot choose the address its session is bound
to: a changed header does not make one connection look like two clients, and a replayed
cookie from elsewhere does not look like the victim's by copying the victim's address."""

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
