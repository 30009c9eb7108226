import datetime as dt

import pytest

from workflows.clocks import LOCAL_TZ, ClockRangeError, add_months, due_at


def local(*args):
    return dt.datetime(*args, tzinfo=LOCAL_TZ)


def test_calendar_days_exclude_the_first_day_and_end_at_midnight():
    due = due_at(local(2026, 11, 25, 9, 30), 15, "calendar_days")
    assert due.astimezone(LOCAL_TZ) == local(2026, 12, 10, 23, 59, 59)
    assert due.tzinfo is not None


def test_working_days_skip_holidays_and_count_makeup_days():
    # National Day 2026: Oct 1–7 are holidays; Sept 20 (Sunday) and Oct 10 (Saturday)
    # are 调休 make-up working days in the official calendar.
    due = due_at(local(2026, 9, 30, 10, 0), 2, "working_days")
    assert due.astimezone(LOCAL_TZ).date() == dt.date(2026, 10, 9)
    due = due_at(local(2026, 10, 9, 10, 0), 1, "working_days")
    assert due.astimezone(LOCAL_TZ).date() == dt.date(2026, 10, 10)


def test_working_days_outside_the_calendar_are_refused():
    with pytest.raises(ClockRangeError, match="工作日历未覆盖"):
        due_at(local(2040, 1, 2, 9, 0), 5, "working_days")


def test_hours_and_months():
    start = local(2026, 1, 31, 8, 0)
    assert due_at(start, 48, "hours") == (start + dt.timedelta(hours=48)).astimezone(dt.UTC)
    assert due_at(start, 1, "months").astimezone(LOCAL_TZ).date() == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 12, 15), 2) == dt.date(2027, 2, 15)


def test_naive_start_and_bad_amounts_refused():
    with pytest.raises(ValueError):
        due_at(dt.datetime(2026, 1, 1), 1, "calendar_days")
    with pytest.raises(ValueError):
        due_at(local(2026, 1, 1), 0, "calendar_days")
    with pytest.raises(ValueError):
        due_at(local(2026, 1, 1), 1, "fortnights")
