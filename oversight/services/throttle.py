"""Failure counters in the database, so a limit holds across every gunicorn worker and
N parallel failures count N (the increment is one atomic UPDATE)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app

from oversight.extensions import db
from oversight.models import Throttle
from oversight.storage import insert_ignoring_conflict


def blocked(key: str, now: dt.datetime, limit: int, window_s: int) -> bool:
    row = db.session.get(Throttle, key)
    if row is None or now - row.window_start > dt.timedelta(seconds=window_s):
        return False
    return row.failures >= limit


def record_failure(key: str, now: dt.datetime, window_s: int) -> None:
    table = Throttle.__table__
    insert_ignoring_conflict(db.session, table, key=key, window_start=now, failures=0)
    start = now - dt.timedelta(seconds=window_s)
    db.session.execute(
        sa.update(table).where(table.c.key == key, table.c.window_start < start)
        .values(window_start=now, failures=0)
    )
    db.session.execute(
        sa.update(table).where(table.c.key == key).values(failures=table.c.failures + 1)
    )


def clear(key: str) -> None:
    db.session.execute(sa.delete(Throttle.__table__).where(Throttle.__table__.c.key == key))


def submission_allowed(client_key: str, now: dt.datetime) -> bool:
    """Count one public submission from this client; False once the window's limit is
    reached (the caller answers 429). Counted before the submission is saved, so a flood
    of failing submissions counts too."""
    cfg = current_app.config
    key = f"submit:{client_key}"
    limit, window = cfg["SUBMIT_MAX_PER_CLIENT"], cfg["SUBMIT_WINDOW_SECONDS"]
    if blocked(key, now, limit, window):
        return False
    record_failure(key, now, window)
    return True


def track_limits() -> tuple[int, int]:
    cfg = current_app.config
    return cfg["TRACK_MAX_FAILURES"], cfg["TRACK_WINDOW_SECONDS"]
