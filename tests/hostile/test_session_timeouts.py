"""Staff sessions end on their own: after SESSION_IDLE_MINUTES without a request, and
SESSION_MAX_HOURS after login however busy; a cookie without the server's timestamps is
not a session. The clock is the server's: the timestamps are in the signed cookie."""

from __future__ import annotations

import pytest
from helpers import login, make_complaint

from oversight.extensions import db
from oversight.web import auth
from workflows.complaint import ComplaintState

HOME = "/staff/"


@pytest.fixture
def clock(monkeypatch):
    now = [auth._now()]
    monkeypatch.setattr(auth, "_now", lambda: now[0])

    def advance(seconds: int) -> None:
        now[0] += seconds

    return advance


def test_an_idle_session_ends(app, demo, clock):
    client = app.test_client()
    login(client, demo, "inspector")
    clock(app.config["SESSION_IDLE_MINUTES"] * 60 - 5)
    assert client.get(HOME).status_code == 200  # still inside the window: it is refreshed
    clock(app.config["SESSION_IDLE_MINUTES"] * 60 - 5)
    assert client.get(HOME).status_code == 200
    clock(app.config["SESSION_IDLE_MINUTES"] * 60 + 1)
    response = client.get("/staff/deadlines")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login?next=/staff/deadlines"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "登录已超时" in page
    # the old cookie does not come back to life
    assert client.get(HOME).status_code == 302


def test_a_busy_session_still_ends_after_the_absolute_limit(app, demo, clock):
    client = app.test_client()
    login(client, demo, "inspector")
    step = app.config["SESSION_IDLE_MINUTES"] * 60 // 2
    for _i in range(app.config["SESSION_MAX_HOURS"] * 3600 // step):
        clock(step)
        assert client.get(HOME).status_code == 200
    clock(step)
    assert client.get(HOME).status_code == 302


def test_a_post_after_the_timeout_writes_nothing(app, demo, clock):
    complaint, _code = make_complaint()
    client = app.test_client()
    login(client, demo, "intake")
    clock(app.config["SESSION_IDLE_MINUTES"] * 60 + 1)
    response = client.post(f"/staff/complaints/{complaint.id}/accept",
                           data={"version": str(complaint.version)})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    db.session.rollback()
    assert complaint.state is ComplaintState.SUBMITTED


def test_a_cookie_without_timestamps_is_not_a_session(app, demo):
    client = app.test_client()
    login(client, demo, "inspector")
    with client.session_transaction() as sess:
        del sess["auth_at"]
    assert client.get(HOME).status_code == 302


def test_a_timed_out_staff_member_can_still_read_public_pages(app, demo, clock):
    client = app.test_client()
    login(client, demo, "inspector")
    clock(app.config["SESSION_IDLE_MINUTES"] * 60 + 1)
    assert client.get("/").status_code == 200
    assert client.get(HOME).status_code == 302


def test_the_limits_are_configurable(app, demo, clock):
    app.config["SESSION_IDLE_MINUTES"] = 5
    client = app.test_client()
    login(client, demo, "inspector")
    clock(5 * 60 + 1)
    assert client.get(HOME).status_code == 302
