"""Yearly sequential numbers for cases and notices (TS2026000001, GZ2026000001)."""

from __future__ import annotations

import datetime as dt
import functools

import sqlalchemy as sa

from oversight.extensions import db
from oversight.models import Sequence
from oversight.storage import dialect_insert
from workflows.clocks import to_local


@functools.cache
def _increment(insert) -> sa.Insert:
    """One atomic upsert per number: the year's first number inserts the counter at 1, any
    later one adds 1 to it; both databases lock the row until the commit, so parallel
    transactions get consecutive numbers. Built once per dialect (``insert``)."""
    table = Sequence.__table__
    return (insert(table).values(name=sa.bindparam("name"), value=1)
            .on_conflict_do_update(index_elements=[table.c.name],
                                   set_={"value": table.c.value + 1})
            .returning(table.c.value))


def next_number(prefix: str, now: dt.datetime) -> str:
    year = to_local(now).year
    value = db.session.execute(_increment(dialect_insert(db.session)),
                               {"name": f"{prefix}{year}"}).scalar_one()
    return f"{prefix}{year}{value:06d}"
