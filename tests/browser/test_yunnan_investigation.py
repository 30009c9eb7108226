"""In the system Chromium at phone width: an inspector of a Yunnan organ opens an
investigation into YN50001 through the form. Yunnan suspends an investigated officer for
the investigation (第三十二条), so the investigation page and the officer's record both
flag the officer 暂停履职, and the decision notice is on the suspension's page."""

from __future__ import annotations

import re

import pytest
from browser_helpers import assert_no_horizontal_overflow
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

def test_yunnan_inspector_opens_an_investigation_and_the_officer_is_flagged(
        live_server, new_page, console, artifacts):
    server = live_server
    page = new_page(mobile=True)
    page.goto(server.url + "/staff/login")
    page.fill("#username", "yn_inspector")
    page.fill("#password", server.passwords["yn_inspector"])
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(server.url + "/staff/")

    page.goto(server.url + "/staff/investigations/new")
    expect(page.locator("h1")).to_have_text("立案调查")
    page.check("input[name=origin][value=initiative]")
    page.fill("#officer_badge", "YN50001")
    page.fill("#subject", "群众反映执勤中态度粗暴")
    page.fill("#summary", "2026年11月20日晚，群众来电反映五华分局辅警执勤中推搡群众。")
    expect(page.locator("#lead_id option:checked")).to_contain_text("督察小李（五华）")
    assert_no_horizontal_overflow(page, "open form")
    page.get_by_role("button", name="立案").click()

    expect(page).to_have_url(re.compile(re.escape(server.url) + r"/staff/investigations/\d+$"))
    flashes = page.locator(".flash.success")
    expect(flashes.first).to_contain_text("已立案调查，编号 DC")
    expect(flashes.nth(1)).to_contain_text("暂停该辅警履行职责")
    officer = page.locator("#investigated-officer")
    expect(officer).to_contain_text("YN50001 赵磊")
    expect(officer.locator(".suspended-flag")).to_have_text("暂停履职")
    expect(officer.locator(".suspended-flag")).to_be_visible()
    expect(page.locator("#suspension-rule")).to_contain_text("第三十二条")
    expect(page.locator("#recorder-hint")).to_contain_text("第十九条")
    page.screenshot(path=str(artifacts / "yunnan-investigation-phone.png"), full_page=True)
    assert_no_horizontal_overflow(page, "investigation page")

    # The automatic suspension: its page cites 第三十二条 and the maximum by analogy.
    page.locator("#officer-suspensions a").first.click()
    expect(page.locator("#case-state")).to_have_text("暂停履职中")
    expect(page.locator("#suspension-basis")).to_contain_text("第三十二条")
    expect(page.locator("#suspension-limit")).to_contain_text("参照")
    expect(page.locator("#suspension-limit")).to_contain_text("《公安机关督察条例》第十二条")
    expect(page.get_by_role("link", name="暂停履行职责决定书")).to_be_visible()
    assert_no_horizontal_overflow(page, "suspension page")
    page.go_back()

    # The officer's record carries the flag too.
    officer.get_by_role("link").click()
    expect(page.locator("h1 .suspended-flag")).to_have_text("暂停履职")
    expect(page.locator("#duty-status")).to_contain_text("暂停履行职责中")
    expect(page.locator("#officer-investigations")).to_contain_text("群众反映执勤中态度粗暴")
    page.screenshot(path=str(artifacts / "yunnan-officer-record-phone.png"), full_page=True)
    assert_no_horizontal_overflow(page, "officer record")
    assert console.csp_violations() == []
