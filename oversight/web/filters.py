"""Template filters: times shown in Beijing time, money in yuan."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_babel import lazy_gettext as _l

from oversight.services.attachments import filesize
from workflows.clocks import to_local


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return to_local(value).strftime(fmt)


def local_date(value: dt.datetime | None) -> str:
    return local_time(value, "%Y-%m-%d")


def iso_local(value: str | None) -> str:
    """An ISO timestamp kept in JSON (a clock's pause), shown in Beijing time."""
    return local_time(dt.datetime.fromisoformat(value)) if value else ""


def countdown(due: dt.datetime | None, now: dt.datetime) -> str:
    """'还剩 3 天 4 小时（至 2026-12-01 23:59）', or '已于 … 届满' once it has passed."""
    from flask_babel import gettext as _

    if due is None:
        return ""
    when = local_time(due)
    if now > due:
        return _("已于 %(when)s 届满", when=when)
    left = due - now
    return _("还剩 %(days)s 天 %(hours)s 小时（至 %(when)s）", days=left.days,
             hours=left.seconds // 3600, when=when)


def case_type_label(name: str) -> str:
    from oversight.services import registry

    return registry.spec_for(name).label


def yuan(fen: int | None) -> str:
    """Integer fen shown in yuan: 123450 -> ¥1,234.50."""
    from workflows.money import format_fen

    return "" if fen is None else f"¥{format_fen(fen)}"


def register(app: Flask) -> None:
    app.add_template_filter(filesize, "filesize")
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(iso_local, "iso_local")
    app.add_template_global(event_label, "event_label")
    app.add_template_global(rule_label, "rule_label")
    app.add_template_global(limit_label, "limit_label")
    app.add_template_global(case_url, "case_url")
    app.add_template_global(actor_label, "actor_label")
    app.add_template_filter(yuan, "yuan")
    app.add_template_filter(case_type_label, "case_type_label")
    app.add_template_global(countdown, "countdown")
    from oversight.services.workflow import rule_for

    app.add_template_global(rule_for, "rule_for")
    # An officer's duty status, derived from suspensions, read once per request.
    from oversight.services.suspensions import is_suspended

    app.add_template_global(is_suspended, "is_suspended")


#: What each policy-pack rule is about, for pages that list a pack's rules.
RULE_LABELS = {
    "complaint_channel": _l("投诉举报的受理与处理"),
    "complainant_told_result": _l("向投诉人告知处理结果"),
    "officer_statement": _l("辅警的陈述申辩"),
    "recusal_grounds": _l("回避事由"),
    "recusal_applicants": _l("回避申请人"),
    "suspension": _l("调查期间暂停履职"),
    "measures": _l("处理措施"),
    "recovery": _l("赔偿后追偿"),
    "clarification": _l("不实投诉的澄清"),
    "appeal_right": _l("申诉权利"),
    "complaint_refusal": _l("不予受理"),
    "complaint_transfer": _l("转办"),
    "complaint_review": _l("复查"),
    "recovery_civil": _l("民事赔偿后追偿"),
    "union_notice": _l("解除劳动合同前通知工会"),
    "supervisor_referral": _l("带领民警的管理责任"),
    "complaint_extension": _l("延长办理期限"),
    "complaint_recheck": _l("复核"),
}


def rule_label(key: str) -> str:
    return str(RULE_LABELS.get(key, key))


def case_url(case, **values) -> str:
    """The staff page of any case."""
    from oversight.web.staff.views import case_url as build

    return build(case, **values)


def limit_label(key: str) -> str:
    from oversight.models.records import CLOCK_LABELS

    return str(CLOCK_LABELS.get(key, key))


#: Events that are not rows of a state table: those that open a case, and the 督办 records
#: an upper organ writes on a case's log.
OPENING_EVENTS = {"submit": _l("提交"), "receive_transfer": _l("由其他机关转来"),
                  "order": _l("指令回避"), "open": _l("立案调查"),
                  "assign_down": _l("上级机关交办"), "request": _l("申请暂停履职"),
                  "suspend_automatically": _l("依规定自动暂停履职"),
                  "propose": _l("告知拟处理意见"), "file": _l("提出申诉"),
                  "open_recovery": _l("追偿立案"), "supervise": _l("上级机关督办"),
                  "answer_supervision": _l("回复督办")}

#: What the public party of each case type is called (the role's own label says 投诉人).
PUBLIC_PARTY = {"recusal": _l("申请人")}


def actor_label(ev) -> str:
    """Who acted, as the case's timeline names them."""
    from workflows.roles import Role

    if ev.actor_role is Role.PUBLIC and ev.case_type in PUBLIC_PARTY:
        return str(PUBLIC_PARTY[ev.case_type])
    return ev.actor_role.label


def event_label(ev) -> str:
    from oversight.services import registry

    t = registry.spec_for(ev.case_type).transition(ev.trigger)
    return t.label if t else str(OPENING_EVENTS.get(ev.trigger, ev.trigger))
