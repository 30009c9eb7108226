"""Recusal applications on the web: the public form (per-pack choices, errors beside their
fields with the typing kept, the receipt shown once), tracking by an HB number with 复议 from
the tracking page, and the staff pages: an oral application, an order, a self-recusal and
the generic case page. An officer never sees an application about them."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa
from helpers import PNG_BYTES, login, organ, user
from webhelpers import (
    element,
    field_box,
    field_errors,
    flashes,
    isolate_requests,
    text_of,
    value_of,
)

from oversight.extensions import db
from oversight.models import Attachment, Notice, Recusal, RecusalApplicant
from oversight.services import recusals, workflow
from oversight.services.uow import unit_of_work
from workflows.recusal import RecusalOrigin, RecusalState

S = RecusalState
CODE_RE = re.compile(r"[A-Z2-9]{4}(?:-[A-Z2-9]{4}){3}")
FACTS = "该辅警是对方当事人李某的表弟，我在现场听到二人以表兄弟相称，担心处理不公。"
MATTER = "京公朝（三）受案字〔2026〕1123号"


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    isolate_requests(app)


def valid_form(**overrides) -> dict:
    data = {
        "organ_id": str(organ("BJ-CY").id),
        "officer_badge": "BJ10001",
        "officer_description": "",
        "applicant_role": "beijing-2022:party",
        "name": "王小明",
        "phone": "13800138000",
        "email": "wang@example.com",
        "matter_ref": MATTER,
        "matter_summary": "11月20日三里屯路口纠纷",
        "ground_code": "beijing-2022:party_or_relative",
        "ground_text": "",
        "facts": FACTS,
    }
    data.update(overrides)
    return data


def post(client, data: dict, files=()):
    payload = dict(data)
    if files:
        payload["files"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post("/recusals/new", data=payload, content_type="multipart/form-data")


def recusal_count() -> int:
    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count(Recusal.id))).scalar_one()


def receipt(response) -> tuple[str, str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    number = re.search(r'id="case-number">([^<]+)<', html).group(1)
    code = re.search(r'id="access-code">([^<]+)<', html).group(1)
    return number, code


def load(number: str) -> Recusal:
    db.session.rollback()
    return db.session.execute(sa.select(Recusal).where(Recusal.number == number)).scalar_one()


# --------------------------------------------------------------------------- the form


def test_form_offers_every_packs_options_grouped_with_the_rules_that_apply(client, demo):
    response = client.get("/recusals/new")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "recusal-form.js" in html and "<script>" not in html  # strict CSP: no inline
    roles = element(html, "applicant_role")
    assert '<optgroup label="云南2024">' in roles and ">委托代理人<" in roles
    assert 'value="yunnan-2024:guardian"' in roles and 'value="beijing-2022:legal_rep"' in roles
    grounds = element(html, "ground_code")
    # Only packs that list grounds have a group; the others ask for a description.
    assert 'value="beijing-2022:interest"' in grounds
    assert "province-2021" not in grounds and "sichuan-2021" not in grounds
    organs = element(html, "organ_id")
    assert re.search(r'data-grounds="text"[^>]*data-pack="四川2021"|data-pack="四川2021"'
                     r'[^>]*data-grounds="text"', organs)
    notes = {m.group(1): text_of(m.group(0)) for m in re.finditer(
        r'<div class="flash info pack-note" data-pack="([^"]+)">.*?</div>', html, re.S)}
    assert len(notes) == 5
    sichuan = notes["四川2021"]
    assert "适用国家规定" in sichuan and "本办法未规定谁可申请回避" in sichuan
    assert "《公安机关办理行政案件程序规定》第十七条" in sichuan and "第三十条" in sichuan
    assert "适用国家规定" not in notes["北京2022"] and "第十七条" in notes["北京2022"]
    assert "监护人" in notes["云南2024"]
    assert "不影响案（事）件的办理" in text_of(element(html, "matter-goes-on"))


def test_valid_application_shows_the_receipt_once(client, demo):
    page = client.get("/recusals/new").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    response = post(client, valid_form(submission_key=key), files=[(PNG_BYTES, "照片.png")])
    number, code = receipt(response)
    assert number.startswith("HB") and CODE_RE.fullmatch(code)
    assert response.headers["Cache-Control"] == "no-store"
    assert code not in response.headers.get("Set-Cookie", "")
    html = response.get_data(as_text=True)
    assert "已收到您的回避申请" in html and "北京市公安局朝阳分局" in html
    assert "办理不停止" in text_of(element(html, "matter-goes-on"))

    again = post(client, valid_form(submission_key=key), files=[(PNG_BYTES, "照片.png")])
    again_html = again.get_data(as_text=True)
    assert again.status_code == 200 and number in again_html and code not in again_html
    assert "已经提交过" in again_html
    assert recusal_count() == 1

    case = load(number)
    assert (case.origin, case.applicant_role, case.ground_code) == (
        RecusalOrigin.PUBLIC, "party", "party_or_relative")
    assert db.session.get(RecusalApplicant, case.id).email == "wang@example.com"
    assert db.session.execute(sa.select(Attachment.original_name).where(
        Attachment.case_type == "recusal")).scalars().all() == ["照片.png"]


def test_described_ground_for_a_pack_that_lists_none(client, demo):
    number, _code = receipt(post(client, valid_form(
        organ_id=str(organ("SC").id), officer_badge="SC30001",
        applicant_role="sichuan-2021:legal_rep", ground_code="",
        ground_text="该辅警与对方当事人是同一小区的好友，经常一起吃饭")))
    case = load(number)
    assert case.organ.code == "SC-CD-JJ"  # the officer's own organ decides
    assert (case.ground_code, case.ground_text) == (
        "", "该辅警与对方当事人是同一小区的好友，经常一起吃饭")


def test_unknown_badge_is_refused_beside_it_offering_the_description_route(client, demo):
    data = valid_form(officer_badge="BJ99999")
    response = post(client, data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_errors(field_box(html, "officer_badge")) == [
        "未找到编号为 BJ99999 的辅警。请核对编号，或清空编号并在下方描述其外貌特征等信息"]
    for kept in ("officer_badge", "name", "phone", "email", "matter_ref", "facts"):
        assert value_of(html, kept) == data[kept], kept
    assert value_of(html, "organ_id") == data["organ_id"]
    assert value_of(html, "applicant_role") == data["applicant_role"]
    assert value_of(html, "ground_code") == data["ground_code"]
    assert recusal_count() == 0
    # Taking the offered route files it against the chosen organ.
    number, _code = receipt(post(client, valid_form(
        officer_badge="", officer_description="三十岁左右，戴眼镜，左臂有臂章")))
    assert load(number).officer_id is None


INVALID = [
    ("ground-outside-list", {"ground_code": "beijing-2022:dislike"}, "ground_code",
     "请选择该机关适用的规定所列的回避情形"),
    ("ground-of-another-pack", {"ground_code": "yunnan-2024:interest"}, "ground_code",
     "不适用于该单位适用的规定"),
    ("role-not-in-pack", {"applicant_role": "beijing-2022:guardian"}, "applicant_role",
     "请选择您的身份"),
    ("role-of-another-pack", {"applicant_role": "yunnan-2024:guardian"}, "applicant_role",
     "不适用于该单位适用的规定"),
    ("described-ground-missing", {"organ_id": "SC", "officer_badge": "SC30001",
                                  "applicant_role": "sichuan-2021:party", "ground_code": ""},
     "ground_text", "请说明存在哪些可能影响其公正履职的情形"),
    ("no-matter", {"matter_ref": ""}, "matter_ref", "请填写相关案（事）件的编号"),
    ("no-facts", {"facts": ""}, "facts", "请写明申请回避的事实和理由"),
    ("no-contact", {"phone": "", "email": ""}, "phone", "至少留一种联系方式"),
    ("no-name", {"name": ""}, "name", "请填写申请人姓名"),
    ("no-officer", {"officer_badge": "", "officer_description": ""}, "officer_description",
     "请填写辅警编号，或描述其外貌特征"),
    ("officer-elsewhere", {"officer_badge": "BJ10003"}, "officer_badge", "不在所选单位"),
]


@pytest.mark.parametrize("overrides, field, message", [c[1:] for c in INVALID],
                         ids=[c[0] for c in INVALID])
def test_invalid_input_is_reported_beside_its_field(client, demo, overrides, field, message):
    overrides = dict(overrides)
    if overrides.get("organ_id") == "SC":
        overrides["organ_id"] = str(organ("SC").id)
    data = valid_form(**overrides)
    response = post(client, data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    box = field_box(html, field)
    assert any(message in e for e in field_errors(box)), (field, field_errors(box))
    assert "has-error" in box.split(">", 1)[0]
    for kept in ("matter_ref", "facts", "name"):
        if data[kept]:
            assert value_of(html, kept) == data[kept], kept
    assert recusal_count() == 0


# --------------------------------------------------------------------------- tracking


def file_and_track(client, **overrides) -> Recusal:
    number, code = receipt(post(client, valid_form(**overrides)))
    response = client.post("/track", data={"number": number, "code": code})
    assert response.status_code == 302 and response.headers["Location"] == "/track/case"
    return load(number)


def track_page(client) -> str:
    response = client.get("/track/case")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def decide(case, trigger: str, data: dict, now=None) -> None:
    db.session.rollback()
    db.session.refresh(case)
    with unit_of_work():
        workflow.fire(case, trigger, user("leader"), data, now=now)


def test_tracking_an_hb_number_shows_the_application_and_that_the_matter_goes_on(client,
                                                                                  demo):
    case = file_and_track(client)
    html = track_page(client)
    assert text_of(element(html, "case-number")) == case.number
    assert text_of(element(html, "case-status")) == S.FILED.public_label
    assert MATTER in html and "编号 BJ10001" in html and "张伟" not in html
    assert "办理不停止" in text_of(element(html, "matter-goes-on"))
    assert "作出回避决定" in html  # the running clock
    assert element(html, "withdraw-section") is not None
    assert element(html, "reconsider-section") is None


def test_reconsideration_from_the_tracking_page(client, demo):
    case = file_and_track(client)
    decide(case, "deny", {"reason": "所称亲属关系经核查不存在"})
    html = track_page(client)
    assert text_of(element(html, "case-status")) == S.DENIED.public_label
    denied = db.session.execute(sa.select(Notice).where(Notice.kind == "denied")).scalar_one()
    notice_page = client.get(f"/track/notices/{denied.number}").get_data(as_text=True)
    assert "驳回回避申请决定书" in notice_page and "申请复议一次" in notice_page
    assert element(html, "reconsider-section") is not None

    empty = client.post("/track/case/request_reconsideration", data={"reconsider-reason": ""})
    assert empty.status_code == 400
    assert field_errors(field_box(empty.get_data(as_text=True), "reconsider-reason")) == [
        "此项必填"]

    response = client.post("/track/case/request_reconsideration",
                           data={"reconsider-reason": "有新的证据证明二人系表兄弟"})
    assert response.status_code == 302
    html = track_page(client)
    assert flashes(html) == ["已提交：申请复议"]
    assert text_of(element(html, "case-status")) == "复议中"
    assert element(html, "reconsider-section") is None
    assert "答复回避复议" in html  # the answer clock now runs


def test_late_reconsideration_shows_the_closing_date_instead_of_the_button(client, demo):
    long_ago = dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)
    with unit_of_work():
        case, code = recusals.submit(recusals.RecusalInput(
            organ_id=organ("BJ-CY").id, applicant_role="party", name="王小明",
            phone="13800138000", matter_ref=MATTER, officer_badge="BJ10001",
            ground_code="interest", facts=FACTS), long_ago)
    decide(case, "deny", {"reason": "不属于回避情形"}, now=long_ago + dt.timedelta(hours=2))
    assert client.post("/track", data={"number": case.number, "code": code}).status_code == 302
    html = track_page(client)
    assert element(html, "reconsider-section") is None
    closed = text_of(element(html, "reconsider-closed"))
    assert "申请复议的期限已于 2026-01-10 23:59 届满" in closed
    response = client.post("/track/case/request_reconsideration",
                           data={"reconsider-reason": "不服"})
    assert response.status_code == 409
    assert any("届满" in f for f in flashes(response.get_data(as_text=True)))
    assert load(case.number).state is S.DENIED


def test_withdraw_from_the_tracking_page(client, demo):
    case = file_and_track(client)
    response = client.post("/track/case/withdraw", data={"withdraw-reason": "已和解"})
    assert response.status_code == 302
    assert text_of(element(track_page(client), "case-status")) == S.WITHDRAWN.public_label
    assert load(case.number).state is S.WITHDRAWN


# --------------------------------------------------------------------------- staff


def test_intake_records_an_oral_application_and_hands_over_a_code(client, demo):
    login(client, demo, "intake")
    page = client.get("/staff/recusals/new")
    assert page.status_code == 200
    organs = element(page.get_data(as_text=True), "organ_id")
    assert "朝阳分局" in organs and "海淀分局" not in organs  # only the clerk's subtree
    response = client.post("/staff/recusals/new", data=valid_form(name="赵大爷", email=""))
    number, code = receipt(response)
    case = load(number)
    assert case.origin is RecusalOrigin.ORAL and CODE_RE.fullmatch(code)
    assert db.session.get(RecusalApplicant, case.id).name == "赵大爷"

    staff_page = client.get(f"/staff/recusals/{case.id}").get_data(as_text=True)
    assert text_of(element(staff_page, "recusal-origin")) == RecusalOrigin.ORAL.label
    assert "赵大爷" in staff_page and FACTS in staff_page
    # The applicant can track it with the code.
    other = client.application.test_client()
    assert other.post("/track", data={"number": number, "code": code}).status_code == 302


def test_oral_application_outside_the_clerks_scope_is_refused(client, demo):
    login(client, demo, "intake")
    response = client.post("/staff/recusals/new", data=valid_form(
        organ_id=str(organ("YN").id), officer_badge="YN50001",
        applicant_role="yunnan-2024:party", ground_code="yunnan-2024:interest"))
    assert response.status_code == 400
    assert "管辖范围" in " ".join(field_errors(field_box(response.get_data(as_text=True),
                                                         "organ_id")))
    assert recusal_count() == 0


def test_leader_decides_on_the_case_page_with_earlier_acts(client, demo):
    number, _code = receipt(post(client, valid_form()))
    case = load(number)
    login(client, demo, "leader")
    html = client.get(f"/staff/recusals/{case.id}").get_data(as_text=True)
    assert element(html, "action-grant") is not None and element(html, "action-deny")
    response = client.post(f"/staff/recusals/{case.id}/grant", data={
        "version": str(case.version), "reason": "经核实属实", "earlier_acts": "redo"})
    assert response.status_code == 302, response.get_data(as_text=True)
    case = load(number)
    assert case.state is S.GRANTED and case.earlier_acts_stand is False
    html = client.get(f"/staff/recusals/{case.id}").get_data(as_text=True)
    assert "不再有效" in text_of(element(html, "earlier-acts"))
    assert "准予回避决定书" in html


def test_leader_orders_a_recusal(client, demo):
    login(client, demo, "leader")
    assert client.get("/staff/recusals/order").status_code == 200
    bad = client.post("/staff/recusals/order", data={
        "officer_badge": "BJ99999", "matter_ref": MATTER, "ground_code": "", "facts": FACTS,
        "earlier_acts": "stand", "reason": "保证公正"})
    assert bad.status_code == 400
    bad_html = bad.get_data(as_text=True)
    assert "未找到编号为 BJ99999 的辅警" in " ".join(field_errors(field_box(bad_html,
                                                                            "officer_badge")))
    assert "所列的回避情形" in " ".join(field_errors(field_box(bad_html, "ground_code")))
    assert value_of(bad_html, "facts") == FACTS
    response = client.post("/staff/recusals/order", data={
        "officer_badge": "BJ10002", "matter_ref": MATTER,
        "ground_code": "beijing-2022:other_relation", "facts": FACTS,
        "earlier_acts": "stand", "reason": "为保证案件公正处理，指令回避"})
    assert response.status_code == 200, response.get_data(as_text=True)
    number = re.search(r'id="case-number">([^<]+)<', response.get_data(as_text=True)).group(1)
    case = load(number)
    assert (case.origin, case.state, case.earlier_acts_stand) == (RecusalOrigin.ORDERED,
                                                                  S.GRANTED, True)
    assert db.session.execute(sa.select(Notice.kind).where(
        Notice.case_id == case.id, Notice.case_type == "recusal")).scalar_one() == "ordered"


@pytest.mark.parametrize("who, path", [("intake", "/staff/recusals/order"),
                                       ("leader", "/staff/recusals/new"),
                                       ("officer", "/staff/recusals/new"),
                                       ("intake", "/staff/me/recusals/new")])
def test_each_staff_page_is_for_its_role_only(client, demo, who, path):
    login(client, demo, who)
    assert client.get(path).status_code == 403


def test_officer_self_recusal_and_never_sees_applications_about_them(client, demo):
    number, _code = receipt(post(client, valid_form()))  # about BJ10001, the demo officer
    public_case = load(number)
    login(client, demo, "officer")
    page = client.get("/staff/me/recusals/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "BJ10001" in html and 'data-pack="北京2022"' in html
    response = client.post("/staff/me/recusals/new", data={
        "matter_ref": "京公朝行罚决字〔2026〕88号", "ground_code": "beijing-2022:interest",
        "facts": "本人的哥哥是该案被处罚人所在公司的股东。"})
    assert response.status_code == 200, response.get_data(as_text=True)
    filed = response.get_data(as_text=True)
    number = re.search(r'id="case-number">([^<]+)<', filed).group(1)
    assert 'id="access-code"' not in filed
    own = load(number)
    assert (own.origin, own.applicant_role, own.officer.badge_no) == (RecusalOrigin.SELF, "",
                                                                       "BJ10001")
    # Neither the application about them nor even their own is open to the officer.
    for case in (public_case, own):
        assert client.get(f"/staff/recusals/{case.id}").status_code == 404
    assert client.get("/staff/?type=recusal").status_code in (302, 403)


def test_self_recusal_refuses_a_ground_outside_the_list(client, demo):
    login(client, demo, "officer")
    response = client.post("/staff/me/recusals/new", data={
        "matter_ref": "X1", "ground_code": "beijing-2022:dislike", "facts": "本人与当事人相识。"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_errors(field_box(html, "ground_code")) == [
        "请选择该机关适用的规定所列的回避情形"]
    assert value_of(html, "facts") == "本人与当事人相识。"


def test_applicant_identity_shown_only_to_the_deciding_organs_intake(client, demo):
    with unit_of_work():
        case, _code = recusals.submit(recusals.RecusalInput(
            organ_id=organ("BJ-CY").id, applicant_role="party", name="王小明",
            phone="13800138000", matter_ref=MATTER, officer_badge="BJ10002",
            ground_code="interest", facts=FACTS), dt.datetime.now(dt.UTC))
    assert case.organ.code == "BJ-CY-SLT"
    login(client, demo, "intake")  # 朝阳分局: sees the case, not who applied
    html = client.get(f"/staff/recusals/{case.id}").get_data(as_text=True)
    assert MATTER in html and "王小明" not in html and "13800138000" not in html
