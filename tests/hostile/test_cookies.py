"""The session cookie: never readable by script, not sent on cross-site subrequests, and
only over HTTPS when the public address is HTTPS (or when told)."""

from __future__ import annotations

import pytest
from helpers import make_app

from oversight.config import build_config


def session_cookie_header(app, demo) -> str:
    client = app.test_client()
    response = client.post("/staff/login", data={"username": "intake",
                                                 "password": demo["intake"]})
    assert response.status_code == 302
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return header


def test_the_session_cookie_is_httponly_and_samesite(app, demo):
    header = session_cookie_header(app, demo)
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header  # plain HTTP in tests: a Secure cookie would never return


def test_the_session_cookie_is_secure_over_https(app, demo, tmp_path):
    secure = make_app(tmp_path, SESSION_COOKIE_SECURE=True,
                      SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    assert "; Secure" in session_cookie_header(secure, demo)
    with secure.app_context():
        from oversight.extensions import db

        db.engine.dispose()


@pytest.mark.parametrize("env, secure", [
    ({"PUBLIC_BASE_URL": "https://ts.example.gov.cn"}, True),
    ({"PUBLIC_BASE_URL": "http://localhost:5000"}, False),
    ({"PUBLIC_BASE_URL": "https://ts.example.gov.cn", "OVERSIGHT_SECURE_COOKIES": "0"}, False),
    ({"OVERSIGHT_SECURE_COOKIES": "1"}, True),
])
def test_secure_cookies_follow_the_public_address(monkeypatch, tmp_path, env, secure):
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("OVERSIGHT_SECURE_COOKIES", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cfg = build_config({"INSTANCE_PATH": str(tmp_path / "i"), "SECRET_KEY": "k" * 40})
    assert cfg["SESSION_COOKIE_SECURE"] is secure
