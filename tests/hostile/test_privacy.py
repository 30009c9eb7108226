"""The complainant's identity stays with the handling organ's intake and inspectors: the
accused officer's pages, the officer-facing notices, staff mail, exports, the public
transparency page, the event log and search results for other staff never show the
complainant's name, phone, email or file names."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from consequence_helpers import LONG_AGO
from helpers import login, user
from hostile_helpers import (
    SECRET_EMAIL,
    SECRET_FILE,
    SECRET_NAME,
    SECRET_PHONE,
    SECRETS,
    secret_complaint,
)
from investigation_helpers import VIOLATION, fire
from webhelpers import refreshed

from oversight.extensions import db
from oversight.models import CaseEvent, MailOutbox, Notice
from oversight.models.base import utcnow
from oversight.services import discipline, supervision
from oversight.services.supervision import send_reminders
from oversight.services.uow import unit_of_work

STATS_TABLES = re.compile(r'href="(/staff/stats\?[^"]*format=csv[^"]*)"')


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.fixture
def handled(demo):
    """The complaint investigated, a violation found and a measure proposed to BJ10001;
    an upper organ's 督办 and overdue reminders mailed to staff who have addresses."""
    with unit_of_work():
        for name in ("intake", "inspector", "leader", "bj_leader"):
            user(name).email = f"{name}@police.example"
    complaint, _code = secret_complaint()
    fire(complaint, "accept", "intake", now=LONG_AGO)
    fire(complaint, "start_investigation", "inspector", now=LONG_AGO)
    inv = refreshed(complaint).investigation
    fire(inv, "propose_violation", "inspector",
         {**VIOLATION, "category_codes": [inv.pack.categories[0].code]}, now=LONG_AGO)
    fire(inv, "approve_violation", "leader", now=LONG_AGO)
    with unit_of_work():
        decision = discipline.propose(inv, user("inspector"), measure_code="demotion",
                                      facts="辱骂群众，情节较重。", now=LONG_AGO)
    with unit_of_work():
        due = (utcnow() + dt.timedelta(days=10)).date().isoformat()
        supervision.issue(user("bj_leader"), complaint, deadline=due, text="请加快办理",
                          now=utcnow())
    with unit_of_work():
        send_reminders(utcnow() + dt.timedelta(days=400))
    return complaint, inv, decision


def crawl(client, start: str, depth: int = 2) -> dict[str, str]:
    """Every same-site GET page reachable from ``start`` (staff pages only)."""
    seen: dict[str, str] = {}
    frontier = [start]
    for _level in range(depth + 1):
        found = []
        for url in frontier:
            if url in seen:
                continue
            response = client.get(url, buffered=True)
            seen[url] = f"{response.status_code} {dict(response.headers)} " + \
                response.get_data(as_text=True)
            response.close()
            found += [href for href in re.findall(r'href="([^"#]+)"', seen[url])
                      if href.startswith("/staff/") and not urlsplit(href).netloc]
        frontier = found
    return seen


def test_the_accused_officers_pages_never_show_the_complainant(app, handled, demo):
    client = app.test_client()
    login(client, demo, "officer")  # BJ10001's own account
    pages = crawl(client, "/staff/me")
    assert any(handled[2].number in text for text in pages.values())  # the decision shows
    assert {url: leaks(text) for url, text in pages.items() if leaks(text)} == {}


def test_officer_facing_notices_and_staff_mail_never_show_the_complainant(handled):
    db.session.rollback()
    officer_notices = db.session.execute(sa.select(Notice).where(
        Notice.case_type.not_in(["complaint", "recusal"]))).scalars().all()
    assert officer_notices
    assert {n.number: leaks(n.body + n.title) for n in officer_notices
            if leaks(n.body + n.title)} == {}
    mails = db.session.execute(sa.select(MailOutbox).where(
        MailOutbox.recipient != SECRET_EMAIL)).scalars().all()
    assert len(mails) >= 2  # the 督办 and the reminders reached staff
    assert {m.recipient: leaks(m.subject + m.body) for m in mails
            if leaks(m.subject + m.body)} == {}


def test_the_event_log_never_holds_the_complainant(handled):
    db.session.rollback()
    rows = db.session.execute(sa.select(CaseEvent)).scalars().all()
    text = " ".join(f"{e.reason} {e.payload}" for e in rows)
    assert rows and leaks(text) == []


def test_statistics_exports_never_show_the_complainant(app, handled, demo):
    for username in ("leader", "bj_leader", "intake"):
        client = app.test_client()
        login(client, demo, username)
        page = client.get("/staff/stats").get_data(as_text=True)
        exports = STATS_TABLES.findall(page)
        assert exports
        for url in exports:
            response = client.get(url.replace("&amp;", "&"))
            assert response.status_code == 200, url
            assert leaks(response.get_data(as_text=True)) == [], (username, url)
        assert leaks(page) == [], username


def test_transparency_page_and_export_never_show_the_complainant(app, handled):
    client = app.test_client()
    for url in ("/transparency", "/transparency?format=csv"):
        response = client.get(url)
        assert response.status_code == 200
        assert leaks(response.get_data(as_text=True)) == [], url


@pytest.mark.search
def test_search_by_the_complainants_details_finds_nothing_for_others(app, handled, demo):
    """A leader (no identity role) and an upper organ's leader may find the case by its
    facts, but searching by the complainant's details shows none of them."""
    number = refreshed(handled[0]).number
    for username in ("leader", "bj_leader"):
        client = app.test_client()
        login(client, demo, username)
        found = client.get("/staff/search", query_string={"q": "三里屯"}).get_data(as_text=True)
        assert number in found, username  # the case itself is searchable
        assert leaks(found) == [], username
        for secret in SECRETS:
            response = client.get("/staff/search", query_string={"q": secret})
            html = response.get_data(as_text=True).replace(f'value="{secret}"', "")
            assert response.status_code == 200
            assert number not in html, (username, secret)
            assert leaks(html) == [], (username, secret)


@pytest.mark.parametrize("username, sees", [("intake", True), ("inspector", True),
                                            ("leader", False), ("bj_leader", False)])
def test_only_the_handling_organs_intake_and_inspectors_see_who_complained(
        app, handled, demo, username, sees):
    """A leader decides on the facts, not on who complained; an upper organ supervises
    without the complainant's contact details either. (The evidence itself, file names
    included, is for everyone who handles the case.)"""
    complaint = handled[0]
    client = app.test_client()
    login(client, demo, username)
    page = client.get(f"/staff/complaints/{complaint.id}").get_data(as_text=True)
    assert complaint.number in page and SECRET_FILE in page
    identity = (SECRET_NAME, SECRET_PHONE, SECRET_EMAIL)
    shown = [s for s in identity if s in page]
    assert (shown == list(identity)) if sees else (shown == []), shown
