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


def register(app: Flask) -> None:
    app.add_template_filter(filesize, "filesize")
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_global(event_label, "event_label")


#: Events that open a case rather than move it, so they are not rows of a state table.
OPENING_EVENTS = {"submit": _l("提交"), "receive_transfer": _l("由其他机关转来")}


def event_label(ev) -> str:
    from oversight.services import registry

    t = registry.spec_for(ev.case_type).transition(ev.trigger)
    return t.label if t else str(OPENING_EVENTS.get(ev.trigger, ev.trigger))
