"""The organ tree, kept per process: nearly every page lists organs or filters cases to a
user's subtree, and organs change seldom.

The tree is revalidated by one aggregate query (how many organs, and the latest change to
any) once per app context, i.e. per request or command: a request sees one tree
throughout, and a change is seen by the next request. ``subtree_ids`` gives the ids
of an organ's subtree as plain values, so a scope filter is ``organ_id IN (1, 2, …)``
rather than a subquery on ``organ.path``: with the number of ids in hand, SQLite's planner
picks the (organ_id, state) index for a station's few cases and walks the created_at
index for a city bureau's many (with the subquery it guessed, and a station's queue page
scanned every complaint: 61 ms at 100k cases). On PostgreSQL the ids go as one array,
``organ_id = ANY(…)`` (``in_subtree``, ``storage.any_of``), which its planner reads the same.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import g

from oversight.extensions import db
from oversight.models import Organ
from oversight.storage import any_of

T = TypeVar("T")


@dataclass(frozen=True)
class OrganNode:
    """An organ as lists and filters need it: plain values, shared between requests."""

    id: int
    code: str
    name: str
    path: str
    pack_id: str
    depth: int

    @property
    def pack(self):
        from workflows.policy import get_packs

        return get_packs()[self.pack_id]


#: database URL -> ((organ count, latest change), the tree in path order, nodes by id)
_TREES: dict[str, tuple[tuple, list[OrganNode], dict[int, OrganNode]]] = {}


def tree() -> list[OrganNode]:
    """Every organ in tree order (by path)."""
    return _current()[1]


def node(organ_id: int | None) -> OrganNode | None:
    """The organ with this id, or None: from the tree, without a query of its own."""
    return _current()[2].get(organ_id)  # type: ignore[arg-type]


def _current() -> tuple[tuple, list[OrganNode], dict[int, OrganNode]]:
    cached = g.get("_organ_tree")
    if cached is not None:
        return cached
    stamp = tuple(db.session.execute(
        sa.select(sa.func.count(Organ.id), sa.func.max(Organ.updated_at))).one())
    key = str(db.engine.url)
    cached = _TREES.get(key)
    if cached is None or cached[0] != stamp:
        rows = db.session.execute(
            sa.select(Organ.id, Organ.code, Organ.name, Organ.path, Organ.pack_id)
            .order_by(Organ.path)).all()
        nodes = [OrganNode(r.id, r.code, r.name, r.path, r.pack_id, r.path.count("/") - 2)
                 for r in rows]
        cached = _TREES[key] = (stamp, nodes, {n.id: n for n in nodes})
    g._organ_tree = cached
    return cached


#: (database URL, key) -> (organ stamp, value): what ``derived`` built from the tree
_DERIVED: dict[tuple[str, Hashable], tuple[tuple, Any]] = {}


def derived(key: Hashable, build: Callable[[list[OrganNode]], T]) -> T:
    """A value built from the tree (a form's organ choices), kept per process until the
    organs change, like the tree itself. The value is shared: never change it in place."""
    stamp, nodes, _by_id = _current()
    slot = (str(db.engine.url), key)
    kept = _DERIVED.get(slot)
    if kept is None or kept[0] != stamp:
        kept = _DERIVED[slot] = (stamp, build(nodes))
    return kept[1]


def subtree(path: str) -> list[OrganNode]:
    """The organ at ``path`` and every organ under it, in tree order."""
    return [n for n in tree() if n.path.startswith(path)]


def subtree_ids(path: str) -> tuple[int, ...]:
    """The ids of ``subtree(path)``, kept with the tree."""
    return derived(("subtree_ids", path), lambda _nodes: tuple(n.id for n in subtree(path)))


def in_subtree(column: Any, path: str) -> Any:
    """``column`` is one of the subtree's ids: the one spelling of a scope condition. The
    clause is built once per column and organ and kept with the tree (every staff page
    applies several; building one with a city bureau's 46 ids took 0.3 ms). A clause
    element is never changed once built, so requests and threads may share it."""
    return derived(("in_subtree", column, path),
                   lambda _nodes: any_of(column, subtree_ids(path), db.engine.dialect.name))


def forget() -> None:
    """Drop this request's tree: the next call revalidates (after organs were changed
    within the same request)."""
    g.pop("_organ_tree", None)
