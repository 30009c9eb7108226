"""CSRF: every state-changing route refuses a request without a token, or with a token
of another session, and writes nothing. And no GET route writes anything, for any user."""

from __future__ import annotations

import re

import pytest
from helpers import login, make_complaint
from hostile_helpers import SEGMENTS, every_case_type, notices_of, row_counts
from webhelpers import csrf_token

LOGIN = "/staff/login"


def login_with_token(client, demo, username: str) -> None:
    token = csrf_token(client.get(LOGIN).get_data(as_text=True))
    response = client.post(LOGIN, data={"username": username, "password": demo[username],
                                        "csrf_token": token})
    assert response.status_code == 302, username


def concrete(rule, values: dict) -> str | None:
    """The rule's path with every argument filled from ``values``, or None."""
    path = rule.rule
    for arg in rule.arguments:
        if arg not in values:
            return None
        path = re.sub(r"<(?:[^:>]+:)?" + arg + ">", str(values[arg]), path)
    return path


def routes(app, method: str, values: dict) -> list[str]:
    out = []
    for rule in app.url_map.iter_rules():
        if method in rule.methods and rule.endpoint != "static":
            path = concrete(rule, values)
            if path is not None:
                out.append(path)
    return sorted(set(out))


def url_values(complaint) -> dict:
    return {"segment": "complaints", "case_id": complaint.id, "trigger": "accept",
            "supervision_id": 1, "flag_id": 1, "file_id": 1, "officer_id": 1, "user_id": 1,
            "number": notices_of(complaint)[0].number if notices_of(complaint)
            else "GZ2026000001", "pack_id": "beijing-2022", "case_type": "complaint"}


@pytest.fixture
def world(demo):
    """A complaint (the URL arguments point at it) and, for the GET sweep, every type."""
    complaint, _code = make_complaint()
    return {"complaint": complaint}, url_values(complaint)


@pytest.fixture
def full_world(demo):
    cases = every_case_type()
    return cases, url_values(cases["complaint"])


def test_every_post_route_is_covered(csrf_app, world):
    _cases, values = world
    unsafe = [r for r in csrf_app.url_map.iter_rules()
              if r.methods & {"POST", "PUT", "PATCH", "DELETE"}]
    assert all(concrete(r, values) for r in unsafe), [r.rule for r in unsafe]


@pytest.mark.parametrize("username", [None, "intake"])
def test_no_token_no_change(csrf_app, demo, world, username):
    _cases, values = world
    client = csrf_app.test_client()
    if username:
        login_with_token(client, demo, username)
    before = row_counts()
    for path in routes(csrf_app, "POST", values):
        response = client.post(path, data={"version": "1", "reason": "跨站请求",
                                           "username": "intake", "password": demo["intake"]})
        assert response.status_code == 400, path
        assert "页面已过期或来源无效" in response.get_data(as_text=True), path
    assert row_counts() == before


def test_a_token_from_another_session_is_refused(csrf_app, demo, world):
    _cases, values = world
    victim, attacker = csrf_app.test_client(), csrf_app.test_client()
    login_with_token(victim, demo, "intake")
    login_with_token(attacker, demo, "inspector")
    stolen = csrf_token(attacker.get(f"/staff/complaints/{values['case_id']}")
                        .get_data(as_text=True))
    before = row_counts()
    for path in routes(csrf_app, "POST", values):
        response = victim.post(path, data={"csrf_token": stolen, "version": "1",
                                           "reason": "跨站请求"})
        assert response.status_code == 400, path
    anonymous = csrf_app.test_client()
    public_token = csrf_token(csrf_app.test_client().get("/track").get_data(as_text=True))
    for path in ("/track", "/complaints/new", "/recusals/new", LOGIN):
        assert anonymous.post(path, data={"csrf_token": public_token}).status_code == 400
    assert row_counts() == before


def test_the_right_token_works(csrf_app, demo, world):
    """The control: the same request with this session's own token is accepted."""
    complaint, _code = make_complaint()
    client = csrf_app.test_client()
    login_with_token(client, demo, "intake")
    token = csrf_token(client.get(f"/staff/complaints/{complaint.id}").get_data(as_text=True))
    response = client.post(f"/staff/complaints/{complaint.id}/accept",
                           data={"csrf_token": token, "version": str(complaint.version)})
    assert response.status_code == 302


def test_no_get_route_writes(app, demo, full_world):
    cases, values = full_world
    gets = routes(app, "GET", values)
    for case_type, case in cases.items():
        gets.append(f"/staff/{SEGMENTS[case_type]}/{case.id}")
    gets += ["/track?number=TS2026000001&code=AAAA", "/staff/login?username=intake",
             "/staff/logout", "/track/end"]
    clients = {None: app.test_client()}
    for username in ("intake", "bj_leader", "admin", "officer"):
        clients[username] = app.test_client()
        login(clients[username], demo, username)
    before = row_counts()
    for username, client in clients.items():
        for path in gets:
            response = client.get(path, buffered=True)
            response.close()
            assert response.status_code < 500, (username, path)
    assert row_counts() == before
    for username, client in clients.items():  # still logged in: no GET logged anyone out
        if username:
            assert client.get("/staff/me" if username == "officer" else "/staff/")\
                .status_code in (200, 302), username
