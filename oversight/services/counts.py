"""The cases of each type, state and organ, counted as they are written (``CaseCount``).

A queue's total and the 待我处理 badges add up a few rows of ``case_count`` (one per organ
of the scope and state asked for) instead of counting the cases, so their cost does not
grow with the cases: at a million cases a city bureau's to-do count read 2.2 ms of index
against 0.5 ms at 10,000, and its list of all complaints counted 213,000 entries.

The rows follow the case tables through the ORM's own events, in the statement batch of
the change: a case's insert adds one at (type, organ, state); a change of its state takes
one from the old state and adds one to the new. The organ never changes once a case is
opened (``registry.OrganFixed``), and cases are never deleted, so nothing else moves a
count. The change runs on the flush's connection, so it commits, rolls back, and is undone
with a savepoint exactly as the case row is: never half-saved.

Both databases lock a count's row from the change until the commit, as they lock the
year's number counter (``numbering``) at every intake: a second transaction changing the
same count (same type, organ and state) waits for the first one's commit. The two rows of
one state change are taken in one order (sorted), so two transactions moving cases
between the same two states never wait for each other in a cycle.

Rows written around the ORM (the bulk seeder, an operator's SQL) are not counted:
``check`` compares the table with the cases and ``repair`` recounts it; both run from
``oversight counts``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from oversight.models import CaseCount
from oversight.storage import dialect_insert

TABLE = CaseCount.__table__


@functools.cache
def _change(insert) -> sa.Insert:
    """Add ``n`` (negative to take away) to a count, inserting its row when it is the
    first case there. Built once per dialect (``insert``)."""
    statement = insert(TABLE).values(case_type=sa.bindparam("case_type"),
                                     organ_id=sa.bindparam("organ_id"),
                                     state=sa.bindparam("state"), n=sa.bindparam("n"))
    return statement.on_conflict_do_update(
        index_elements=list(TABLE.primary_key.columns),
        set_={"n": TABLE.c.n + statement.excluded.n})


def _apply(connection: sa.Connection, changes: list[dict]) -> None:
    connection.execute(_change(dialect_insert(connection)),
                       sorted(changes, key=lambda c: (c["organ_id"], c["state"])))


def _value(state: Any) -> str:
    """A state as stored: the enum's value (a case may be given the value itself)."""
    return getattr(state, "value", state)


def _inserted(_mapper: Any, connection: sa.Connection, case: Any) -> None:
    _apply(connection, [{"case_type": case.case_type, "organ_id": case.organ_id,
                         "state": _value(case.state), "n": 1}])


def _updated(_mapper: Any, connection: sa.Connection, case: Any) -> None:
    history = sa.inspect(case).attrs.state.history
    if not history.deleted:
        return  # the state was not set
    before, after = _value(history.deleted[0]), _value(case.state)
    if before != after:
        _apply(connection, [
            {"case_type": case.case_type, "organ_id": case.organ_id, "state": before, "n": -1},
            {"case_type": case.case_type, "organ_id": case.organ_id, "state": after, "n": 1}])


def _state_set(_case: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    """Does nothing: registered for its ``active_history`` (see ``track``)."""
    return value


def track(model: type) -> None:
    """Keep ``case_count`` following ``model``'s table (``registry.register`` calls it
    for every case type). The listener on ``state`` asks for its old value whenever it is
    set (``active_history``), loading it if the case was expired: without it, a state set
    on an expired case would have no old value to take one from."""
    listeners = ((model, "after_insert", _inserted), (model, "after_update", _updated),
                 (model.state, "set", _state_set))
    for target, name, listener in listeners:
        if not sa.event.contains(target, name, listener):
            sa.event.listen(target, name, listener,
                            **({"active_history": True} if name == "set" else {}))


def total(case_type: str, states: Iterable[Any] | None, *where: Any) -> sa.ScalarSelect:
    """The number of ``case_type``'s cases in ``states`` (every state when None) at the
    organs ``where`` selects from ``CaseCount.organ_id``, as a scalar subquery."""
    conditions = [CaseCount.case_type == case_type, *where]
    if states is not None:
        conditions.append(CaseCount.state.in_(sorted(_value(s) for s in states)))
    return sa.select(sa.func.coalesce(sa.func.sum(CaseCount.n), 0)).where(
        *conditions).scalar_subquery()


def _actual(connection: sa.Connection, tables: dict[str, sa.Table]) -> dict[tuple, int]:
    """{(type, organ id, state): cases} counted from the case tables."""
    found: dict[tuple, int] = {}
    for case_type, table in sorted(tables.items()):
        rows = connection.execute(
            sa.select(table.c.organ_id, table.c.state, sa.func.count())
            .group_by(table.c.organ_id, table.c.state))
        for organ_id, state, n in rows:
            found[(case_type, organ_id, _value(state))] = n
    return found


def _kept(connection: sa.Connection) -> dict[tuple, int]:
    return {(t, o, s): n for t, o, s, n in connection.execute(
        sa.select(TABLE.c.case_type, TABLE.c.organ_id, TABLE.c.state, TABLE.c.n))}


def _case_tables() -> dict[str, sa.Table]:
    from oversight.services import registry

    return {name: registry.binding_for(name).model.__table__
            for name in registry.case_types()}


def check(connection: sa.Connection) -> list[tuple[tuple, int, int]]:
    """[((type, organ id, state), kept, actual)] for every count that differs from the
    case tables (a row of zero and no row both mean none)."""
    actual, kept = _actual(connection, _case_tables()), _kept(connection)
    return [(key, kept.get(key, 0), actual.get(key, 0))
            for key in sorted(actual.keys() | kept.keys())
            if kept.get(key, 0) != actual.get(key, 0)]


def repair(connection: sa.Connection) -> int:
    """Count every case again into ``case_count``, in the caller's transaction (a unit of
    work); return the number of rows written."""
    if connection.dialect.name == "postgresql":
        # Writers that changed a count have committed before the lock is granted, so
        # the cases counted below include theirs; later ones wait, and add to the new
        # counts. (On SQLite the unit of work already holds the only write lock.)
        connection.execute(sa.text("LOCK TABLE case_count IN EXCLUSIVE MODE"))
    actual = _actual(connection, _case_tables())
    connection.execute(TABLE.delete())
    if actual:
        connection.execute(TABLE.insert(), [
            {"case_type": t, "organ_id": o, "state": s, "n": n}
            for (t, o, s), n in sorted(actual.items())])
    return len(actual)
