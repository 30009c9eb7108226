"""Staff pages: login, scope, the case page's actions, identity, downloads, notices."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from helpers import PDF_BYTES, PNG_BYTES, Upload, login, make_complaint, organ, user
from webhelpers import (
    action_ids,
    drive_to_notified,
    element,
    field_box,
    field_errors,
    fire_as,
    flashes,
    ids,
    isolate_requests,
    refreshed,
    text_of,
    value_of,
)

from oversight.extensions import db
from oversight.models import Attachment, Complaint, Notice, User
from oversight.services import workflow
from oversight.services.uow import unit_of_work
from workflows.complaint import COMPLAINT, ComplaintState
from workflows.roles import Role

LOGIN_ERROR = "用户名或密码错误，或账号已被锁定，请稍后再试"
NAME, PHONE, EMAIL = "王小明", "13800138000", "wang@example.com"  # make_complaint's


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)


@pytest.fixture
def case(demo):
    complaint, _code = make_complaint(files=[Upload("现场.png", PNG_BYTES)])
    return complaint


def add_user(username: str, role: Role, organ_code: str) -> dict[str, str]:
    password = secrets.token_urlsafe(12)
    with unit_of_work():
        account = User(username=username, display_name=username, role=role,
                       organ=organ(organ_code))
        account.set_password(password)
        db.session.add(account)
    return {username: password}


def state_of(case) -> ComplaintState:
    return refreshed(case).state


# --------------------------------------------------------------------------- login


STAFF_ROUTES = [
    ("GET", "/staff/"),
    ("GET", "/staff/?state=open&organ=1&page=2"),
    ("GET", "/staff/complaints/{case}"),
    ("GET", "/staff/complaints/{case}/files/{file}"),
    ("GET", "/staff/notices/{notice}"),
    ("GET", "/staff/workflow/complaint"),
    ("GET", "/staff/workflow/complaint.svg"),
    ("GET", "/staff/me"),
    ("GET", "/staff/packs/beijing-2022"),
    ("POST", "/staff/complaints/{case}/transfer"),
    ("POST", "/staff/complaints/{case}/merge"),
    ("POST", "/staff/logout"),
    ("GET", "/staff/recusals/new"),
    ("POST", "/staff/recusals/new"),
    ("GET", "/staff/recusals/order"),
    ("GET", "/staff/me/recusals/new"),
    ("GET", "/staff/investigations/new"),
    ("POST", "/staff/investigations/new"),
    ("GET", "/staff/conflicts"),
    ("POST", "/staff/conflicts"),
    ("GET", "/staff/officers/1"),
    ("GET", "/staff/search?q=x"),
    ("GET", "/staff/investigations/1/propose"),
    ("POST", "/staff/investigations/1/propose"),
    ("GET", "/staff/discipline/1/appeal"),
    ("POST", "/staff/discipline/1/appeal"),
    ("GET", "/staff/recoveries/new"),
    ("POST", "/staff/recoveries/new"),
    ("GET", "/staff/recoveries/1/statement"),
    ("GET", "/staff/deadlines"),
    ("POST", "/staff/supervise/complaints/{case}"),
    ("GET", "/staff/supervisions/1"),
    ("POST", "/staff/supervisions/1/answer"),
    ("GET", "/staff/flags"),
    ("POST", "/staff/flags/1/clear"),
    ("GET", "/staff/intervention"),
    ("POST", "/staff/intervention"),
    ("GET", "/staff/stats"),
    ("GET", "/staff/account"),
    ("POST", "/staff/account/password"),
    ("GET", "/staff/account/factor"),
    ("POST", "/staff/account/factor"),
    ("POST", "/staff/account/factor/remove"),
]


def _fill(path: str, case) -> str:
    db.session.rollback()
    att = db.session.execute(sa.select(Attachment.id)).scalars().first()
    notice = db.session.execute(sa.select(Notice.number)).scalars().first()
    return path.format(case=case.id, file=att, notice=notice)


@pytest.mark.parametrize("method, path", STAFF_ROUTES,
                         ids=[f"{m} {p}" for m, p in STAFF_ROUTES])
def test_every_staff_route_requires_login(client, case, method, path):
    fire_as(case, "accept", "intake")  # so that there is a notice
    url = _fill(path, case)
    response = client.open(url, method=method, data={
        "reason": "x", "target_number": "x", "target_organ_id": str(organ("BJ-HD").id)})
    assert response.status_code == 302, url
    assert response.headers["Location"].startswith("/staff/login?next=")
    assert state_of(case) is ComplaintState.ACCEPTED
    assert db.session.execute(sa.select(sa.func.count(Complaint.id))).scalar_one() == 1


def test_staff_route_list_covers_every_staff_endpoint(app, case):
    fire_as(case, "accept", "intake")
    adapter = app.url_map.bind("localhost")
    matched = {adapter.match(_fill(p, case).split("?")[0], method=m)[0]
               for m, p in STAFF_ROUTES}
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.endpoint.startswith("staff.")}
    # the login and its second step are reached signed out, on purpose
    assert endpoints - matched == {"staff.login", "staff.login_factor"}


def test_login_page_redirect_keeps_next(client, demo):
    response = client.get("/staff/complaints/1")
    assert response.headers["Location"] == "/staff/login?next=/staff/complaints/1"


def test_wrong_password_and_unknown_user_look_the_same(client, demo):
    wrong = client.post("/staff/login", data={"username": "intake", "password": "nope-nope"})
    unknown = client.post("/staff/login", data={"username": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 400
    for response, name in ((wrong, "intake"), (unknown, "nobody")):
        html = response.get_data(as_text=True)
        assert LOGIN_ERROR in html
        assert value_of(html, "username") == name
    assert wrong.get_data(as_text=True).replace('value="intake"', 'value="X"') == \
        unknown.get_data(as_text=True).replace('value="nobody"', 'value="X"')
    assert client.get("/staff/").status_code == 302


def test_login_lockout_refuses_the_right_password(app, client, demo):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/staff/login", data={"username": "intake", "password": "wrong"})
    response = client.post("/staff/login", data={"username": "intake",
                                                 "password": demo["intake"]})
    assert response.status_code == 400
    assert LOGIN_ERROR in response.get_data(as_text=True)
    # Other accounts are unaffected.
    login(app.test_client(), demo, "inspector")


@pytest.mark.parametrize("next_url", ["/staff/workflow/complaint", "/staff/?state=open"])
def test_login_follows_a_local_next(client, demo, next_url):
    response = client.post("/staff/login", data={"username": "intake",
                                                 "password": demo["intake"], "next": next_url})
    assert response.status_code == 302
    assert response.headers["Location"] == next_url


def _post_login(client, demo, next_url, via):
    data = {"username": "intake", "password": demo["intake"]}
    if via == "form":
        return client.post("/staff/login", data=dict(data, next=next_url))
    return client.post("/staff/login", query_string={"next": next_url}, data=data)


@pytest.mark.parametrize("via", ["form", "query"])
@pytest.mark.parametrize("next_url", [
    "https://evil.example/", "//evil.example", "///evil.example", "http:evil.example",
    "javascript:alert(1)", "\\\\evil.example", "evil.example",
])
def test_login_ignores_an_external_next(client, demo, next_url, via):
    response = _post_login(client, demo, next_url, via)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/", next_url


@pytest.mark.parametrize("via", ["form", "query"])
@pytest.mark.parametrize("next_url", ["/\\evil.example", "/\t/evil.example",
                                      "/%2F/evil.example"])
def test_login_next_never_leaves_the_site(client, demo, next_url, via):
    """Browsers read "\\" as "/" and drop tabs; whatever Location is sent must stay on
    this origin once a browser has normalised it."""
    response = _post_login(client, demo, next_url, via)
    assert response.status_code == 302
    location = response.headers["Location"].replace("\\", "/").replace("\t", "")
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, response.headers["Location"]
    assert not location.startswith("//"), response.headers["Location"]


def test_logout_is_post_only_and_kills_the_old_cookie(client, demo):
    login(client, demo, "intake")
    assert client.get("/staff/").status_code == 200
    assert client.get("/staff/logout").status_code == 405
    assert client.get("/staff/").status_code == 200  # GET did not log out

    old_cookie = client.get_cookie("session").value
    response = client.post("/staff/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert client.get("/staff/").status_code == 302

    client.set_cookie("session", old_cookie)
    replayed = client.get("/staff/")
    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/staff/login")


def test_logout_in_one_browser_ends_the_other_sessions_of_that_user(app, demo):
    first, second = app.test_client(), app.test_client()
    login(first, demo, "intake")
    login(second, demo, "intake")
    assert first.post("/staff/logout").status_code == 302
    assert second.get("/staff/").status_code == 302


def test_disabled_user_is_logged_out(client, demo):
    login(client, demo, "intake")
    with unit_of_work():
        user("intake").active = False
    assert client.get("/staff/").status_code == 302


# --------------------------------------------------------------------------- scope


def yunnan_complaint():
    yn = organ("YN-KM-WH")
    complaint, _code = make_complaint(organ_id=yn.id,
                                      category_code=yn.pack.categories[0].code,
                                      officer_badge="YN50001")
    return complaint


def test_queue_shows_only_the_users_subtree(client, demo):
    beijing, _code = make_complaint()
    yunnan = yunnan_complaint()
    login(client, demo, "intake")
    html = client.get("/staff/").get_data(as_text=True)
    assert beijing.number in html
    assert yunnan.number not in html
    assert "共 1 件" in html
    # Filtering by a foreign organ does not widen the scope.
    foreign = client.get(f"/staff/?organ={organ('YN-KM-WH').id}").get_data(as_text=True)
    assert yunnan.number not in foreign
    assert client.get(f"/staff/complaints/{yunnan.id}").status_code == 404
    assert client.post(f"/staff/complaints/{yunnan.id}/accept",
                       data={"version": "1"}).status_code == 404
    assert state_of(yunnan) is ComplaintState.SUBMITTED


def test_queue_filters_by_state(client, case, demo):
    other, _code = make_complaint()
    fire_as(other, "accept", "intake")
    login(client, demo, "intake")
    html = client.get("/staff/?state=accepted").get_data(as_text=True)
    assert other.number in html and case.number not in html


def test_upper_organ_sees_lower_cases_but_not_siblings(client, case):
    passwords = add_user("bj_inspector", Role.INSPECTOR, "BJ")
    passwords |= add_user("hd_intake", Role.INTAKE, "BJ-HD")
    login(client, passwords, "bj_inspector")
    assert case.number in client.get("/staff/").get_data(as_text=True)
    other = client.application.test_client()
    login(other, passwords, "hd_intake")
    assert case.number not in other.get("/staff/").get_data(as_text=True)
    assert other.get(f"/staff/complaints/{case.id}").status_code == 404


def test_officer_and_admin_have_no_queue(app, client, demo, case):
    login(client, demo, "officer")
    response = client.get("/staff/")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/me"
    assert client.get(f"/staff/complaints/{case.id}").status_code == 404
    admin = app.test_client()
    login(admin, demo, "admin")
    response = admin.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


# --------------------------------------------------------------------------- actions shown


INSPECTOR_TRIGGERS = {t.trigger for t in COMPLAINT.transitions if Role.INSPECTOR in t.roles}


@pytest.mark.parametrize("username, steps, expected", [
    ("intake", [], {"accept", "propose_refusal", "transfer", "merge"}),
    ("inspector", [], set()),
    ("leader", [], set()),
    ("inspector", [("accept", "intake")], {"start_investigation", "add_note",
                                           "propose_conclusion"}),
    ("intake", [("accept", "intake")], {"transfer", "merge"}),
    ("leader", [("propose_refusal", "intake")], {"approve_refusal", "reject_refusal"}),
], ids=["intake-submitted", "inspector-submitted", "leader-submitted", "inspector-accepted",
        "intake-accepted", "leader-refusal-pending"])
def test_case_page_offers_exactly_the_available_actions(client, demo, case, username, steps,
                                                        expected):
    for trigger, who in steps:
        fire_as(case, trigger, who, {"reason": "理由"})
    login(client, demo, username)
    html = client.get(f"/staff/complaints/{case.id}").get_data(as_text=True)
    shown = action_ids(html)
    refreshed(case)
    assert shown == {t.trigger for t in workflow.available_actions(case, user(username))}
    assert shown == expected
    if username == "intake":
        assert not shown & (INSPECTOR_TRIGGERS - {"issue_notice"})


# --------------------------------------------------------------------------- actions fired


def case_page(client, case) -> str:
    response = client.get(f"/staff/complaints/{case.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_missing_required_field_is_shown_beside_it(client, demo, case):
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/propose_refusal",
                           data={"version": str(case.version), "reason": "  "})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    box = field_box(html, "reason", within="action-propose_refusal")
    assert field_errors(box) == ["此项必填"]
    assert "open" in element(html, "action-propose_refusal").split(">", 1)[0]
    assert state_of(case) is ComplaintState.SUBMITTED


def test_missing_reason_keeps_the_other_typed_fields(client, demo, case):
    target, _code = make_complaint()
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/merge", data={
        "version": str(case.version), "target_number": target.number, "reason": ""})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_errors(field_box(html, "reason", within="action-merge")) == ["此项必填"]
    merge_form = element(html, "action-merge")
    assert value_of(merge_form, "target_number") == target.number
    assert state_of(case) is ComplaintState.SUBMITTED


def test_missing_target_organ_keeps_the_reason(client, demo, case):
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/transfer", data={
        "version": str(case.version), "target_organ_id": "", "reason": "应由海淀分局办理"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    form = element(html, "action-transfer")
    assert field_errors(field_box(form, "target_organ_id")) == ["此项必填"]
    assert value_of(form, "reason") == "应由海淀分局办理"


def test_an_action_error_is_shown_only_on_that_action(client, demo, case):
    """The page holds one <form> per action, all rendered from one ActionForm: an error of
    propose_refusal must not also appear under the (optional) reason of accept/transfer."""
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/propose_refusal",
                           data={"version": str(case.version), "reason": ""})
    html = response.get_data(as_text=True)
    for other in ("accept", "transfer", "merge"):
        assert field_errors(field_box(html, "reason", within=f"action-{other}")) == [], other


def test_case_page_ids_are_unique(client, demo, case):
    """Every action form repeats id="reason"/"reason-err", so <label for> and
    aria-describedby of all but the first form point at the wrong control."""
    login(client, demo, "intake")
    found = ids(case_page(client, case))
    assert sorted(i for i in set(found) if found.count(i) > 1) == []


@pytest.mark.parametrize("version", ["0", "1", "99"])
def test_stale_version_is_refused(client, demo, case, version):
    fire_as(case, "accept", "intake")  # version 1 -> 2
    assert refreshed(case).version == 2
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/transfer", data={
        "version": version, "target_organ_id": str(organ("BJ-HD").id), "reason": "转办"})
    assert response.status_code == 409  # the case page again, saying why
    assert any("刷新后重试" in f for f in flashes(response.get_data(as_text=True)))
    assert state_of(case) is ComplaintState.ACCEPTED
    assert case.version == 2
    assert db.session.execute(sa.select(sa.func.count(Complaint.id))).scalar_one() == 1


@pytest.mark.parametrize("trigger, message, status", [
    ("close", "不能执行「结案」", 409),
    ("issue_notice", "不能执行「出具处理结果告知书」", 409),
    ("start_investigation", "您无权执行此操作", 403),
    ("approve_refusal", "您无权执行此操作", 403),
    ("withdraw", "您无权执行此操作", 403),
])
def test_illegal_trigger_is_refused_with_a_message(client, demo, case, trigger, message,
                                                   status, caplog):
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/{trigger}", data={
        "version": str(case.version), "reason": "试试"})
    assert response.status_code == status
    assert f"refused_transition case=complaint:{case.id} trigger={trigger}" in caplog.text
    assert any(message in f for f in flashes(response.get_data(as_text=True))), message
    assert state_of(case) is ComplaintState.SUBMITTED
    assert case.version == 1


@pytest.mark.parametrize("trigger", ["nonsense", "submit", "receive_transfer", "ACCEPT"])
def test_unknown_trigger_is_404(client, demo, case, trigger):
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/{trigger}",
                           data={"version": str(case.version)})
    assert response.status_code == 404
    assert state_of(case) is ComplaintState.SUBMITTED


def test_accept_through_the_page(client, demo, case):
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/accept",
                           data={"version": str(case.version)}, follow_redirects=True)
    assert "已完成：受理" in flashes(response.get_data(as_text=True))
    assert state_of(case) is ComplaintState.ACCEPTED


# --------------------------------------------------------------------------- transfer/merge


def test_transfer_creates_a_case_at_the_target_with_the_same_code(app, client, demo):
    complaint, code = make_complaint(files=[Upload("现场.png", PNG_BYTES)])
    hd = organ("BJ-HD")
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{complaint.id}/transfer", data={
        "version": str(complaint.version), "target_organ_id": str(hd.id),
        "reason": "该辅警隶属海淀分局"})
    assert response.status_code == 302
    assert state_of(complaint) is ComplaintState.TRANSFERRED
    new = db.session.get(Complaint, complaint.transferred_to_id)
    assert new.organ_id == hd.id
    assert new.state is ComplaintState.SUBMITTED
    assert new.number != complaint.number
    assert new.narrative == complaint.narrative
    assert len(db.session.execute(sa.select(Attachment).where(
        Attachment.case_id == new.id)).scalars().all()) == 1
    page = case_page(client, complaint)
    assert new.number in page
    # The intake user of 朝阳 cannot open the new case at 海淀.
    assert client.get(f"/staff/complaints/{new.id}").status_code == 404

    public = app.test_client()
    assert public.post("/track", data={"number": new.number, "code": code}).status_code == 302
    html = public.get("/track/case").get_data(as_text=True)
    assert new.number in html and hd.name in html
    old = app.test_client()
    assert old.post("/track", data={"number": complaint.number, "code": code}).status_code == 302
    assert new.number in old.get("/track/case").get_data(as_text=True)


def test_transfer_to_own_organ_is_not_offered_and_refused(client, demo, case):
    login(client, demo, "intake")
    html = case_page(client, case)
    options = re.findall(r'<option[^>]*value="(\d+)"',
                         field_box(html, "target_organ_id", within="action-transfer"))
    assert str(case.organ_id) not in options
    response = client.post(f"/staff/complaints/{case.id}/transfer", data={
        "version": str(case.version), "target_organ_id": str(case.organ_id), "reason": "x"})
    assert response.status_code == 400
    assert state_of(case) is ComplaintState.SUBMITTED


def test_merge_into_another_case(client, demo, case):
    target, _code = make_complaint()
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/merge", data={
        "version": str(case.version), "target_number": target.number.lower(),
        "reason": "同一事项"}, follow_redirects=True)
    assert "已完成：合并到其他投诉" in flashes(response.get_data(as_text=True))
    assert state_of(case) is ComplaintState.MERGED
    assert case.merged_into_id == target.id
    assert f"合并到 {target.number}" in text_of(response.get_data(as_text=True))


@pytest.mark.parametrize("target_kind, message", [
    ("self", "不能合并到本案件自身"),
    ("unknown", "未找到该案件编号"),
    ("out-of-scope", "未找到该案件编号"),
])
def test_merge_target_errors(client, demo, case, target_kind, message):
    number = {"self": case.number, "unknown": "TS2026999999",
              "out-of-scope": yunnan_complaint().number if target_kind == "out-of-scope"
              else ""}[target_kind]
    login(client, demo, "intake")
    response = client.post(f"/staff/complaints/{case.id}/merge", data={
        "version": str(case.version), "target_number": number, "reason": "同一事项"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    errors = field_errors(field_box(html, "target_number", within="action-merge"))
    assert any(message in e for e in errors), errors
    assert value_of(element(html, "action-merge"), "reason") == "同一事项"
    assert state_of(case) is ComplaintState.SUBMITTED


# --------------------------------------------------------------------------- identity


def test_intake_at_the_handling_organ_sees_the_identity(client, demo, case):
    login(client, demo, "intake")
    html = case_page(client, case)
    assert NAME in html and PHONE in html and EMAIL in html


def test_inspector_at_the_handling_organ_sees_the_identity(client, demo, case):
    login(client, demo, "inspector")
    assert NAME in case_page(client, case)


@pytest.mark.parametrize("username", ["admin", "officer"])
def test_admin_and_officer_cannot_open_staff_case_pages(client, demo, case, username):
    login(client, demo, username)
    response = client.get(f"/staff/complaints/{case.id}")
    assert response.status_code in (302, 403, 404)
    html = response.get_data(as_text=True)
    assert NAME not in html and PHONE not in html
    assert case.narrative not in html


def test_leader_sees_the_case_but_not_the_identity(client, demo, case):
    login(client, demo, "leader")
    html = case_page(client, case)
    assert case.narrative in html
    assert NAME not in html and PHONE not in html and EMAIL not in html


def test_upper_organ_inspector_sees_the_case_but_not_the_identity(client, demo, case):
    drive_to_notified(case)
    passwords = add_user("bj_inspector", Role.INSPECTOR, "BJ")
    login(client, passwords, "bj_inspector")
    html = case_page(client, case)
    assert case.number in html and case.narrative in html
    assert NAME not in html and PHONE not in html and EMAIL not in html
    db.session.rollback()
    for number in db.session.execute(sa.select(Notice.number)).scalars():
        notice = client.get(f"/staff/notices/{number}")
        assert notice.status_code == 200
        body = notice.get_data(as_text=True)
        assert NAME not in body and PHONE not in body and EMAIL not in body


def test_identity_follows_a_transfer_to_the_new_organ(app, client, demo, case):
    fire_as(case, "transfer", "intake", {"target_organ_id": organ("BJ-HD").id,
                                         "reason": "属海淀"})
    refreshed(case)
    passwords = add_user("hd_intake", Role.INTAKE, "BJ-HD")
    login(client, passwords, "hd_intake")
    html = case_page(client, db.session.get(Complaint, case.transferred_to_id))
    assert NAME in html and PHONE in html
    # ...and the old organ, no longer handling it, sees the old case only.
    cy = app.test_client()
    login(cy, demo, "intake")
    assert cy.get(f"/staff/complaints/{case.transferred_to_id}").status_code == 404


# --------------------------------------------------------------------------- downloads


def _attachments(case) -> list[Attachment]:
    db.session.rollback()
    return db.session.execute(sa.select(Attachment).where(
        Attachment.case_id == case.id).order_by(Attachment.id)).scalars().all()


@pytest.mark.parametrize("content, name, mime", [
    (PNG_BYTES, "现场.png", "image/png"),
    (PDF_BYTES, "证明.pdf", "application/pdf"),
    (PNG_BYTES, "looks-like.html", "image/png"),
])
def test_download_headers(client, demo, content, name, mime):
    complaint, _code = make_complaint(files=[Upload(name, content)])
    (att,) = _attachments(complaint)
    login(client, demo, "inspector")
    response = client.get(f"/staff/complaints/{complaint.id}/files/{att.id}", buffered=True)
    assert response.status_code == 200
    assert response.mimetype == mime
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data == content


def test_download_is_refused_outside_scope(app, client, demo, case):
    (att,) = _attachments(case)
    passwords = add_user("hd_inspector", Role.INSPECTOR, "BJ-HD")
    passwords |= add_user("yn_intake", Role.INTAKE, "YN-KM-WH")
    for username in passwords:
        other = app.test_client()
        login(other, passwords, username)
        response = other.get(f"/staff/complaints/{case.id}/files/{att.id}")
        assert response.status_code == 404, username
        assert PNG_BYTES not in response.data


def test_download_of_another_cases_file_through_this_case_is_404(client, demo, case):
    (att,) = _attachments(case)
    other, _code = make_complaint()
    login(client, demo, "intake")
    assert client.get(f"/staff/complaints/{other.id}/files/{att.id}").status_code == 404
    assert client.get(f"/staff/complaints/{case.id}/files/{att.id + 100}").status_code == 404


# --------------------------------------------------------------------------- diagram, notices


def test_workflow_page_and_svg(client, demo):
    login(client, demo, "inspector")
    page = client.get("/staff/workflow/complaint")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="/staff/workflow/complaint.svg"' in html
    for t in COMPLAINT.transitions:
        assert t.label in html, t.trigger

    svg = client.get("/staff/workflow/complaint.svg")
    assert svg.status_code == 200
    assert svg.mimetype == "image/svg+xml"
    text = svg.get_data(as_text=True)
    assert text.lstrip().startswith("<svg")
    for state in ComplaintState:
        assert state.label in text, state


def test_outcome_notice_page(app, client, demo, case):
    drive_to_notified(case)
    number = db.session.execute(sa.select(Notice.number).where(
        Notice.case_id == case.id, Notice.kind == "outcome")).scalar_one()
    login(client, demo, "intake")
    html = case_page(client, case)
    assert f'href="/staff/notices/{number}"' in html
    response = client.get(f"/staff/notices/{number}")
    assert response.status_code == 200
    body = text_of(element(response.get_data(as_text=True), "notice"))
    assert "处理结果告知书" in body and number in body
    assert "部分属实" in body
    assert re.search(r"《[^》]+》第[零一二三四五六七八九十百]+条", body)
    assert "复查" in body
    assert case.number in body


def test_notice_of_another_organ_is_404(client, demo, case):
    yunnan = yunnan_complaint()
    add_user("yn_intake", Role.INTAKE, "YN-KM-WH")
    fire_as(yunnan, "accept", "yn_intake")
    number = db.session.execute(sa.select(Notice.number).where(
        Notice.case_id == yunnan.id)).scalar_one()
    login(client, demo, "intake")
    assert client.get(f"/staff/notices/{number}").status_code == 404
    assert client.get("/staff/notices/GZ2026999999").status_code == 404



def test_the_signed_in_user_is_read_with_their_organ(client, demo):
    """Every signed-in page names the user's organ (the nav): it comes with the user, in
    the same statement, not in one of its own."""
    from helpers import sql_statements

    organ_name = user("leader").organ.name
    login(client, demo, "leader")
    client.get("/staff/")  # warm the per-process caches (the organ tree) first
    with sql_statements() as statements:
        html = client.get("/staff/").get_data(as_text=True)
    assert organ_name in html.split("</nav>")[0]
    users = [s for s in statements if s.startswith("select app_user.")]
    assert len(users) == 1 and "join organ" in users[0], users
    assert not [s for s in statements if s.startswith("select organ.")], statements
