"""/track: access by number and code, lockout, and what the complainant can do and see."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from helpers import PDF_BYTES, days, make_complaint, organ
from webhelpers import (
    drive_to_notified,
    field_box,
    field_errors,
    fire_as,
    flashes,
    ids,
    isolate_requests,
    refreshed,
    strip_csrf,
    text_of,
    value_of,
)

from oversight.extensions import db
from oversight.models import Attachment, CaseEvent, Notice
from oversight.models.base import utcnow
from oversight.services.complaints import new_access_code
from oversight.services.uow import unit_of_work
from workflows.complaint import ComplaintState

THROTTLE_MESSAGE = "尝试次数过多，请稍后再试"
WRONG_MESSAGE = "案件编号或查询码不正确"


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)


@pytest.fixture
def case(demo):
    return make_complaint()


def track(client, number: str, code: str, addr: str | None = None):
    kwargs = {"environ_base": {"REMOTE_ADDR": addr}} if addr else {}
    return client.post("/track", data={"number": number, "code": code}, **kwargs)


def tracked_page(client) -> str:
    response = client.get("/track/case")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def start_tracking(client, case_and_code) -> None:
    complaint, code = case_and_code
    response = track(client, complaint.number, code)
    assert response.status_code == 302, response.get_data(as_text=True)


def status_of(html: str) -> str:
    return re.search(r'id="case-status">([^<]*)<', html).group(1)


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize("variant", ["as-given", "lower-case", "no-dashes", "lower-no-dashes",
                                     "spaces"])
def test_right_number_and_code_open_the_case(client, case, variant):
    complaint, code = case
    typed = {
        "as-given": code,
        "lower-case": code.lower(),
        "no-dashes": code.replace("-", ""),
        "lower-no-dashes": code.replace("-", "").lower(),
        "spaces": " " + code.replace("-", " ") + " ",
    }[variant]
    response = track(client, complaint.number, typed)
    assert response.status_code == 302
    assert response.headers["Location"] == "/track/case"
    html = tracked_page(client)
    assert complaint.number in html
    assert status_of(html) == ComplaintState.SUBMITTED.public_label


def test_number_is_case_insensitive(client, case):
    complaint, code = case
    assert track(client, complaint.number.lower(), code).status_code == 302


def test_track_case_without_tracking_redirects_to_track(client, case):
    response = client.get("/track/case")
    assert response.status_code == 302
    assert response.headers["Location"] == "/track"


def _normalised(response, number: str) -> tuple[int, str]:
    # The typed number is echoed in its input; everything else must be the same.
    body = strip_csrf(response.get_data(as_text=True))
    assert body.count(f'value="{number}"') == 1
    body = body.replace(f'value="{number}"', 'value="<NUMBER>"')
    return response.status_code, body


UNKNOWN = [
    ("next-number", "TS2026999999", "random-code"),
    ("other-year", "TS2025000001", "real-code-one-char-off"),
    ("junk-number", "XX0000000000", "garbage"),
    ("empty-looking", "TS0000000000", "real-code-one-char-off"),
]


@pytest.mark.parametrize("unknown, code_kind", [u[1:] for u in UNKNOWN],
                         ids=[u[0] for u in UNKNOWN])
def test_wrong_code_and_unknown_number_look_identical(client, case, unknown, code_kind):
    complaint, code = case
    wrong = {
        "random-code": new_access_code(),
        "real-code-one-char-off": code[:-1] + ("A" if code[-1] != "A" else "B"),
        "garbage": "zzzz",
    }[code_kind]
    assert len(unknown) == len(complaint.number)

    wrong_code = track(client, complaint.number, wrong, addr="10.0.0.1")
    unknown_number = track(client, unknown, wrong, addr="10.0.0.2")

    assert wrong_code.status_code == unknown_number.status_code == 400
    assert _normalised(wrong_code, complaint.number) == _normalised(unknown_number, unknown)
    assert WRONG_MESSAGE in wrong_code.get_data(as_text=True)
    assert sorted(wrong_code.headers.keys()) == sorted(unknown_number.headers.keys())
    assert wrong_code.headers.get("Set-Cookie") == unknown_number.headers.get("Set-Cookie")


def test_missing_fields_are_reported_beside_them(client, case):
    response = client.post("/track", data={"number": "", "code": "ABCD"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "请填写案件编号" in field_errors(field_box(html, "number"))
    assert value_of(html, "code") == "ABCD"


# --------------------------------------------------------------------------- lockout


def test_lockout_per_client_refuses_even_the_right_code(app, client, case):
    complaint, code = case
    limit = app.config["TRACK_MAX_FAILURES"]
    for i in range(limit):
        response = track(client, f"TS20269{i:05d}", "WRONG-CODE")
        assert response.status_code == 400
        assert WRONG_MESSAGE in response.get_data(as_text=True)

    right = track(client, complaint.number, code)
    wrong = track(client, complaint.number, "WRONG-CODE")
    assert right.status_code == wrong.status_code == 429  # locked out: Too Many Requests
    assert right.headers["Retry-After"] == wrong.headers["Retry-After"]
    assert THROTTLE_MESSAGE in right.get_data(as_text=True)
    assert WRONG_MESSAGE not in right.get_data(as_text=True)
    assert strip_csrf(right.get_data(as_text=True)).replace(code, "WRONG-CODE") == \
        strip_csrf(wrong.get_data(as_text=True))
    assert client.get("/track/case").status_code == 302  # not tracking

    # Another client is not blocked by this client's failures on other numbers.
    other = app.test_client()
    assert track(other, complaint.number, code, addr="192.0.2.7").status_code == 302


def test_one_failure_below_the_limit_still_lets_the_right_code_in(app, client, case):
    complaint, code = case
    for _ in range(app.config["TRACK_MAX_FAILURES"] - 1):
        assert track(client, complaint.number, "WRONG-CODE").status_code == 400
    assert track(client, complaint.number, code).status_code == 302


def test_failures_on_a_number_block_it_for_every_client(app, case, demo):
    complaint, code = case
    other_case, other_code = make_complaint()
    attacker, owner = app.test_client(), app.test_client()
    for i in range(app.config["TRACK_MAX_FAILURES"]):
        assert track(attacker, complaint.number, "WRONG-CODE",
                     addr=f"198.51.100.{i + 1}").status_code == 400

    response = track(owner, complaint.number, code, addr="203.0.113.9")
    assert response.status_code == 429
    assert THROTTLE_MESSAGE in response.get_data(as_text=True)
    # The block is on that number only: the same client can still open another case.
    assert track(owner, other_case.number, other_code, addr="203.0.113.9").status_code == 302


# --------------------------------------------------------------------------- public actions


def test_add_material_text_and_pdf(client, case):
    start_tracking(client, case)
    complaint, _code = case
    response = client.post("/track/case/add_material", data={
        "material": "补充：现场有两名目击者，可提供联系方式。",
        "files": (io.BytesIO(PDF_BYTES), "证明.pdf"),
    }, content_type="multipart/form-data")
    assert response.status_code == 302
    assert response.headers["Location"] == "/track/case"
    html = tracked_page(client)
    assert "已提交：补充材料" in flashes(html)
    refreshed(complaint)
    atts = db.session.execute(sa.select(Attachment).where(
        Attachment.case_id == complaint.id)).scalars().all()
    assert [(a.mime, a.original_name, a.from_public) for a in atts] == \
        [("application/pdf", "证明.pdf", True)]
    ev = db.session.execute(sa.select(CaseEvent).where(
        CaseEvent.case_id == complaint.id, CaseEvent.trigger == "add_material")).scalar_one()
    assert ev.payload["material"] == "补充：现场有两名目击者，可提供联系方式。"


def test_add_material_needs_text_or_file(client, case):
    start_tracking(client, case)
    response = client.post("/track/case/add_material", data={"material": "  "},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "请填写补充说明或上传文件" in field_errors(field_box(html, "material"))


def test_add_material_rejects_a_fake_pdf_and_keeps_the_text(client, case):
    start_tracking(client, case)
    response = client.post("/track/case/add_material", data={
        "material": "附上录音文字稿",
        "files": (io.BytesIO(b"<html><script>alert(1)</script></html>"), "note.pdf"),
    }, content_type="multipart/form-data")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert any("类型不受支持" in e for e in field_errors(field_box(html, "files")))
    assert value_of(html, "material") == "附上录音文字稿"
    assert db.session.execute(sa.select(sa.func.count(Attachment.id))).scalar_one() == 0


def test_withdraw(client, case):
    start_tracking(client, case)
    complaint, _code = case
    response = client.post("/track/case/withdraw", data={"withdraw-reason": "已与对方和解"})
    assert response.status_code == 302
    html = tracked_page(client)
    assert refreshed(complaint).state is ComplaintState.WITHDRAWN
    assert status_of(html) == ComplaintState.WITHDRAWN.public_label
    assert 'action="/track/case/withdraw"' not in html
    assert 'action="/track/case/add_material"' not in html


def test_request_review_within_the_window(client, case):
    complaint, _code = case
    drive_to_notified(complaint)
    start_tracking(client, case)
    html = tracked_page(client)
    assert 'action="/track/case/request_review"' in html
    response = client.post("/track/case/request_review",
                           data={"review-reason": "处理过轻，要求复查"})
    assert response.status_code == 302
    assert refreshed(complaint).state is ComplaintState.UNDER_REVIEW
    html = tracked_page(client)
    assert status_of(html) == ComplaintState.UNDER_REVIEW.public_label
    assert "申请复查" in text_of(html)


def test_request_review_needs_a_reason(client, case):
    complaint, _code = case
    drive_to_notified(complaint)
    start_tracking(client, case)
    response = client.post("/track/case/request_review", data={"review-reason": " "})
    assert response.status_code == 400
    assert field_errors(field_box(response.get_data(as_text=True), "review-reason")) == \
        ["此项必填"]
    assert refreshed(complaint).state is ComplaintState.NOTIFIED


@pytest.mark.parametrize("how", ["deadline-moved", "notified-long-ago"])
def test_request_review_after_the_window_is_refused(client, case, how):
    complaint, _code = case
    if how == "deadline-moved":
        drive_to_notified(complaint)
        with unit_of_work():
            complaint.review_deadline_at = utcnow() - days(1)
    else:
        drive_to_notified(complaint, now=utcnow() - days(45))
    start_tracking(client, case)
    response = client.post("/track/case/request_review", data={"review-reason": "要求复查"})
    assert response.status_code == 409  # the tracking page again, saying why
    assert any("已超过申请复查的期限" in f for f in flashes(response.get_data(as_text=True)))
    assert refreshed(complaint).state is ComplaintState.NOTIFIED


def test_rate_once(client, case):
    complaint, _code = case
    drive_to_notified(complaint)
    start_tracking(client, case)
    response = client.post("/track/case/rate", data={"rating": "4", "comment": "办理及时"})
    assert response.status_code == 302
    assert "已提交：评价办理" in flashes(tracked_page(client))
    assert refreshed(complaint).rating == 4
    assert complaint.rating_comment == "办理及时"

    again = client.post("/track/case/rate", data={"rating": "1", "comment": "改主意了"},
                        follow_redirects=True)
    assert "已评价过本次办理" in flashes(again.get_data(as_text=True))
    assert refreshed(complaint).rating == 4
    assert complaint.rating_comment == "办理及时"


@pytest.mark.parametrize("rating", [1, 5])
def test_rate_bounds_are_accepted(client, case, rating):
    complaint, _code = case
    drive_to_notified(complaint)
    start_tracking(client, case)
    assert client.post("/track/case/rate", data={"rating": str(rating)}).status_code == 302
    assert refreshed(complaint).rating == rating


def test_after_rating_the_page_shows_the_rating_instead_of_the_form(client, case):
    """track_case.html shows the rating form while 'rate' is available, else "您的评价".
    The rating form must go away once the case has been rated (the guard refuses it)."""
    complaint, _code = case
    drive_to_notified(complaint)
    start_tracking(client, case)
    assert client.post("/track/case/rate", data={"rating": "5"}).status_code == 302
    html = tracked_page(client)
    assert "您的评价：5 分" in html
    assert 'action="/track/case/rate"' not in html


def test_review_form_is_not_offered_after_the_window(client, case):
    complaint, _code = case
    drive_to_notified(complaint)
    with unit_of_work():
        complaint.review_deadline_at = utcnow() - days(1)
    start_tracking(client, case)
    assert 'action="/track/case/request_review"' not in tracked_page(client)


@pytest.mark.parametrize("rating", ["", "0", "6", "abc", "4.5"])
def test_invalid_rating_is_reported_beside_the_field(client, case, rating):
    complaint, _code = case
    drive_to_notified(complaint)
    start_tracking(client, case)
    data = {"comment": "希望加强辅警培训"}
    if rating:
        data["rating"] = rating
    response = client.post("/track/case/rate", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    errors = field_errors(field_box(html, "rating"))
    assert errors, html
    assert all(re.search(r"[\u4e00-\u9fff]", e) for e in errors), errors  # in Chinese
    assert value_of(html, "comment") == "希望加强辅警培训"
    assert refreshed(complaint).rating is None


def test_track_case_page_ids_are_unique(client, case):
    """Labels and aria-describedby point at ids; a repeated id sends them to the wrong
    element (here <section id="material"> shadows <textarea id="material">)."""
    start_tracking(client, case)  # submitted: material and withdraw forms are shown
    html = tracked_page(client)
    assert 'action="/track/case/add_material"' in html
    found = ids(html)
    assert sorted(i for i in set(found) if found.count(i) > 1) == []


def test_unknown_public_trigger_is_404(client, case):
    start_tracking(client, case)
    for trigger in ("accept", "close", "nonsense"):
        assert client.post(f"/track/case/{trigger}").status_code == 404
    assert refreshed(case[0]).state is ComplaintState.SUBMITTED


def test_public_actions_need_a_tracking_session(client, case):
    response = client.post("/track/case/withdraw", data={})
    assert response.status_code == 302
    assert response.headers["Location"] == "/track"
    assert refreshed(case[0]).state is ComplaintState.SUBMITTED


def test_track_end_forgets_the_case(client, case):
    start_tracking(client, case)
    assert client.post("/track/end").status_code == 302
    assert client.get("/track/case").status_code == 302


# --------------------------------------------------------------------------- isolation


def _notice_number(case, kind: str) -> str:
    db.session.rollback()
    return db.session.execute(sa.select(Notice.number).where(
        Notice.case_id == case.id, Notice.kind == kind)).scalar_one()


def test_tracking_session_never_exposes_other_cases(client, demo):
    a = make_complaint()
    b = make_complaint()
    fire_as(a[0], "accept", "intake")
    fire_as(b[0], "accept", "intake")
    start_tracking(client, a)
    own = client.get(f"/track/notices/{_notice_number(a[0], 'acknowledgement')}")
    assert own.status_code == 200
    other = client.get(f"/track/notices/{_notice_number(b[0], 'acknowledgement')}")
    assert other.status_code == 404
    assert b[0].number not in tracked_page(client)


def test_public_pages_hide_staff_only_events_and_the_complainant(client, demo):
    complaint, code = make_complaint(name="欧阳娜娜", phone="13612345678",
                                     email="ouyang@example.com")
    secret_note = "内部：该辅警此前已有两次类似投诉"
    fire_as(complaint, "accept", "intake")
    fire_as(complaint, "add_note", "inspector", {"note": secret_note})
    fire_as(complaint, "propose_conclusion", "inspector", {
        "finding": "partly", "facts": "经查，辅警言语失当。", "handling": "批评教育"})
    fire_as(complaint, "return_conclusion", "leader", {"reason": "领导批示：证据不足需补充"})
    fire_as(complaint, "propose_conclusion", "inspector", {
        "finding": "partly", "facts": "经查，辅警言语失当。", "handling": "批评教育"})
    fire_as(complaint, "approve_conclusion", "leader")
    fire_as(complaint, "issue_notice", "intake")

    pages = {}
    track_page = client.get("/track")
    pages["/track"] = track_page.get_data(as_text=True)
    start_tracking(client, (complaint, code))
    pages["/track/case"] = tracked_page(client)
    db.session.rollback()
    for number in db.session.execute(sa.select(Notice.number).where(
            Notice.case_id == complaint.id)).scalars():
        response = client.get(f"/track/notices/{number}")
        assert response.status_code == 200
        pages[number] = response.get_data(as_text=True)
    assert len(pages) >= 4  # track, case, acknowledgement, outcome

    for path, html in pages.items():
        for secret in (secret_note, "领导批示", "欧阳娜娜", "13612345678",
                       "ouyang@example.com"):
            assert secret not in html, (path, secret)
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', pages["/track/case"], re.S)
    entries = [text_of(li).split(maxsplit=2)[-1].strip()
               for li in re.findall(r"<li>(.*?)</li>", timeline.group(1), re.S)]
    assert entries == ["提交", "受理", "出具处理结果告知书"]
    for staff_only in ("记录调查情况", "提出处理意见", "退回补充调查", "批准处理意见"):
        assert staff_only not in pages["/track/case"], staff_only


def test_receipt_does_not_show_the_complainant(client, demo):
    response = client.post("/complaints/new", data={
        "kind": "complaint", "name": "欧阳娜娜", "phone": "13612345678", "email": "",
        "organ_id": str(organ("BJ-CY").id), "officer_badge": "BJ10001",
        "incident_place": "三里屯", "category_code": "beijing-2022:uncivil",
        "narrative": "辅警态度蛮横，辱骂群众并推搡，请求依法处理。"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="access-code"' in html
    assert "欧阳娜娜" not in html and "13612345678" not in html
