"""A forced exception shows the generic page with a reference id (the same id is logged
with the traceback) and nothing of the error itself; the security headers are on error
pages and on file downloads."""

from __future__ import annotations

import logging
import re

import pytest
from helpers import PNG_BYTES, Upload, login, make_complaint
from hostile_helpers import attachments_of, download

SECRET = "SECRET-DETAIL postgresql://oversight:hunter2@db/oversight"


def boom(*_args, **_kwargs):
    raise RuntimeError(SECRET)


@pytest.fixture
def failing(app, monkeypatch):
    """Exceptions reach the app's 500 handler (as in production), and two real routes
    (public and staff) fail deep inside a service."""
    from oversight.services import stats

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(stats, "transparency_figures", boom)
    monkeypatch.setattr(stats, "dashboard_figures", boom)
    return app


def assert_security_headers(response) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, csp
    assert "script-src 'self'" in csp or "default-src 'none'" in csp, csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer",
                                                        "strict-origin-when-cross-origin")


@pytest.mark.parametrize("who", [None, "leader"])
def test_a_forced_exception_shows_the_generic_page_with_a_reference(failing, demo, caplog,
                                                                     who):
    client = failing.test_client()
    path = "/transparency"
    if who:
        login(client, demo, who)
        path = "/staff/stats"
    with caplog.at_level(logging.ERROR):
        response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    found = re.search(r"<code>([0-9a-f]{8,})</code>", html)
    assert found, html
    for leak in (SECRET, "hunter2", "RuntimeError", "Traceback", 'File "', "oversight/"):
        assert leak not in html, leak
    assert_security_headers(response)
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_security_headers_on_error_pages(app, demo, monkeypatch):
    client = app.test_client()
    responses = {"404": client.get("/no-such-page"), "405": client.get("/staff/logout")}
    login(client, demo, "intake")
    responses["404-staff"] = client.get("/staff/complaints/999999")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    responses["413"] = app.test_client().post("/track", data={"number": "x" * 4096})
    for name, response in responses.items():
        assert response.status_code == int(name[:3]), name
        assert_security_headers(response)


def test_security_headers_on_the_500_page(failing):
    response = failing.test_client().get("/transparency")
    assert response.status_code == 500
    assert_security_headers(response)


def test_download_headers_refuse_sniffing_and_rendering(app, demo):
    complaint, _code = make_complaint(files=[Upload("现场.png", PNG_BYTES)])
    response = download(app, demo, attachments_of(complaint)[0])
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
