"""Failure counters in the database, so a limit holds across every gunicorn worker and
N parallel failures count N (the increment is one atomic UPDATE)."""

from __future__ import annotations

import datetime as dt
import functools

import sqlalchemy as sa
from flask import current_app

from oversight.extensions import db
from oversight.models import Throttle
from oversight.storage import dialect_insert


def blocked(key: str, now: dt.datetime, limit: int, window_s: int) -> bool:
    row = db.session.get(Throttle, key)
    if row is None or now - row.window_start > dt.timedelta(seconds=window_s):
        return False
    return row.failures >= limit


@functools.cache
def _count(insert) -> sa.Insert:
    """The counting upsert, built once per dialect (``insert``): the first failure inserts
    the row; a failure after the window ended starts a new window at 1; any other adds 1.
    The new values are computed from the row as it was: both CASEs test the old start."""
    table = Throttle.__table__
    now = sa.bindparam("now", type_=table.c.window_start.type)
    expired = table.c.window_start < sa.bindparam("start", type_=table.c.window_start.type)
    statement = insert(table).values(key=sa.bindparam("key"), window_start=now, failures=1)
    return statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"window_start": sa.case((expired, now), else_=table.c.window_start),
              "failures": sa.case((expired, 1), else_=table.c.failures + 1)},
    ).returning(table.c.failures)


def record_failure(key: str, now: dt.datetime, window_s: int) -> int:
    """Count one failure (or attempt) against ``key`` and return the window's count, in
    one atomic upsert: parallel failures each count."""
    start = now - dt.timedelta(seconds=window_s)
    return db.session.execute(_count(dialect_insert(db.session)),
                              {"key": key, "now": now, "start": start}).scalar_one()


def clear(key: str) -> None:
    db.session.execute(sa.delete(Throttle.__table__).where(Throttle.__table__.c.key == key))


def submission_allowed(client_key: str, now: dt.datetime) -> bool:
    """Count one public submission from this client; False once the window's limit is
    reached (the caller answers 429). Counted before the submission is saved, so a flood
    of failing submissions counts too."""
    cfg = current_app.config
    key = f"submit:{client_key}"
    limit, window = cfg["SUBMIT_MAX_PER_CLIENT"], cfg["SUBMIT_WINDOW_SECONDS"]
    return record_failure(key, now, window) <= limit


def track_limits() -> tuple[int, int]:
    cfg = current_app.config
    return cfg["TRACK_MAX_FAILURES"], cfg["TRACK_WINDOW_SECONDS"]
