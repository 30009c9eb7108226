"""Notices reach the complainant by email after commit when SMTP is configured, and wait
in the outbox otherwise; a failing server never loses or duplicates a message."""

import smtplib

import pytest
import sqlalchemy as sa
from helpers import make_complaint, user

from oversight.extensions import db
from oversight.models import MailOutbox, MailStatus
from oversight.services import mail, workflow
from oversight.services.uow import unit_of_work


class FakeSMTP:
    sent: list = []
    fail_with: Exception | None = None

    def __init__(self, host, port, timeout):
        self.host, self.port = host, port

    def __enter__(self):
        if FakeSMTP.fail_with:
            raise FakeSMTP.fail_with
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        pass

    def login(self, user, password):
        pass

    def send_message(self, msg):
        FakeSMTP.sent.append(msg)


@pytest.fixture
def smtp(app, monkeypatch):
    FakeSMTP.sent, FakeSMTP.fail_with = [], None
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    app.config["MAIL_SERVER"] = "smtp.test"
    return FakeSMTP


def test_without_smtp_mail_waits_in_the_outbox(demo):
    case, _ = make_complaint()
    with unit_of_work():
        workflow.fire(case, "accept", user("intake"))
    row = db.session.execute(sa.select(MailOutbox)).scalar_one()
    assert row.status is MailStatus.QUEUED and row.recipient == "wang@example.com"
    assert "受理告知书" in row.subject and case.number in row.body


def test_with_smtp_mail_is_sent_after_commit(demo, smtp):
    case, _ = make_complaint()
    with unit_of_work():
        workflow.fire(case, "accept", user("intake"))
        assert smtp.sent == []  # nothing leaves before the transaction commits
    assert len(smtp.sent) == 1
    msg = smtp.sent[0]
    assert msg["To"] == "wang@example.com" and case.number in msg.get_content()
    row = db.session.execute(sa.select(MailOutbox)).scalar_one()
    assert row.status is MailStatus.SENT and row.sent_at is not None
    assert mail.drain_after_commit() == 0  # never sent twice


def test_failures_are_retried_then_marked_failed(demo, smtp):
    smtp.fail_with = OSError("connection refused")
    case, _ = make_complaint()
    with unit_of_work():
        workflow.fire(case, "accept", user("intake"))
    row = db.session.execute(sa.select(MailOutbox)).scalar_one()
    assert row.status is MailStatus.QUEUED and "refused" in row.last_error
    for _ in range(4):
        mail.drain_after_commit()
    db.session.refresh(row)
    assert row.status is MailStatus.FAILED and row.attempts == 5


def test_anonymous_complaint_without_email_queues_nothing(demo):
    case, _ = make_complaint(anonymous=True, name="", phone="", email="")
    with unit_of_work():
        workflow.fire(case, "accept", user("intake"))
    assert db.session.execute(sa.select(sa.func.count(MailOutbox.id))).scalar() == 0
