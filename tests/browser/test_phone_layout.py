"""Staff pages stay usable at 375 px: no sideways scrolling; wide tables become cards."""

from __future__ import annotations

import pytest
from helpers import make_complaint

from oversight.extensions import db

pytestmark = pytest.mark.browser


def test_staff_pages_fit_a_phone(new_page, live_server, console):
    with live_server.app.app_context():
        case, _ = make_complaint()
        case_id = case.id
        db.session.remove()
    page = new_page(mobile=True)
    page.goto(live_server.url + "/staff/login")
    page.fill("#username", "intake")
    page.fill("#password", live_server.passwords["intake"])
    page.click("main button[type=submit]")
    for path in ("/staff/", f"/staff/complaints/{case_id}", "/staff/workflow/complaint",
                 "/staff/packs/yunnan-2024"):
        page.goto(live_server.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width}px wide"
    page.goto(live_server.url + "/staff/")
    assert page.locator("table.stack thead").is_hidden()
    label = page.evaluate("getComputedStyle(document.querySelector('table.stack td'),"
                          " '::before').content")
    assert label == '"编号"'
    assert console.csp_violations() == []
