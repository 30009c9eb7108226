"""Browser-test fixtures: the system Chromium through Playwright and a live server."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import PNG_BYTES, make_app, prepare_database
from werkzeug.serving import make_server

from oversight.extensions import db
from oversight.seed import seed_demo
from oversight.services.uow import unit_of_work

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TEST_COMMAND = "./dev test  (the README's test command; it installs Chromium with apt-get)"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


# --- the browser -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """The system Chromium. Missing Chromium is a failure, never a skip (in CI or not)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        where = "CI" if os.environ.get("CI") else "this machine"
        pytest.fail(f"{CHROMIUM} is missing on {where}: the browser tests drive the system "
                    f"Chromium (install the distribution's chromium package), then run "
                    f"`{TEST_COMMAND}`.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class ConsoleLog:
    """Console messages and page errors of every page it is attached to."""

    def __init__(self):
        self.messages: list[str] = []

    def attach(self, page) -> None:
        page.on("console", lambda msg: self.messages.append(f"console.{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]


@pytest.fixture
def console():
    return ConsoleLog()


@pytest.fixture
def new_page(browser, console):
    """``new_page(mobile=True)`` opens a page in a fresh context (own cookies)."""
    contexts = []

    def _open(mobile: bool = False):
        options = {"locale": "zh-CN"}
        if mobile:
            options.update(viewport={"width": 375, "height": 812}, is_mobile=True,
                           has_touch=True)
        else:
            options.update(viewport={"width": 1280, "height": 900})
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10000)
        console.attach(page)
        return page

    yield _open
    for context in contexts:
        context.close()


# --- the live server -------------------------------------------------------------------

@dataclass
class LiveServer:
    url: str
    app: object
    passwords: dict[str, str]


def _closed_before_served(app):
    """``app`` with each response read whole and closed before it goes to the server.

    Werkzeug's development server closes a response's iterable only after it has
    drained what is left of the request from the socket; when the browser has already
    dropped the connection (a page closed while a stylesheet was on its way), that read
    raises and the close is skipped (``werkzeug.serving``, ``execute``). A static file's
    handle was then left to the garbage collector, and its ResourceWarning failed
    whichever test was running under ``-W error``. The pages of these tests are small;
    gunicorn, which serves the app in production, closes every iterable."""

    def served(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return served


@pytest.fixture
def live_server(tmp_path, _pg_schema):
    """The app with CSRF on, demo data seeded, served on 127.0.0.1 from a thread."""
    # A file database: the server threads and the test share it.
    # The real forms, with real tokens; the index kept fresh after each commit, as in the app.
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True, SEARCH_INLINE=True)
    with app.app_context():
        prepare_database()
        with unit_of_work():
            passwords = seed_demo()
        db.session.remove()

    server = make_server("127.0.0.1", 0, _closed_before_served(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app,
                         passwords=passwords)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def png_file(tmp_path) -> Path:
    path = tmp_path / "现场照片.png"
    path.write_bytes(PNG_BYTES)
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ (gitignored): screenshots for humans, never asserted on."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

