"""Helpers the blueprints share: organ and category choices, uploads, error mapping."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import request
from werkzeug.datastructures import FileStorage
from wtforms.fields.choices import SelectChoice

from oversight.extensions import db
from oversight.models import Organ
from oversight.services.attachments import Upload


@dataclass(frozen=True)
class OrganNode:
    """An organ as a choice list needs it: plain values, shared between requests."""

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


#: database URL -> ((organ count, latest change), the tree)
_TREES: dict[str, tuple[tuple, list[OrganNode]]] = {}


def organ_tree(within: str | None = None) -> list[tuple[OrganNode, int]]:
    """All organs in tree order with their depth, for indented choices; only those under
    the organ path ``within`` when given (a user's subtree).

    A province holds thousands of organs and they change seldom, while nearly every staff
    page lists them: the tree is kept per process and revalidated on each call by one
    aggregate query (how many organs, and the latest change to any)."""
    stamp = tuple(db.session.execute(
        sa.select(sa.func.count(Organ.id), sa.func.max(Organ.updated_at))).one())
    key = str(db.engine.url)
    cached = _TREES.get(key)
    if cached is None or cached[0] != stamp:
        rows = db.session.execute(
            sa.select(Organ.id, Organ.code, Organ.name, Organ.path, Organ.pack_id)
            .order_by(Organ.path)).all()
        cached = _TREES[key] = (stamp, [
            OrganNode(r.id, r.code, r.name, r.path, r.pack_id, r.path.count("/") - 2)
            for r in rows])
    nodes = cached[1]
    if within is not None:
        nodes = [n for n in nodes if n.path.startswith(within)]
    return [(n, n.depth) for n in nodes]


def category_choices() -> list[SelectChoice]:
    """Category choices grouped by pack (the optgroup shows the pack's short name); values
    are ``pack_id:code``."""
    from workflows.policy import get_packs

    used = set(db.session.execute(sa.select(Organ.pack_id).distinct()).scalars())
    return [SelectChoice(f"{pack.id}:{c.code}", c.label, optgroup=pack.short_name)
            for pack in get_packs().values() if pack.id in used for c in pack.categories]


def read_uploads(field_name: str = "files") -> list[Upload]:
    files: list[FileStorage] = request.files.getlist(field_name)
    return [Upload(f.filename or "file", f.read()) for f in files if f and f.filename]


def apply_errors(form, errors: dict[str, str]) -> None:
    """Put service validation errors beside the matching form fields."""
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors or []) + [message]
        else:
            form.form_errors.append(message)
