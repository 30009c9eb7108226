"""The staff second factor (TOTP): a password alone no longer signs in an enrolled account;
codes are single-use, bound to the account and counted toward the lockout; the admin's
requirement holds on every staff page; an admin reset ends the account's sessions."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from helpers import login
from helpers import user as cached_user

from oversight.extensions import db
from oversight.models.base import utcnow
from oversight.services import second_factor
from oversight.services.uow import unit_of_work
from oversight.web import auth

HOME = "/staff/"


def user(username: str):
    """The account as the database holds it now (requests commit in their own sessions)."""
    db.session.rollback()  # end the test's read snapshot and forget cached rows
    return cached_user(username)


def enrol(client) -> str:
    """Enrol the signed-in user through the page; return the secret."""
    page = client.get("/staff/account/factor").get_data(as_text=True)
    secret = re.search(r'id="totp-secret" class="secret">([^<]+)<', page).group(1)
    secret = secret.replace(" ", "")
    response = client.post("/staff/account/factor", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/account"
    return secret


def code_at(secret: str, seconds: int) -> str:
    """The code of another 30-second step, ``seconds`` away from now."""
    return pyotp.TOTP(secret).at(utcnow() + dt.timedelta(seconds=seconds))


@pytest.fixture
def enrolled(app, demo):
    """The leader, enrolled; a fresh client that has only typed the password."""
    first = app.test_client()
    login(first, demo, "leader")
    secret = enrol(first)
    client = app.test_client()
    response = client.post("/staff/login", data={"username": "leader",
                                                 "password": demo["leader"]})
    assert response.headers["Location"] == "/staff/login/factor"
    return client, secret


def test_enrolment_needs_a_code_from_the_app(app, demo):
    client = app.test_client()
    login(client, demo, "inspector")
    page = client.get("/staff/account/factor").get_data(as_text=True)
    qr = page[page.index('<div class="qr"'):page.index("</div>", page.index('<div class="qr"'))]
    assert "<svg" in qr and "<script" not in qr and "otpauth" not in qr
    response = client.post("/staff/account/factor", data={"code": "000000"})
    assert response.status_code == 400
    assert "验证码不正确" in response.get_data(as_text=True)
    response = client.post("/staff/account/factor", data={"code": "12ab"})
    assert "验证码是 6 位数字" in response.get_data(as_text=True)
    assert user("inspector").totp_secret == ""


def test_the_secret_stays_the_same_until_enrolment_and_is_never_shown_after(app, demo):
    client = app.test_client()
    login(client, demo, "inspector")
    first = client.get("/staff/account/factor").get_data(as_text=True)
    again = client.get("/staff/account/factor").get_data(as_text=True)
    pick = re.compile(r'id="totp-secret" class="secret">([^<]+)<')
    assert pick.search(first).group(1) == pick.search(again).group(1)
    secret = enrol(client)
    account = client.get("/staff/account").get_data(as_text=True)
    assert secret not in account.replace(" ", "")
    assert "已启用" in account
    assert client.get("/staff/account/factor").status_code == 302


def test_a_password_alone_does_not_sign_in_an_enrolled_account(enrolled):
    client, _secret = enrolled
    response = client.get(HOME)
    assert response.status_code == 302 and response.headers["Location"].startswith(
        "/staff/login")


def test_the_code_completes_the_login_once(app, enrolled, demo):
    client, secret = enrolled
    # the enrolment spent the current step: use the next one
    code = code_at(secret, 30)
    response = client.post("/staff/login/factor", data={"code": code})
    assert response.status_code == 302 and response.headers["Location"] == HOME
    assert client.get(HOME).status_code == 200
    replay = app.test_client()
    replay.post("/staff/login", data={"username": "leader", "password": demo["leader"]})
    response = replay.post("/staff/login/factor", data={"code": code})
    assert response.status_code == 400
    assert "验证码不正确或已使用" in response.get_data(as_text=True)
    assert replay.get(HOME).status_code == 302


def test_a_code_far_from_now_or_of_another_account_is_refused(app, demo, enrolled):
    client, secret = enrolled
    assert client.post("/staff/login/factor",
                       data={"code": code_at(secret, 600)}).status_code == 400
    assert client.post("/staff/login/factor",
                       data={"code": pyotp.TOTP(pyotp.random_base32(32)).now()}
                       ).status_code == 400
    assert client.get(HOME).status_code == 302


def test_wrong_codes_count_toward_the_lockout(app, enrolled):
    client, secret = enrolled
    for _i in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.post("/staff/login/factor", data={"code": "000000"}).status_code == 400
    response = client.post("/staff/login/factor", data={"code": code_at(secret, 30)})
    assert response.status_code == 400
    assert client.get(HOME).status_code == 302


def test_typing_the_password_again_does_not_reset_the_code_count(app, demo, enrolled):
    client, secret = enrolled
    for _i in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/staff/login", data={"username": "leader", "password": demo["leader"]})
        assert client.post("/staff/login/factor", data={"code": "000000"}).status_code == 400
    client.post("/staff/login", data={"username": "leader", "password": demo["leader"]})
    client.post("/staff/login/factor", data={"code": code_at(secret, 30)})
    assert client.get(HOME).status_code == 302


def test_the_half_way_state_expires(app, enrolled, monkeypatch):
    client, secret = enrolled
    later = auth._now() + auth.PENDING_SECONDS + 1
    monkeypatch.setattr(auth, "_now", lambda: later)
    response = client.post("/staff/login/factor", data={"code": code_at(secret, 30)})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert client.get(HOME).status_code == 302


def test_the_half_way_state_dies_with_a_reset(app, demo, enrolled):
    client, secret = enrolled
    with unit_of_work():
        second_factor.remove(user("leader"), by=user("admin"), reason="lost phone")
    response = client.post("/staff/login/factor", data={"code": code_at(secret, 30)})
    assert response.status_code == 400
    assert client.get(HOME).status_code == 302


def test_removing_the_factor_needs_the_password_and_a_code(app, demo):
    client = app.test_client()
    login(client, demo, "inspector")
    secret = enrol(client)
    response = client.post("/staff/account/factor/remove", data={
        "password": "wrong-password", "code": code_at(secret, 30)})
    assert response.status_code == 400 and user("inspector").totp_secret == secret
    response = client.post("/staff/account/factor/remove", data={
        "password": demo["inspector"], "code": code_at(secret, 30)})
    assert response.status_code == 302 and user("inspector").totp_secret == ""


def test_an_admin_requirement_holds_on_every_staff_page(app, demo):
    admin = app.test_client()
    login(admin, demo, "admin")
    response = admin.post("/admin/security/policy", data={"roles": ["leader"]})
    assert response.status_code == 302
    leader = app.test_client()
    login(leader, demo, "leader")
    for path in (HOME, "/staff/search?q=x", "/staff/deadlines", "/staff/stats",
                 "/staff/account", "/staff/complaints/1"):
        response = leader.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/staff/account/factor", path
    assert leader.post("/staff/logout").status_code == 302
    login(leader, demo, "leader")
    enrol(leader)
    assert leader.get(HOME).status_code == 200
    # a role that must use it cannot turn it off
    leader.post("/staff/account/factor/remove", data={"password": demo["leader"],
                                                      "code": "123456"})
    assert user("leader").totp_secret != ""
    # other roles are not affected
    inspector = app.test_client()
    login(inspector, demo, "inspector")
    assert inspector.get(HOME).status_code == 200


def test_only_an_admin_sets_the_requirement_or_resets_a_factor(app, demo):
    leader = app.test_client()
    login(leader, demo, "leader")
    assert leader.get("/admin/security").status_code == 403
    assert leader.post("/admin/security/policy", data={"roles": ["leader"]}).status_code == 403
    assert leader.post(f"/admin/users/{user('inspector').id}/reset-factor",
                       data={"reason": "x"}).status_code == 403
    assert second_factor.required_roles() == frozenset()


def test_an_admin_reset_ends_the_sessions_and_says_why(app, demo, caplog):
    inspector = app.test_client()
    login(inspector, demo, "inspector")
    enrol(inspector)
    admin = app.test_client()
    login(admin, demo, "admin")
    target = user("inspector").id
    response = admin.post(f"/admin/users/{target}/reset-factor", data={"reason": ""})
    assert response.status_code == 400
    assert "请写明重置原因" in response.get_data(as_text=True)
    with caplog.at_level("WARNING", logger="oversight.security"):
        response = admin.post(f"/admin/users/{target}/reset-factor",
                              data={"reason": "手机遗失\nuser=1 forged"})
    assert response.status_code == 302
    assert inspector.get(HOME).status_code == 302  # the enrolled session is dead
    assert user("inspector").totp_secret == ""
    [line] = [r.getMessage() for r in caplog.records if "totp_removed" in r.getMessage()]
    assert "\n" not in line and f"user={target}" in line


def test_an_admin_cannot_disable_their_own_account(app, demo):
    admin = app.test_client()
    login(admin, demo, "admin")
    admin.post(f"/admin/users/{user('admin').id}/active", data={"active": "0"})
    assert user("admin").active
    assert admin.get("/admin/").status_code == 200


def test_an_operator_resets_a_locked_out_admin_on_the_command_line(app, demo, caplog):
    from oversight.cli import build_cli

    admin = app.test_client()
    login(admin, demo, "admin")
    enrol(admin)
    runner = app.test_cli_runner()
    result = runner.invoke(build_cli(), ["reset-factor", "--username", "nobody",
                                         "--reason", "x"])
    assert result.exit_code != 0 and "未找到账号" in result.output
    with caplog.at_level("WARNING", logger="oversight.security"):
        result = runner.invoke(build_cli(), ["reset-factor", "--username", "admin",
                                             "--reason", "lost phone"])
    assert result.exit_code == 0, result.output
    assert user("admin").totp_secret == ""
    assert admin.get("/admin/").status_code == 302  # the old session ended too
    assert any("by=cli" in r.getMessage() for r in caplog.records)
