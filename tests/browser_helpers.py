"""Helpers for the browser tests (plain functions; the fixtures live in
tests/browser/conftest.py)."""

from __future__ import annotations

MOBILE_WIDTH = 375


def assert_no_horizontal_overflow(page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= MOBILE_WIDTH, f"{what}: page is {width}px wide at {MOBILE_WIDTH}px"


def select_by_text(page, selector: str, text: str) -> str:
    """Select the option whose text, without (full-width) indentation, is ``text``."""
    value = page.eval_on_selector(
        selector,
        "(s, t) => { const o = [...s.options].find(o => o.textContent.trim() === t);"
        " return o ? o.value : null; }",
        text)
    assert value, f"no option {text!r} in {selector}"
    page.select_option(selector, value)
    return value


def staff_login(page, server, username: str) -> None:
    """Log ``username`` in on the staff login page and wait to leave it."""
    import re

    from playwright.sync_api import expect

    page.goto(server.url + "/staff/login")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.get_by_role("button", name="登录").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
