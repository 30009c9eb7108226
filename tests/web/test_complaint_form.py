"""/complaints/new: the receipt shown once, every kind of invalid input, and CSRF."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa
from helpers import (
    PG_URL,
    PNG_BYTES,
    make_app,
    make_complaint,
    organ,
    reset_postgres,
    sql_statements,
)
from webhelpers import (
    csrf_token,
    field_box,
    field_errors,
    isolate_requests,
    refreshed,
    value_of,
)

from oversight.extensions import db
from oversight.models import Attachment, Complaint
from oversight.services.uow import unit_of_work
from workflows.clocks import LOCAL_TZ
from workflows.complaint import ComplaintState

CODE_RE = re.compile(r"[A-Z2-9]{4}(?:-[A-Z2-9]{4}){3}")

NARRATIVE = "2026年11月20日晚在三里屯路口，辅警态度蛮横，辱骂群众并推搡，请依法处理。"
PLACE = "朝阳区三里屯路口"
PHONE = "13912345678"
NAME = "李四海"


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)


def valid_form(**overrides) -> dict:
    data = {
        "kind": "complaint",
        "name": NAME,
        "phone": PHONE,
        "email": "lisihai@example.com",
        "organ_id": str(organ("BJ-CY").id),
        "officer_badge": "BJ10001",
        "officer_description": "",
        "incident_at": "2026-11-20T21:30",
        "incident_place": PLACE,
        "category_code": "beijing-2022:uncivil",
        "narrative": NARRATIVE,
    }
    data.update(overrides)
    return data


def post_complaint(client, data: dict, files=()):
    payload = dict(data)
    if files:
        payload["files"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post("/complaints/new", data=payload, content_type="multipart/form-data")


def complaint_count() -> int:
    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count(Complaint.id))).scalar_one()


# --------------------------------------------------------------------------- valid


def test_valid_submission_shows_receipt_once_and_stores_only_a_hash(client, demo):
    form_page = client.get("/complaints/new").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', form_page).group(1)
    payload = valid_form(submission_key=key)
    response = post_complaint(client, payload, files=[(PNG_BYTES, "photo.png")])
    assert response.status_code == 200  # the receipt is this response, never a redirect
    html = response.get_data(as_text=True)
    number = re.search(r'id="case-number">([^<]+)<', html).group(1)
    code = re.search(r'id="access-code">([^<]+)<', html).group(1)
    assert CODE_RE.fullmatch(code), code
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers or code not in response.headers["Set-Cookie"]

    # The same form again (a refresh, a double tap) files nothing and shows no code.
    again = post_complaint(client, valid_form(submission_key=key),
                           files=[(PNG_BYTES, "photo.png")])
    again_html = again.get_data(as_text=True)
    assert again.status_code == 200 and number in again_html
    assert code not in again_html and 'id="access-code"' not in again_html
    assert complaint_count() == 1

    db.session.rollback()
    complaint = db.session.execute(
        sa.select(Complaint).where(Complaint.number == number)).scalar_one()
    assert complaint.state is ComplaintState.SUBMITTED
    assert complaint.organ_id == organ("BJ-CY").id
    assert complaint.narrative == NARRATIVE
    stored = complaint.access_code_hash
    for variant in (code, code.replace("-", ""), code.lower()):
        assert variant not in stored
    atts = db.session.execute(sa.select(Attachment).where(
        Attachment.case_id == complaint.id)).scalars().all()
    assert [(a.mime, a.original_name) for a in atts] == [("image/png", "photo.png")]

    # The code on the receipt is the one that works.
    tracked = client.post("/track", data={"number": number, "code": code})
    assert tracked.status_code == 302


def test_a_filed_complaint_is_one_write_transaction_and_every_post_is_counted(app, client,
                                                                              demo):
    """The flood count and the case commit together (on SQLite one turn of the write
    lock); a post that files nothing (a refused form, the same form again) is counted in
    its own, so failing floods count too."""
    from oversight.models import Throttle

    def submissions() -> int:
        db.session.rollback()
        row = db.session.execute(sa.select(Throttle).where(
            Throttle.key.like("submit:%"))).scalar_one_or_none()
        return row.failures if row else 0

    with sql_statements() as statements:
        assert post_complaint(client, valid_form(submission_key="k" * 32)).status_code == 200
    if db.engine.dialect.name == "sqlite":
        assert statements.count("begin immediate") == 1
    assert submissions() == 1 and complaint_count() == 1
    assert post_complaint(client, valid_form(submission_key="k" * 32)).status_code == 200
    assert post_complaint(client, valid_form(narrative="")).status_code == 400
    assert submissions() == 3 and complaint_count() == 1
    app.config["SUBMIT_MAX_PER_CLIENT"] = 3
    assert post_complaint(client, valid_form(submission_key="j" * 32)).status_code == 429
    assert submissions() == 3 and complaint_count() == 1  # refused: nothing written


def test_incident_time_is_read_as_beijing_time(client, demo):
    response = post_complaint(client, valid_form(incident_at="2026-11-20T08:00"))
    assert response.status_code == 200
    db.session.rollback()
    complaint = db.session.execute(sa.select(Complaint)).scalar_one()
    assert complaint.incident_at == dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)


def test_anonymous_submission_needs_no_name_or_contact(client, demo):
    response = post_complaint(client, valid_form(anonymous="y", name="", phone="", email=""))
    assert response.status_code == 200
    assert complaint_count() == 1


# --------------------------------------------------------------------------- invalid


def _future_local() -> str:
    return (dt.datetime.now(LOCAL_TZ) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
       b'<script>alert(1)</script></svg>')

# (id, form overrides, files, field with the error, message fragment, fields kept)
INVALID = [
    ("missing-narrative", {"narrative": ""}, [], "narrative", "请描述事情经过",
     ["incident_place", "phone", "name"]),
    ("short-narrative", {"narrative": "辅警骂人了"}, [], "narrative", "20 到 5000 字",
     ["narrative", "incident_place", "phone"]),
    ("named-without-name", {"name": ""}, [], "name", "实名投诉请填写姓名",
     ["narrative", "incident_place", "phone"]),
    ("named-without-contact", {"phone": "", "email": ""}, [], "phone", "至少留一种联系方式",
     ["narrative", "incident_place", "name"]),
    ("bad-phone", {"phone": "12345"}, [], "phone", "请填写正确的手机号或固定电话",
     ["phone", "narrative", "incident_place"]),
    ("bad-email", {"email": "not-an-email"}, [], "email", "电子邮箱格式不正确",
     ["email", "narrative", "incident_place", "phone"]),
    ("no-officer", {"officer_badge": "", "officer_description": ""}, [],
     "officer_description", "请填写辅警编号，或描述其外貌特征",
     ["narrative", "incident_place", "phone"]),
    ("wrong-pack-category", {"category_code": "yunnan-2024:political_speech"}, [],
     "category_code", "所选问题类别不适用于该受理机关", ["narrative", "incident_place", "phone"]),
    ("no-organ", {"organ_id": ""}, [], "organ_id", "请选择受理机关",
     ["narrative", "incident_place", "phone"]),
    ("unknown-organ", {"organ_id": "999999"}, [], "organ_id", "请从列表中选择受理机关",
     ["narrative", "incident_place", "phone"]),
    ("unknown-category", {"category_code": "beijing-2022:no-such-thing"}, [], "category_code",
     "请从列表中选择问题类别", ["narrative", "incident_place", "phone"]),
    ("future-incident", {"incident_at": None}, [], "incident_at", "发生时间不能晚于现在",
     ["incident_at", "narrative", "incident_place", "phone"]),
    ("missing-place", {"incident_place": ""}, [], "incident_place", "请填写发生地点",
     ["narrative", "phone"]),
    ("fake-image", {}, [(b"this is plain text, not a picture", "photo.png")], "files",
     "类型不受支持", ["narrative", "incident_place", "phone"]),
    ("oversized", {}, [(PNG_BYTES + b"\0" * (200 * 1024), "big.png")], "files",
     "超过大小上限", ["narrative", "incident_place", "phone"]),
    ("svg", {}, [(SVG, "drawing.svg")], "files", "类型不受支持",
     ["narrative", "incident_place", "phone"]),
    ("six-files", {}, [(PNG_BYTES, f"p{i}.png") for i in range(6)], "files",
     "最多上传 5 个文件", ["narrative", "incident_place", "phone"]),
]


@pytest.mark.parametrize("overrides, files, field, message, kept",
                         [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_input_is_reported_beside_its_field(client, demo, overrides, files, field,
                                                    message, kept):
    overrides = dict(overrides)
    if "incident_at" in overrides:
        overrides["incident_at"] = _future_local()
    data = valid_form(**overrides)

    response = post_complaint(client, data, files=files)

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    box = field_box(html, field)
    errors = field_errors(box)
    assert any(message in e for e in errors), (field, errors)
    assert f'id="{field}-err"' in box
    assert "has-error" in box.split(">", 1)[0]
    for other in kept:
        assert value_of(html, other) == data[other], other
    # The chosen organ stays selected too (one not in the list has no option to select).
    if field != "organ_id":
        assert value_of(html, "organ_id") == data["organ_id"]
    assert complaint_count() == 0
    assert db.session.execute(sa.select(sa.func.count(Attachment.id))).scalar_one() == 0


def test_only_the_failing_field_is_marked(client, demo):
    response = post_complaint(client, valid_form(phone="12345"))
    html = response.get_data(as_text=True)
    for other in ("name", "email", "narrative", "incident_place", "category_code"):
        assert field_errors(field_box(html, other)) == [], other


def _stated_limit_bytes(text: str) -> float:
    amount, unit = re.search(r"([\d.]+)\s*(MB|KB|M|K)", text).groups()
    return float(amount) * (1024 * 1024 if unit.startswith("M") else 1024)


def test_upload_limit_is_stated_truthfully(app, client, demo):
    """UPLOAD_MAX_BYTES is set in bytes (here 200 KiB); the error beside the field and the
    hint on the form must state that limit, not floor it to whole MB ("0 MB")."""
    limit = app.config["UPLOAD_MAX_BYTES"]
    response = post_complaint(client, valid_form(),
                              files=[(PNG_BYTES + b"\0" * limit, "big.png")])
    html = response.get_data(as_text=True)
    (message,) = field_errors(field_box(html, "files"))
    assert _stated_limit_bytes(message.split("上限", 1)[1]) == pytest.approx(limit, rel=0.1), \
        message
    form = client.get("/complaints/new").get_data(as_text=True)
    hint = re.search(r'<p class="hint">(最多 5 个文件[^<]*)</p>', field_box(form, "files"))
    assert _stated_limit_bytes(hint.group(1)) == pytest.approx(limit, rel=0.1), hint.group(1)


# --------------------------------------------------------------------------- CSRF


@pytest.fixture
def csrf_app(tmp_path, _pg_schema):
    """The app with CSRF protection on, seeded with the demo data."""
    from oversight.seed import seed_demo

    application = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    isolate_requests(application)
    with application.app_context():
        if PG_URL:
            reset_postgres()
        else:
            db.create_all()
        with unit_of_work():
            application.config["DEMO_PASSWORDS"] = seed_demo()
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def csrf_client(csrf_app):
    return csrf_app.test_client()


def _complaint_payload():
    return valid_form(files=(io.BytesIO(PNG_BYTES), "photo.png"))


CSRF_VARIANTS = [("missing", None), ("wrong", "IjAwMDAwMDAwMDAwMDAwMDAi.aaaa.bbbb")]


@pytest.mark.parametrize("variant, token", CSRF_VARIANTS, ids=[v for v, _t in CSRF_VARIANTS])
def test_complaint_form_rejects_bad_csrf(csrf_client, variant, token):
    csrf_client.get("/complaints/new")  # the session has a CSRF secret
    data = _complaint_payload()
    if token:
        data["csrf_token"] = token
    response = csrf_client.post("/complaints/new", data=data,
                                content_type="multipart/form-data")
    assert response.status_code == 400
    assert "页面已过期或来源无效" in response.get_data(as_text=True)
    assert complaint_count() == 0


def test_complaint_form_accepts_its_own_csrf_token(csrf_client):
    token = csrf_token(csrf_client.get("/complaints/new").get_data(as_text=True))
    data = _complaint_payload()
    data["csrf_token"] = token
    response = csrf_client.post("/complaints/new", data=data,
                                content_type="multipart/form-data")
    assert response.status_code == 200 and 'id="access-code"' in response.get_data(
        as_text=True)
    assert complaint_count() == 1


def test_csrf_token_of_another_session_is_refused(csrf_app):
    first, second = csrf_app.test_client(), csrf_app.test_client()
    token = csrf_token(first.get("/complaints/new").get_data(as_text=True))
    second.get("/complaints/new")
    data = _complaint_payload()
    data["csrf_token"] = token
    response = second.post("/complaints/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert complaint_count() == 0


@pytest.mark.parametrize("variant, token", CSRF_VARIANTS, ids=[v for v, _t in CSRF_VARIANTS])
def test_track_csrf(csrf_client, variant, token):
    complaint, code = make_complaint()
    csrf_client.get("/track")
    data = {"number": complaint.number, "code": code}
    if token:
        data["csrf_token"] = token
    response = csrf_client.post("/track", data=data)
    assert response.status_code == 400
    assert csrf_client.get("/track/case").status_code == 302  # not tracking anything


def test_track_with_csrf_token(csrf_client):
    complaint, code = make_complaint()
    token = csrf_token(csrf_client.get("/track").get_data(as_text=True))
    response = csrf_client.post("/track", data={"number": complaint.number, "code": code,
                                                "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/track/case"
    assert csrf_client.get("/track/case").status_code == 200


@pytest.mark.parametrize("variant, token", CSRF_VARIANTS, ids=[v for v, _t in CSRF_VARIANTS])
def test_staff_login_csrf(csrf_app, csrf_client, variant, token):
    csrf_client.get("/staff/login")
    data = {"username": "intake", "password": csrf_app.config["DEMO_PASSWORDS"]["intake"]}
    if token:
        data["csrf_token"] = token
    response = csrf_client.post("/staff/login", data=data)
    assert response.status_code == 400
    assert csrf_client.get("/staff/").status_code == 302  # still logged out


def _csrf_login(app, client, username="intake"):
    token = csrf_token(client.get("/staff/login").get_data(as_text=True))
    response = client.post("/staff/login", data={
        "username": username, "password": app.config["DEMO_PASSWORDS"][username],
        "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


def test_staff_login_with_csrf_token(csrf_app, csrf_client):
    _csrf_login(csrf_app, csrf_client)
    assert csrf_client.get("/staff/").status_code == 200


@pytest.mark.parametrize("variant, token", CSRF_VARIANTS, ids=[v for v, _t in CSRF_VARIANTS])
def test_staff_action_csrf(csrf_app, csrf_client, variant, token):
    complaint, _code = make_complaint()
    _csrf_login(csrf_app, csrf_client)
    csrf_client.get(f"/staff/complaints/{complaint.id}")
    data = {"version": str(complaint.version)}
    if token:
        data["csrf_token"] = token
    response = csrf_client.post(f"/staff/complaints/{complaint.id}/accept", data=data)
    assert response.status_code == 400
    assert refreshed(complaint).state is ComplaintState.SUBMITTED


def test_staff_action_with_csrf_token(csrf_app, csrf_client):
    complaint, _code = make_complaint()
    _csrf_login(csrf_app, csrf_client)
    page = csrf_client.get(f"/staff/complaints/{complaint.id}").get_data(as_text=True)
    response = csrf_client.post(f"/staff/complaints/{complaint.id}/accept", data={
        "version": str(complaint.version), "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert refreshed(complaint).state is ComplaintState.ACCEPTED


def test_wtforms_own_messages_are_translated_from_a_catalog_read_once(client, demo):
    """A validator without a message of ours (the name's length) speaks Chinese through
    WTForms' catalog, which is read from disk once per locale, not once per request."""
    from oversight.translations import _wtforms_catalog

    _wtforms_catalog.cache_clear()
    for _attempt in range(3):
        response = post_complaint(client, valid_form(name="李" * 61))
        assert response.status_code == 400
        errors = field_errors(field_box(response.get_data(as_text=True), "name"))
        assert errors and all(re.search(r"[\u4e00-\u9fff]", e) for e in errors), errors
        assert not any("Field" in e for e in errors), errors
    assert _wtforms_catalog.cache_info().misses == 1
