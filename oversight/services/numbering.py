"""Yearly sequential numbers for cases and notices (TS2026000001, GZ2026000001)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from oversight.extensions import db
from oversight.models import Sequence
from oversight.storage import insert_ignoring_conflict
from workflows.clocks import to_local


def next_number(prefix: str, now: dt.datetime) -> str:
    year = to_local(now).year
    name = f"{prefix}{year}"
    table = Sequence.__table__
    insert_ignoring_conflict(db.session, table, name=name, value=0)
    value = db.session.execute(
        sa.update(table).where(table.c.name == name).values(value=table.c.value + 1)
        .returning(table.c.value)
    ).scalar_one()
    return f"{prefix}{year}{value:06d}"
