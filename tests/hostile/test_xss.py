"""XSS payloads in every free-text field a person types (public forms, staff actions,
investigations) and in file names come back escaped: on staff and public pages, in
notices, in mail (sent as plain text) and in search highlights."""

from __future__ import annotations

import smtplib

import pytest
import sqlalchemy as sa
from helpers import PNG_BYTES, Upload, login, organ, user
from hostile_helpers import (
    SEGMENTS,
    XSS,
    XSS_ESCAPED,
    active_markup,
    complaint_form,
    notices_of,
    post_form,
    receipt_number,
    recusal_form,
)
from investigation_helpers import fire, officer
from webhelpers import refreshed

from oversight.extensions import db
from oversight.models import Complaint, MailOutbox, Recusal
from oversight.models.base import utcnow
from oversight.services import investigations
from oversight.services.uow import unit_of_work

SCRIPT, IMG = XSS
FILE_NAME = IMG + ".png"  # "/" cannot survive in a stored name; this one has none


def assert_escaped(html: str, *, shown=XSS_ESCAPED) -> None:
    for payload in XSS:
        assert payload not in html
    assert active_markup(html) == []
    for escaped in shown:
        assert escaped in html, escaped


def load(model, number):
    db.session.rollback()
    return db.session.execute(sa.select(model).where(model.number == number)).scalar_one()


@pytest.fixture
def hostile_complaint(app, demo):
    """Filed through the public form with a payload in every free-text field and a
    hostile file name; then handled by staff who typed payloads in theirs."""
    data = complaint_form(name=SCRIPT[:60], officer_description=SCRIPT + IMG,
                          incident_place=IMG[:100], narrative=f"辅警辱骂群众。{SCRIPT}{IMG}",
                          email="victim@example.com")
    client = app.test_client()
    response = post_form(client, "/complaints/new", data, files=[(PNG_BYTES, FILE_NAME)])
    html = response.get_data(as_text=True)
    assert_escaped(html, shown=())
    case = load(Complaint, receipt_number(response))
    code = html.split('id="access-code">')[1].split("<")[0]
    fire(case, "accept", "intake")
    fire(case, "add_note", "inspector", {"note": SCRIPT + IMG})
    fire(case, "propose_conclusion", "inspector",
         {"finding": "partly", "facts": f"经查属实。{SCRIPT}", "handling": f"批评教育{IMG}"})
    fire(case, "approve_conclusion", "leader")
    fire(case, "issue_notice", "intake")
    return refreshed(case), code


def test_staff_case_page_escapes_every_field_and_file_name(app, demo, hostile_complaint):
    case, _code = hostile_complaint
    client = app.test_client()
    login(client, demo, "intake")  # sees the identity and the files
    html = client.get(f"/staff/complaints/{case.id}").get_data(as_text=True)
    assert_escaped(html)
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.png" in html  # the file name


def test_notices_staff_and_public_escape_the_payloads(app, demo, hostile_complaint):
    case, code = hostile_complaint
    numbers = [n.number for n in notices_of(case)]
    assert numbers
    staff_client = app.test_client()
    login(staff_client, demo, "intake")
    public = app.test_client()
    assert public.post("/track", data={"number": case.number, "code": code}) \
        .status_code == 302
    track = public.get("/track/case").get_data(as_text=True)
    assert_escaped(track, shown=())
    outcome = next(n for n in notices_of(case) if n.kind == "outcome")
    for client, url in ((staff_client, f"/staff/notices/{outcome.number}"),
                        (public, f"/track/notices/{outcome.number}")):
        html = client.get(url).get_data(as_text=True)
        assert_escaped(html)


def test_mail_goes_as_plain_text_with_the_payload_inert(app, demo, hostile_complaint,
                                                        monkeypatch):
    sent = []

    class FakeSMTP:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            pass

        def send_message(self, msg):
            sent.append(msg)

    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.example")
    from oversight.services import mail

    assert db.session.execute(sa.select(sa.func.count(MailOutbox.id))).scalar_one() > 0
    mail.drain_after_commit(limit=100)
    assert sent
    for msg in sent:
        assert not msg.is_multipart()
        assert msg.get_content_type() == "text/plain"
        assert "\n" not in msg["Subject"]
    assert any(SCRIPT in msg.get_content() for msg in sent)  # as typed, in plain text


def test_public_recusal_form_fields_are_escaped_for_staff(app, demo):
    data = recusal_form(name=SCRIPT[:60], matter_ref=IMG, matter_summary=SCRIPT,
                        facts=f"该辅警是对方当事人的表弟。{SCRIPT}{IMG}")
    response = post_form(app.test_client(), "/recusals/new", data,
                         files=[(PNG_BYTES, FILE_NAME)])
    recusal = load(Recusal, receipt_number(response))
    client = app.test_client()
    login(client, demo, "intake")
    html = client.get(f"/staff/recusals/{recusal.id}").get_data(as_text=True)
    assert_escaped(html)


def test_investigation_fields_and_evidence_file_names_are_escaped(app, demo):
    with unit_of_work():
        inv = investigations.open_investigation(
            user("inspector"), organ=organ("BJ-CY"), subject=SCRIPT, summary=IMG,
            officer=officer("BJ10001"), lead=user("inspector"), origin="initiative",
            now=utcnow())
    fire(inv, "add_evidence", "inspector", {
        "evidence_kind": "document", "evidence_title": SCRIPT, "evidence_description": IMG,
        "files": [Upload(FILE_NAME, PNG_BYTES)]})
    fire(inv, "add_note", "leader", {"note": IMG + SCRIPT})
    client = app.test_client()
    login(client, demo, "leader")
    html = client.get(f"/staff/{SEGMENTS['investigation']}/{inv.id}").get_data(as_text=True)
    assert_escaped(html)
    queue = client.get("/staff/?type=investigation").get_data(as_text=True)
    assert_escaped(queue, shown=())


@pytest.mark.search
def test_search_highlights_escape_the_payloads(app, demo, hostile_complaint):
    case, _code = hostile_complaint
    client = app.test_client()
    login(client, demo, "intake")
    for query in ("alert", "script", "onerror", "img", "辱骂"):
        html = client.get("/staff/search", query_string={"q": query}).get_data(as_text=True)
        assert case.number in html, query
        for payload in XSS:
            assert payload not in html, query
        assert active_markup(html) == [], query
        assert "<mark>" in html, query
