"""In the system Chromium: the upper organ's leader opens the overdue list, issues a 督办
on a lower organ's overdue complaint, and the handling inspector sees it on the queue and
the case page (on a phone) and answers it."""

from __future__ import annotations

import datetime as dt

import pytest
from browser_helpers import assert_no_horizontal_overflow, staff_login
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _overdue_complaint(server) -> str:
    from helpers import make_complaint

    from oversight.extensions import db
    from oversight.models.base import utcnow

    with server.app.app_context():
        case, _code = make_complaint(now=utcnow() - dt.timedelta(days=30))
        number = case.number
        db.session.remove()
    return number


def test_leader_supervises_an_overdue_case_and_the_handler_answers(
        live_server, new_page, console, artifacts):
    server = live_server
    number = _overdue_complaint(server)

    leader = new_page()
    staff_login(leader, server, "bj_leader")
    leader.locator("#deadlines-link").click()
    row = leader.locator(f"#due-{number}-acknowledge")
    expect(row).to_contain_text("已超期")
    expect(row).to_contain_text("告知是否受理")
    row.get_by_role("link", name="督办").click()
    box = leader.locator("#action-supervise")
    box.locator("summary").click()
    box.locator("#deadline").fill((dt.date.today() + dt.timedelta(days=3)).isoformat())
    box.locator("button[type=submit]").click()
    expect(leader.locator("#supervise-text-err, .error").first).to_contain_text("请写明督办要求")
    box = leader.locator("#action-supervise")
    box.locator("#text").fill("该投诉已超过受理告知期限，请三日内受理并书面告知投诉人。")
    box.locator("button[type=submit]").click()
    expect(leader.locator(".flash.success")).to_contain_text(f"已督办 {number}")
    expect(leader.locator("#supervision")).to_contain_text("请三日内受理")

    handler = new_page(mobile=True)
    staff_login(handler, server, "inspector")
    banner = handler.locator("#open-supervisions")
    expect(banner).to_contain_text("上级机关督办 1 件")
    assert_no_horizontal_overflow(handler, "queue with supervision")
    banner.get_by_role("link").first.click()
    panel = handler.locator("#supervision")
    expect(panel).to_contain_text("请三日内受理")
    panel.locator("textarea").fill("已于今日受理，正在核实。")
    panel.get_by_role("button", name="回复督办").click()
    expect(handler.locator(".flash.success")).to_contain_text("已回复督办")
    expect(handler.locator("#supervision")).to_contain_text("已于今日受理")
    expect(handler.locator(".timeline")).to_contain_text("上级机关督办")
    handler.screenshot(path=str(artifacts / "supervision-handler-phone.png"), full_page=True)
    assert_no_horizontal_overflow(handler, "case with supervision")
    handler.goto(server.url + "/staff/")
    expect(handler.locator("#open-supervisions")).to_have_count(0)
    assert console.csp_violations() == []
