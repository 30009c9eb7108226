"""Notices (告知书): rendered once from a template into a numbered, immutable record.

The text is stored, not re-rendered, so what the complainant received is exactly what an
auditor reads years later even after templates change. A hash of the text is kept with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa
from flask import render_template

from oversight.extensions import db
from oversight.models import MailOutbox, Notice
from oversight.services import numbering, registry

NOTICE_TITLES = {
    "acknowledgement": "受理告知书",
    "refusal": "不予受理告知书",
    "transfer": "转办告知书",
    "merge": "合并办理告知书",
    "outcome": "处理结果告知书",
    "review_decision": "复查意见书",
}


def issue(case: Any, kind: str, now: dt.datetime, extra: dict | None = None) -> Notice:
    binding = registry.binding_for(case)
    number = numbering.next_number("GZ", now)
    context = binding.notice_context(case, kind, now) if binding.notice_context else {}
    context.update(extra or {})
    context.update(number=number, issued_at=now, case=case, title=NOTICE_TITLES[kind])
    body = render_template(f"notices/{case.case_type}/{kind}.txt", **context).strip() + "\n"
    notice = Notice(
        number=number,
        case_type=case.case_type,
        case_id=case.id,
        kind=kind,
        title=NOTICE_TITLES[kind],
        body=body,
        issued_at=now,
        issuer_organ_id=case.organ_id,
        public=True,
        sha256=hashlib.sha256(body.encode()).hexdigest(),
    )
    db.session.add(notice)
    email = context.get("recipient_email")
    if email:
        db.session.flush()
        db.session.add(
            MailOutbox(
                notice_id=notice.id,
                recipient=email,
                subject=f"{NOTICE_TITLES[kind]}（{number}）",
                body=body,
                created_at=now,
            )
        )
    return notice


def for_case(case: Any, public_only: bool = False) -> list[Notice]:
    q = sa.select(Notice).where(Notice.case_type == case.case_type, Notice.case_id == case.id)
    if public_only:
        q = q.where(Notice.public.is_(True))
    return list(db.session.execute(q.order_by(Notice.issued_at, Notice.id)).scalars())
