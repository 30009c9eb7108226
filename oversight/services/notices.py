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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from oversight.extensions import db
from oversight.models import MailOutbox, Notice
from oversight.services import numbering, registry

#: Titles go through gettext; the bodies are whole templates per locale (legal documents).
NOTICE_TITLES = {
    "acknowledgement": _l("受理告知书"),
    "refusal": _l("不予受理告知书"),
    "transfer": _l("转办告知书"),
    "merge": _l("合并办理告知书"),
    "outcome": _l("处理结果告知书"),
    "review_decision": _l("复查意见书"),
    "extension": _l("延期办理告知书"),
    "recheck_decision": _l("复核意见书"),
    # recusal applications
    "granted": _l("准予回避决定书"),
    "denied": _l("驳回回避申请决定书"),
    "reconsideration": _l("回避复议决定书"),
    "ordered": _l("指令回避决定书"),
    # duty suspensions
    "decision": _l("暂停履行职责决定书"),
    "lifted": _l("恢复履行职责通知书"),
    "appeal_decision": _l("暂停履职申诉决定书"),
    # disciplinary decisions and appeals against them
    "discipline_proposal": _l("拟处理意见告知书"),
    "discipline_decision": _l("处理决定书"),
    "discipline_dropped": _l("不予处理决定书"),
    "appeal_ruling": _l("申诉复查决定书"),
    # compensation recovery
    "recovery_proposal": _l("拟追偿告知书"),
    "recovery_order": _l("责令承担赔偿费用决定书"),
    "recovery_closed": _l("不予追偿决定书"),
    "recovery_settled": _l("追偿结清通知书"),
}


def issue(case: Any, kind: str, now: dt.datetime, extra: dict | None = None) -> Notice:
    binding = registry.binding_for(case)
    number = numbering.next_number("GZ", now)
    context = binding.notice_context(case, kind, now) if binding.notice_context else {}
    context.update(extra or {})
    title = str(NOTICE_TITLES[kind])  # the record stores the text, never a lazy string
    context.update(number=number, issued_at=now, case=case, title=title)
    body = render_template(f"notices/{case.case_type}/{kind}.txt", **context).strip() + "\n"
    notice = Notice(
        number=number,
        case_type=case.case_type,
        case_id=case.id,
        kind=kind,
        title=title,
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
                subject=_("%(title)s（%(number)s）", title=title, number=number),
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


def verify_notices():
    """Yield the numbers of notices whose text no longer matches the hash taken at issue."""
    rows = db.session.execute(
        sa.select(Notice.number, Notice.body, Notice.sha256).order_by(Notice.id)
        .execution_options(yield_per=500)
    )
    for number, body, digest in rows:
        if hashlib.sha256(body.encode()).hexdigest() != digest:
            yield number
