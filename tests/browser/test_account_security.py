"""The second factor on a 375 px phone: the admin requires it for leaders, a leader is led
to enrolment, scans (here: reads) the secret, confirms with a code, and from then on signs
in with password and code. Nothing overflows, nothing is blocked by the CSP."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from browser_helpers import assert_no_horizontal_overflow, staff_login
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_leader_enrols_and_signs_in_with_a_code_on_a_phone(new_page, live_server, console,
                                                                artifacts):
    admin = new_page()
    staff_login(admin, live_server, "admin")
    admin.goto(live_server.url + "/admin/security")
    admin.get_by_label("审批领导").check()
    admin.get_by_role("button", name="保存").click()
    expect(admin.locator(".flash.success")).to_be_visible()

    page = new_page(mobile=True)
    staff_login(page, live_server, "leader")
    expect(page).to_have_url(re.compile(r"/staff/account/factor$"))
    expect(page.locator(".qr svg")).to_be_visible()
    assert_no_horizontal_overflow(page, "enrolment")
    page.screenshot(path=str(artifacts / "account-factor-phone.png"), full_page=True)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")

    page.fill("#code", "123 45")
    page.get_by_role("button", name="确认启用").click()
    expect(page.locator("#code-err")).to_contain_text("6 位数字")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.get_by_role("button", name="确认启用").click()
    expect(page.locator(".flash.success")).to_contain_text("两步验证已启用")
    assert_no_horizontal_overflow(page, "account")

    page.get_by_role("button", name="退出").click()
    page.fill("#username", "leader")
    page.fill("#password", live_server.passwords["leader"])
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/staff/login/factor$"))
    assert_no_horizontal_overflow(page, "second step")
    # the enrolment spent the current code: the next step's code signs in
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    page.fill("#code", pyotp.TOTP(secret).at(later))
    page.get_by_role("button", name="验证并登录").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    assert console.csp_violations() == []
