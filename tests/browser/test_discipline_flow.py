"""In the system Chromium: an officer receives a proposed 降低层级 and defends on a phone;
the leader approves the same measure, serves and executes it (the level drops); the
officer appeals from the portal; the upper organ's leader revokes it and the officer's
level is restored."""

from __future__ import annotations

import pytest
from browser_helpers import assert_no_horizontal_overflow, staff_login
from investigation_helpers import VIOLATION
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _violation(server) -> int:
    """An approved violation finding against BJ10001 (level 3), made through the services."""
    from helpers import organ, user

    from oversight.extensions import db
    from oversight.models import Officer
    from oversight.models.base import utcnow
    from oversight.services import investigations, workflow
    from oversight.services.uow import unit_of_work

    with server.app.app_context():
        with unit_of_work():
            officer = db.session.query(Officer).filter_by(badge_no="BJ10001").one()
            inv = investigations.open_investigation(
                user("inspector"), organ=organ("BJ-CY"), subject="执勤中辱骂群众",
                officer=officer, lead=user("inspector"), origin="initiative", now=utcnow())
        with unit_of_work():
            workflow.fire(inv, "propose_violation", user("inspector"),
                          {**VIOLATION, "category_codes": ["other"]})
        with unit_of_work():
            workflow.fire(inv, "approve_violation", user("leader"))
        inv_id = inv.id
        db.session.remove()
    return inv_id


def _act(page, trigger: str, fields: dict[str, str] | None = None, selects=None) -> None:
    box = page.locator(f"#action-{trigger}")
    box.locator("summary").click()
    for name, value in (fields or {}).items():
        box.locator(f"#{trigger}-{name}").fill(value)
    for name, value in (selects or {}).items():
        box.locator(f"#{trigger}-{name}").select_option(value)
    box.locator("button[type=submit]").click()


def test_defence_approval_appeal_and_revocation_restore_the_level(
        live_server, new_page, console, artifacts):
    server = live_server
    inv_id = _violation(server)

    # The inspector proposes 降低层级 from the investigation page.
    inspector = new_page()
    staff_login(inspector, server, "inspector")
    inspector.goto(f"{server.url}/staff/investigations/{inv_id}")
    inspector.locator("#propose-measure").click()
    inspector.select_option("#measure_code", "demotion")
    inspector.get_by_role("button", name="告知拟处理意见").click()
    expect(inspector.locator(".flash.success")).to_contain_text("已告知辅警拟处理意见")
    expect(inspector.locator("#case-state")).to_have_text("已告知拟处理意见")
    decision_url = inspector.url

    # The officer, on a phone, sees it with the deadline counting down and defends.
    officer = new_page(mobile=True)
    staff_login(officer, server, "officer")
    expect(officer).to_have_url(server.url + "/staff/me")
    row = officer.locator("[id^=decision-CF]")
    expect(row).to_contain_text("拟：降低层级")
    expect(row).to_contain_text("还剩")
    expect(officer.locator("#my-notices")).to_contain_text("拟处理意见告知书")
    expect(officer.locator("dd", has_text="第3级")).to_be_visible()
    assert_no_horizontal_overflow(officer, "officer portal")
    row.get_by_role("link", name="提交陈述申辩").click()
    _act(officer, "state_defence", {"statement": "当时对方先推搡执勤民警，我系制止，并无辱骂。"})
    expect(officer.locator(".flash.success")).to_contain_text("提交陈述申辩")
    expect(officer.locator("#statement")).to_contain_text("并无辱骂")
    officer.screenshot(path=str(artifacts / "officer-defence-phone.png"), full_page=True)
    assert_no_horizontal_overflow(officer, "decision page")

    # The leader cannot make it heavier, approves the same measure, serves and executes it.
    leader = new_page()
    staff_login(leader, server, "leader")
    leader.goto(decision_url)
    _act(leader, "approve", {"reason": "加重"}, {"measure_code": "not_retained"})
    expect(leader.locator(".flash.error")).to_contain_text("不得作出重于告知")
    _act(leader, "approve", {"reason": "经复核陈述申辩，维持拟处理意见"},
         {"measure_code": "demotion"})
    expect(leader.locator("#case-state")).to_have_text("已批准，待送达")
    _act(leader, "serve")
    expect(leader.locator("#case-state")).to_have_text("已送达，待执行")
    _act(leader, "execute")
    expect(leader.locator("#case-state")).to_have_text("已执行")
    expect(leader.locator("#decision-officer")).to_contain_text("第2级")

    # The officer appeals from the portal, within the window.
    officer.goto(server.url + "/staff/me")
    expect(officer.locator("dd", has_text="第2级")).to_be_visible()
    officer.locator(".appeal-link").click()
    expect(officer.locator("#appeal-deadline")).to_contain_text("还剩")
    officer.fill("#grounds", "现场执法记录仪视频可以证明我没有辱骂群众，请求撤销处理决定。")
    officer.get_by_role("button", name="提出申诉").click()
    expect(officer.locator(".flash.success")).to_contain_text("已提出申诉，编号 SS")
    appeal_url = officer.url
    assert_no_horizontal_overflow(officer, "appeal page")

    # The upper organ's leader reviews it (朝阳's approver cannot even open it) and revokes.
    leader.goto(appeal_url)
    expect(leader.locator("h1")).to_contain_text("未找到")
    reviewer = new_page()
    staff_login(reviewer, server, "bj_leader")
    reviewer.goto(appeal_url)
    expect(reviewer.locator("#case-state")).to_have_text("待复查")
    _act(reviewer, "revoke", {"reason": "视频显示该辅警系依法制止，原认定事实不清，撤销。"})
    expect(reviewer.locator("#case-state")).to_have_text("撤销原处理")

    # The officer's level is restored and the revocation is on the record.
    officer.goto(server.url + "/staff/me")
    expect(officer.locator("dd", has_text="第3级")).to_be_visible()
    expect(officer.locator("#officer-revoked")).to_contain_text("层级和聘用状态已恢复")
    expect(officer.locator("#my-notices")).to_contain_text("申诉复查决定书")
    officer.screenshot(path=str(artifacts / "officer-after-appeal-phone.png"), full_page=True)
    assert_no_horizontal_overflow(officer, "officer portal after appeal")
    assert console.csp_violations() == []
