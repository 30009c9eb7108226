"""Site-wide form behaviour in the real browser: a second tap on a submit button while the
first request is on its way sends nothing (a slow phone must not file twice)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# Runs before the page's own scripts. A window listener fires after app.js's document
# listener, records whether app.js let each submission through, and then stops the
# navigation itself so the page stays put for the next tap.
RECORDER = """
window.__submits = [];
window.addEventListener("submit", function (ev) {
  window.__submits.push(ev.defaultPrevented);
  ev.preventDefault();
});
"""


def test_second_submit_is_swallowed(new_page, live_server, console):
    page = new_page(mobile=True)
    page.add_init_script(RECORDER)
    page.goto(live_server.url + "/track")
    page.fill("#number", "TS2026000001")
    page.fill("#code", "AAAA-BBBB-CCCC-DDDD")
    button = "main form button[type=submit]"
    page.click(button)
    page.click(button)
    assert page.evaluate("window.__submits") == [False, True]
    assert page.get_attribute(button, "aria-busy") == "true"
    assert console.csp_violations() == []


def test_form_is_usable_again_after_back_navigation(new_page, live_server):
    page = new_page(mobile=True)
    page.goto(live_server.url + "/track")
    page.fill("#number", "TS2026000001")
    page.fill("#code", "AAAA-BBBB-CCCC-DDDD")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    page.go_back()
    assert page.evaluate("document.querySelector('main form').hasAttribute('data-submitted')") \
        is False
