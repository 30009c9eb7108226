"""Sessions and login: an old cookie is dead after logout, a password change or disabling
the account; a spoofed X-Forwarded-For does not reset the login lockout; ``next`` never
leads off the site."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from helpers import login, user

from oversight.services.uow import unit_of_work

HOME = "/staff/"


def logged_in(client) -> bool:
    return client.get(HOME).status_code == 200


def end_by_logout(client):
    client.post("/staff/logout")


def end_by_password_change(_client):
    with unit_of_work():
        user("intake").set_password("a-brand-new-password-123")


def end_by_disabling(_client):
    with unit_of_work():
        user("intake").active = False


def end_by_password_change_on_the_account_page(client, demo):
    new = "a-brand-new-password-123"
    response = client.post("/staff/account/password", data={
        "current": demo["intake"], "new": new, "confirm": new})
    assert response.status_code == 302
    assert logged_in(client)  # the session that changed it goes on; every other one ends


def end_by_an_admin_disabling(app, demo):
    admin = app.test_client()
    login(admin, demo, "admin")
    response = admin.post(f"/admin/users/{user('intake').id}/active", data={"active": "0"})
    assert response.status_code == 302


@pytest.mark.parametrize("end", [
    lambda client, _app, _demo: end_by_logout(client),
    lambda client, _app, _demo: end_by_password_change(client),
    lambda client, _app, _demo: end_by_disabling(client),
    lambda client, _app, demo: end_by_password_change_on_the_account_page(client, demo),
    lambda _client, app, demo: end_by_an_admin_disabling(app, demo),
], ids=["logout", "password-change", "disabled", "password-page", "admin-disables"])
def test_an_old_session_cookie_is_refused(app, demo, end):
    client = app.test_client()
    login(client, demo, "intake")
    assert logged_in(client)
    stolen = client.get_cookie("session").value
    end(client, app, demo)
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get(HOME)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")
    assert thief.post("/staff/complaints/1/accept", data={"version": "1"}).status_code == 302


def test_spoofed_forwarded_for_does_not_reset_the_login_lockout(app, demo):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for i in range(limit):
        app.test_client().post("/staff/login", data={"username": "intake", "password": "x"},
                               headers={"X-Forwarded-For": f"198.51.100.{i + 1}"})
    response = app.test_client().post(
        "/staff/login", data={"username": "intake", "password": demo["intake"]},
        headers={"X-Forwarded-For": "203.0.113.99", "X-Real-IP": "203.0.113.99"})
    assert response.status_code == 400


NEXTS = ["//evil.example", "/\\evil.example", "javascript:alert(1)", "https://evil.example",
         "\\\\evil.example", "/\t/evil.example", "//evil.example/%2F..", "///evil.example",
         "http:evil.example", "/%5Cevil.example", " //evil.example", "data:text/html,x"]


@pytest.mark.parametrize("via", ["form", "query"])
def test_next_stays_on_this_site(app, demo, via):
    data = {"username": "intake", "password": demo["intake"]}
    for next_url in NEXTS:
        client = app.test_client()
        if via == "form":
            response = client.post("/staff/login", data=dict(data, next=next_url))
        else:
            response = client.post("/staff/login", query_string={"next": next_url}, data=data)
        assert response.status_code == 302, next_url
        # Resolve the Location as a browser does (it reads "\" as "/" and drops tabs).
        location = response.headers["Location"].replace("\\", "/").replace("\t", "").strip()
        target = urlsplit(urljoin("http://oversight.test/staff/login", location))
        assert (target.scheme, target.netloc) == ("http", "oversight.test"), \
            (next_url, location)


def test_the_login_form_carries_only_a_local_next(app):
    html = app.test_client().get("/staff/login?next=//evil.example").get_data(as_text=True)
    assert 'href="//evil.example' not in html and "action=\"//evil" not in html


def test_an_unknown_user_costs_the_same_hashing_as_a_wrong_password(app, demo, monkeypatch):
    """The message is the same; so is the work, so timing does not reveal accounts."""
    import werkzeug.security

    from oversight.models import org
    from oversight.web import auth

    methods = []
    real = werkzeug.security.check_password_hash

    def spy(pwhash, password):
        methods.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(org, "check_password_hash", spy)
    monkeypatch.setattr(auth, "check_password_hash", spy)
    client = app.test_client()
    known = client.post("/staff/login", data={"username": "intake", "password": "wrong-1"})
    unknown = client.post("/staff/login", data={"username": "nobody", "password": "wrong-1"})
    assert known.status_code == unknown.status_code == 400
    assert known.get_data(as_text=True).replace("intake", "nobody") \
        == unknown.get_data(as_text=True)
    assert len(methods) == 2 and methods[0] == methods[1]
