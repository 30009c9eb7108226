"""End to end in the system Chromium: a citizen files a complaint on a phone, staff take it
through acceptance, investigation, approval and the outcome notice, and the citizen reads
the notice and asks for a review. CSRF is on and the CSP must not block anything."""

from __future__ import annotations

import re

import pytest
from browser_helpers import assert_no_horizontal_overflow, select_by_text
from playwright.sync_api import expect

from workflows.complaint import ComplaintState, Finding

pytestmark = pytest.mark.browser

S = ComplaintState
NARRATIVE = "2026年11月20日晚在三里屯路口，辅警态度蛮横，辱骂群众并推搡，围观群众均可作证。"


def file_complaint(page, server, png_file, artifacts) -> tuple[str, str]:
    page.goto(server.url + "/complaints/new")
    expect(page.locator("h1")).to_have_text("投诉、检举、控告辅警")

    page.check("input[name=kind][value=complaint]")
    page.fill("#name", "王小明")
    page.fill("#phone", "13800138000")
    page.fill("#email", "wang@example.com")

    pack = page.eval_on_selector("#organ_id", "s => s.options[s.selectedIndex].dataset.pack")
    assert pack is None  # nothing chosen yet: every pack's categories are offered
    select_by_text(page, "#organ_id", "朝阳分局")
    # complaint-form.js (CSP: script-src 'self') keeps only the organ's pack's categories.
    expect(page.locator('#category_code optgroup[label="北京2022"]')).not_to_have_attribute(
        "hidden", re.compile(".*"))
    other = page.locator('#category_code optgroup:not([label="北京2022"])')
    assert other.count() > 0
    for i in range(other.count()):
        expect(other.nth(i)).to_have_attribute("hidden", re.compile(".*"))
        expect(other.nth(i)).to_be_disabled()
    page.select_option("#category_code", "beijing-2022:uncivil")

    page.fill("#officer_badge", "BJ10001")
    page.fill("#incident_place", "三里屯路口")
    page.fill("#narrative", NARRATIVE)
    page.set_input_files("#files", str(png_file))

    assert_no_horizontal_overflow(page, "complaint form")
    page.screenshot(path=str(artifacts / "complaint-form-375.png"), full_page=True)

    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.locator("#access-code")).to_be_visible()  # the POST's own response
    expect(page.locator("h1")).to_have_text("已收到您的投诉")
    number = page.locator("#case-number").inner_text().strip()
    code = page.locator("#access-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z]{2}\d+", number), number
    assert len(code.replace("-", "")) == 16, code
    assert_no_horizontal_overflow(page, "receipt")
    return number, code


def staff_login(page, server, username: str) -> None:
    page.goto(server.url + "/staff/login")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(server.url + "/staff/")


def staff_logout(page, server) -> None:
    page.locator("header.site").get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(re.escape(server.url + "/staff/login")))
    expect(page.locator(".flash.success")).to_have_text("已退出登录")


def open_case(page, number: str, state: ComplaintState) -> None:
    """From the queue, open the case; it must be listed in ``state``."""
    row = page.locator("table.queue tbody tr", has=page.get_by_role("link", name=number))
    expect(row.locator(".state")).to_have_text(state.label)
    row.get_by_role("link", name=number).click()
    expect(page.locator("h1")).to_contain_text(number)
    expect(page.locator("#case-state")).to_have_text(state.label)


def act(page, trigger: str, label: str, before: ComplaintState, after: ComplaintState,
        fill=None) -> None:
    """Open ``<details id="action-…">``, fill it in and submit; the state label must move."""
    expect(page.locator("#case-state")).to_have_text(before.label)
    details = page.locator(f"details#action-{trigger}")
    details.locator("summary").click()
    expect(details).to_have_attribute("open", "")
    if fill:
        fill(details)
    details.get_by_role("button", name=label, exact=True).click()
    expect(page.locator(".flash.success")).to_have_text(f"已完成：{label}")
    expect(page.locator("#case-state")).to_have_text(after.label)


