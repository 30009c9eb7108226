"""Column types and mixins shared by every aggregate."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

UTC = dt.UTC


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on both SQLite (which stores naive text) and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_cls: type[enum.Enum], length: int = 32) -> sa.Enum:
    """Store an Enum by value as VARCHAR so new members need no native type migration."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


#: PostgreSQL storage parameters of the case tables and the clocks, given last in their
#: ``__table_args__``. Their counts (queues, to-do badges, deadlines) are read from indexes
#: alone, which works only for rows on pages the visibility map marks all-visible; new and
#: changed rows are not, until a vacuum. By default autovacuum waits for a fifth of a table
#: to be new or changed (15,000 complaints at 100k cases), and the open complaints are
#: exactly the newest rows: after a day's intake, counting a city bureau's open complaints
#: read 3,200 rows from the table, 19 ms instead of 6. Vacuuming after 2% new rows and 5%
#: changed keeps the map current; each such vacuum reads only the pages not yet all-visible.
CASE_TABLE_STORAGE = {"postgresql_with": {"autovacuum_vacuum_insert_scale_factor": 0.02,
                                          "autovacuum_vacuum_scale_factor": 0.05}}


def case_table_indexes(table: str) -> tuple[sa.Index, sa.Index]:
    """CASE_INDEXES: the two indexes every case table has (measured at 100k cases).

    - (organ_id, state, created_at): queues, to-do counts and statistics ask for an organ
      subtree's cases in some states. They read only those index entries, and a queue
      page sorts them by date without reading the rows (it asks for the page's ids
      first): a branch's page of 5,570 complaints went from 56 to 3.5 ms, a to-do count
      from 60 to 0.5 ms. Lookups by organ alone use it too: organ_id has no index of its
      own.
    - created_at: for a city bureau's tens of thousands of cases, walking the dates and
      stopping after one page is faster still (13 to 0.5 ms); SQLite's planner picks
      between the two from the number of organs in the scope.
    """
    return (sa.Index(f"ix_{table}_organ_state_created", "organ_id", "state", "created_at"),
            sa.Index(f"ix_{table}_created_at", "created_at"))
