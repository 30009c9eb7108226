"""End to end in the system Chromium: a citizen on a 375px phone files a recusal application
(the form shows only the chosen organ's pack), a leader refuses it on the staff case page,
and the citizen tracks it, reads the refusal, and asks for 复议. CSRF is on and the CSP must
not block anything."""

from __future__ import annotations

import re

import pytest
from browser_helpers import assert_no_horizontal_overflow, select_by_text
from playwright.sync_api import expect

from workflows.recusal import RecusalState

pytestmark = pytest.mark.browser

S = RecusalState
MATTER = "京公朝（三）受案字〔2026〕1123号"
FACTS = "该辅警是对方当事人李某的表弟，我在现场听到二人以表兄弟相称，担心处理不公。"


def file_application(page, server, png_file, artifacts) -> tuple[str, str]:
    page.goto(server.url + "/")
    page.get_by_role("link", name=re.compile("申请辅警回避")).click()
    expect(page.locator("h1")).to_have_text("申请辅警回避")
    # Nothing chosen yet: no pack's note is shown.
    expect(page.locator(".pack-note:visible")).to_have_count(0)

    # Sichuan lists no grounds and names no applicants: a described ground and the
    # national fallback, said on screen.
    select_by_text(page, "#organ_id", "锦江区分局")
    expect(page.locator('.pack-note[data-pack="四川2021"]')).to_be_visible()
    expect(page.locator('.pack-note[data-pack="四川2021"]')).to_contain_text("适用国家规定")
    expect(page.locator("#ground_text")).to_be_visible()
    expect(page.locator("#ground_code")).to_be_hidden()

    # Beijing lists three grounds: the list replaces the description.
    select_by_text(page, "#organ_id", "朝阳分局")
    note = page.locator('.pack-note[data-pack="北京2022"]')
    expect(note).to_be_visible()
    expect(note).to_contain_text("第十七条")
    expect(page.locator(".pack-note:visible")).to_have_count(1)
    expect(page.locator("#ground_text")).to_be_hidden()
    expect(page.locator("#ground_code")).to_be_visible()
    other = page.locator('#applicant_role optgroup:not([label="北京2022"])')
    assert other.count() > 0
    for i in range(other.count()):
        expect(other.nth(i)).to_be_disabled()

    page.fill("#officer_badge", "BJ10001")
    page.select_option("#applicant_role", "beijing-2022:party")
    page.fill("#name", "王小明")
    page.fill("#phone", "13800138000")
    page.fill("#matter_ref", MATTER)
    page.select_option("#ground_code", "beijing-2022:party_or_relative")
    page.fill("#facts", FACTS)
    page.set_input_files("#files", str(png_file))
    assert_no_horizontal_overflow(page, "recusal form")
    page.screenshot(path=str(artifacts / "recusal-form-375.png"), full_page=True)

    page.get_by_role("button", name="提交申请").click()
    expect(page.locator("h1")).to_have_text("已收到您的回避申请")
    number = page.locator("#case-number").inner_text().strip()
    code = page.locator("#access-code").inner_text().strip()
    assert re.fullmatch(r"HB\d{10}", number), number
    assert len(code.replace("-", "")) == 16, code
    expect(page.locator("#matter-goes-on")).to_contain_text("办理不停止")
    assert_no_horizontal_overflow(page, "receipt")
    return number, code


def leader_denies(page, server, number: str, reason: str) -> None:
    page.goto(server.url + "/staff/login")
    page.fill("#username", "leader")
    page.fill("#password", server.passwords["leader"])
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(server.url + "/staff/")
    page.goto(server.url + "/staff/?type=recusal")
    page.get_by_role("link", name=number).click()
    expect(page.locator("#case-state")).to_have_text(S.FILED.label)
    expect(page.locator("#recusal-origin")).to_have_text("当事人网上申请")
    details = page.locator("details#action-deny")
    details.locator("summary").click()
    details.locator("textarea[name=reason]").fill(reason)
    details.get_by_role("button", name="决定驳回申请", exact=True).click()
    expect(page.locator(".flash.success")).to_have_text("已完成：决定驳回申请")
    expect(page.locator("#case-state")).to_have_text(S.DENIED.label)


def test_recusal_from_phone_to_reconsideration(live_server, new_page, console, png_file,
                                               artifacts):
    server = live_server
    citizen = new_page(mobile=True)
    number, code = file_application(citizen, server, png_file, artifacts)

    reason = "经核查，该辅警与对方当事人不存在亲属关系。"
    leader_denies(new_page(), server, number, reason)

    citizen.goto(server.url + "/track")
    citizen.fill("#number", number)
    citizen.fill("#code", code)
    citizen.get_by_role("button", name="查询").click()
    expect(citizen).to_have_url(server.url + "/track/case")
    expect(citizen.locator("#case-number")).to_have_text(number)
    expect(citizen.locator("#case-status")).to_have_text(S.DENIED.public_label)
    assert_no_horizontal_overflow(citizen, "tracking page")

    citizen.get_by_role("link", name="驳回回避申请决定书").click()
    notice = citizen.locator("#notice")
    expect(notice.locator("h1")).to_have_text("驳回回避申请决定书")
    text = notice.locator(".notice-body").inner_text()
    assert reason in text and MATTER in text and "申请复议一次" in text
    assert "《北京市公安机关警务辅助人员管理办法》第十七条" in text
    assert re.search(r"截止时间为 \d{4}-\d{2}-\d{2} 23:59", text), text
    assert "王小明" not in text
    assert_no_horizontal_overflow(citizen, "refusal notice")
    citizen.screenshot(path=str(artifacts / "recusal-refusal-375.png"), full_page=True)

    citizen.get_by_role("link", name="返回案件").click()
    section = citizen.locator("section#reconsider-section")
    section.locator("textarea[name='reconsider-reason']").fill(
        "二人确系表兄弟，我可以提供双方家属的证言。")
    section.get_by_role("button", name="提交复议申请").click()
    expect(citizen.locator(".flash.success")).to_have_text("已提交：申请复议")
    expect(citizen.locator("#case-status")).to_have_text("复议中")
    expect(citizen.locator("section#reconsider-section")).to_have_count(0)
    expect(citizen.locator("#matter-goes-on")).to_be_visible()
    assert_no_horizontal_overflow(citizen, "tracking page in 复议")

    assert not console.csp_violations(), console.csp_violations()