def test_complaint_from_phone_to_review(live_server, new_page, console, png_file, artifacts):
    server = live_server

    # 1. The citizen files a complaint on a phone.
    citizen = new_page(mobile=True)
    number, code = file_complaint(citizen, server, png_file, artifacts)

    # 2. Staff, on a desktop, take it to the outcome notice.
    staff = new_page()
    staff_login(staff, server, "intake")
    open_case(staff, number, S.SUBMITTED)
    expect(staff.locator("dl.facts")).to_contain_text("BJ10001 张伟")
    expect(staff.get_by_role("link", name="现场照片.png")).to_be_visible()
    act(staff, "accept", "受理", S.SUBMITTED, S.ACCEPTED)
    staff_logout(staff, server)

    staff_login(staff, server, "inspector")
    open_case(staff, number, S.ACCEPTED)
    facts = "经调取执法记录仪视频，该辅警在劝离过程中确有辱骂群众的言语。"
    handling = "对该辅警批评教育，责令其向投诉人赔礼道歉。"

    def conclusion(details):
        details.locator("select[name=finding]").select_option(label=Finding.SUBSTANTIATED.label)
        details.locator("textarea[name=facts]").fill(facts)
        details.locator("textarea[name=handling]").fill(handling)

    act(staff, "propose_conclusion", "提出处理意见", S.ACCEPTED, S.CONCLUSION_PENDING,
        fill=conclusion)
    expect(staff.locator("section.panel").first).to_contain_text(
        f"调查结论：{Finding.SUBSTANTIATED.label}")
    staff_logout(staff, server)

    staff_login(staff, server, "leader")
    open_case(staff, number, S.CONCLUSION_PENDING)
    act(staff, "approve_conclusion", "批准处理意见", S.CONCLUSION_PENDING, S.CONCLUDED)
    staff_logout(staff, server)

    staff_login(staff, server, "intake")
    open_case(staff, number, S.CONCLUDED)
    act(staff, "issue_notice", "出具处理结果告知书", S.CONCLUDED, S.NOTIFIED)
    expect(staff.get_by_role("link", name="处理结果告知书")).to_be_visible()
    staff_logout(staff, server)

    # 3. The citizen, back on the phone, tracks the case, reads the notice, asks for review.
    citizen.goto(server.url + "/track")
    citizen.fill("#number", number)
    citizen.fill("#code", code)
    citizen.get_by_role("button", name="查询").click()
    expect(citizen).to_have_url(server.url + "/track/case")
    expect(citizen.locator("#case-number")).to_have_text(number)
    expect(citizen.locator("#case-status")).to_have_text(S.NOTIFIED.public_label)
    assert S.NOTIFIED.public_label == "已告知处理结果"
    assert_no_horizontal_overflow(citizen, "case page")

    citizen.get_by_role("link", name="处理结果告知书").click()
    notice = citizen.locator("#notice")
    expect(notice.locator("h1")).to_have_text("处理结果告知书")
    text = notice.locator(".notice-body").inner_text()
    assert re.search(rf"调查结论\s*{Finding.SUBSTANTIATED.label}。", text), text
    assert facts in text and handling in text
    assert "申请复查" in text
    assert_no_horizontal_overflow(citizen, "notice")
    citizen.screenshot(path=str(artifacts / "outcome-notice-375.png"), full_page=True)

    citizen.get_by_role("link", name="返回案件").click()
    expect(citizen).to_have_url(server.url + "/track/case")
    review = citizen.locator("section#review-section")
    review.locator("textarea[name='review-reason']").fill(
        "处理过轻：辅警推搡群众的情节未予认定，请求复查。")
    review.get_by_role("button", name="提交复查申请").click()
    expect(citizen.locator(".flash.success")).to_have_text("已提交：申请复查")
    expect(citizen.locator("#case-status")).to_have_text(S.UNDER_REVIEW.public_label)
    assert S.UNDER_REVIEW.public_label == "复查中"
    expect(citizen.locator("section#review-section")).to_have_count(0)

    assert not console.csp_violations(), console.csp_violations()


def test_forged_form_is_refused_but_real_token_passes(live_server, new_page, console):
    """CSRF is really on in the live server: a tampered token is refused, the real one works."""
    page = new_page(mobile=True)
    page.goto(live_server.url + "/track")
    page.fill("#number", "TS2026999999")
    page.fill("#code", "ABCD-EFGH-JKLM-NPQR")
    page.eval_on_selector("input[name=csrf_token]", "e => { e.value = 'forged'; }")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("main")).to_contain_text("页面已过期或来源无效")

    page.goto(live_server.url + "/track")
    page.fill("#number", "TS2026999999")
    page.fill("#code", "ABCD-EFGH-JKLM-NPQR")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#track-error")).to_be_visible()  # got past CSRF to the lookup
    assert not console.csp_violations(), console.csp_violations()


def test_csp_violations_are_detected(live_server, new_page, console):
    """The console check above can see a violation: an inline script must be refused."""
    page = new_page()
    page.goto(live_server.url + "/")
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate("""() => { const s = document.createElement('script');
                                 s.textContent = 'window.__inline_ran = true';
                                 document.head.appendChild(s); }""")
    assert page.evaluate("window.__inline_ran === undefined")
    assert console.csp_violations()
