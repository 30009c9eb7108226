"""Send queued mail over SMTP when configured; otherwise it waits in the outbox."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app

from oversight.extensions import db
from oversight.models import MailOutbox, MailStatus
from oversight.models.base import utcnow


def smtp_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def drain_after_commit(limit: int = 20) -> int:
    """Try to send queued mail; failures stay queued with the error, never raise."""
    if not smtp_configured():
        return 0
    cfg = current_app.config
    rows = list(db.session.execute(
        sa.select(MailOutbox).where(MailOutbox.status == MailStatus.QUEUED)
        .order_by(MailOutbox.id).limit(limit)
    ).scalars())
    sent = 0
    for row in rows:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = cfg["MAIL_SENDER"], row.recipient, row.subject
        msg.set_content(row.body)
        row.attempts += 1
        try:
            with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10) as smtp:
                if cfg["MAIL_USE_TLS"]:
                    smtp.starttls()
                if cfg["MAIL_USERNAME"]:
                    smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
                smtp.send_message(msg)
            row.status, row.sent_at = MailStatus.SENT, utcnow()
            sent += 1
        except (OSError, smtplib.SMTPException) as exc:
            row.last_error = str(exc)[:300]
            if row.attempts >= 5:
                row.status = MailStatus.FAILED
        db.session.commit()
    return sent
