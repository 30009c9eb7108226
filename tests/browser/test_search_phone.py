"""The staff search page and the similar-complaints panel on a 375 px phone: a search from
the queue's box, facet links, labelled result cards, no sideways scrolling, nothing
blocked by the CSP, and the "merge into" link opening a prefilled merge form."""

from __future__ import annotations

import pytest
from browser_helpers import assert_no_horizontal_overflow
from helpers import make_complaint
from playwright.sync_api import expect

from oversight.extensions import db

pytestmark = pytest.mark.browser

STORY = ("2026年11月20日晚在三里屯太古里南区门口，一名辅警态度蛮横，辱骂并推搡排队的群众，"
         "还抢走手机删除视频，<script>alert(1)</script>")


def login(page, server, username: str) -> None:
    page.goto(server.url + "/staff/login")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.click("main button[type=submit]")
    expect(page.locator("#queue-search")).to_be_visible()


def test_search_on_a_phone(new_page, live_server, console, artifacts):
    with live_server.app.app_context():
        first, _ = make_complaint(narrative=STORY + "。")
        second, _ = make_complaint(narrative=STORY + "，希望严肃处理。")
        numbers = {first.number, second.number}
        first_number, second_number = first.number, second.number
        db.session.remove()
    page = new_page(mobile=True)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, live_server, "intake")

    # From the queue's box to the search page.
    page.fill("#queue-search input[name=q]", "态度蛮横")
    page.click("#queue-search button[type=submit]")
    expect(page.locator("#search-total")).to_contain_text("2")
    hits = page.locator("#hits tbody tr")
    expect(hits).to_have_count(2)
    assert {hits.nth(i).locator("td").first.inner_text().strip() for i in range(2)} == numbers
    expect(page.locator("#hits mark").first).to_be_visible()
    # On a phone the table is one labelled card per hit.
    assert page.locator("table.stack thead").is_hidden()
    label = page.evaluate("getComputedStyle(document.querySelector('#hits td'),"
                          " '::before').content")
    assert label == '"编号"'
    assert_no_horizontal_overflow(page, "search results")
    page.screenshot(path=str(artifacts / "search-375.png"), full_page=True)

    # Filters from the form, then a facet link.
    page.select_option("#case_type", "complaint")
    page.fill("#date_from", "2000-01-01")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#hits tbody tr")).to_have_count(2)
    page.locator("#facet-state a").first.click()
    expect(page.locator("#hits tbody tr")).to_have_count(2)
    expect(page.locator("#state")).to_have_value("submitted")
    assert page.input_value("#q") == "态度蛮横"
    assert_no_horizontal_overflow(page, "filtered search")

    # The similar panel on one of them, and its link into the merge form.
    page.click(f"#hits a:text-is('{second_number}')")
    panel = page.locator("#similar")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text(first_number)
    assert_no_horizontal_overflow(page, "complaint page with similar cases")
    panel.locator(f"#merge-into-{first_number}").click()
    expect(page.locator("#action-merge")).to_have_attribute("open", "")
    expect(page.locator("#merge-target_number")).to_have_value(first_number)
    page.screenshot(path=str(artifacts / "similar-merge-375.png"), full_page=True)

    assert dialogs == []  # the <script> in the narrative never ran
    assert console.csp_violations() == []
