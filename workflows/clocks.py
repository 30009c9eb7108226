"""Due dates for statutory time limits.

Periods follow the usual Chinese rule for legal periods: the day on which the period
starts is not counted, and the period ends at the end of its last day (Beijing time).
Working days follow the official holiday calendar including 调休 make-up workdays; a date
the calendar package does not cover is refused, never guessed.
"""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

import chinese_calendar

from workflows.i18n import N_, translate

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class ClockRangeError(ValueError):
    """The working-day calendar does not cover the date asked for."""


def _end_of_local_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), LOCAL_TZ).astimezone(dt.UTC)


def is_workday(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError as exc:
        message = translate(
            N_("工作日历未覆盖 %(day)s，无法计算工作日期限，请更新 chinesecalendar"))
        raise ClockRangeError(message % {"day": day.isoformat()}) from exc


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_at(start: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """When a period of ``amount`` ``unit`` starting at ``start`` (aware) ends, in UTC."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if amount <= 0:
        raise ValueError("a period must be positive")
    local_day = start.astimezone(LOCAL_TZ).date()
    if unit == "hours":
        return (start + dt.timedelta(hours=amount)).astimezone(dt.UTC)
    if unit == "calendar_days":
        return _end_of_local_day(local_day + dt.timedelta(days=amount))
    if unit == "months":
        return _end_of_local_day(add_months(local_day, amount))
    if unit == "working_days":
        day, counted = local_day, 0
        while counted < amount:
            day += dt.timedelta(days=1)
            if is_workday(day):
                counted += 1
        return _end_of_local_day(day)
    raise ValueError(f"unknown unit {unit!r}")


def to_local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(LOCAL_TZ)
