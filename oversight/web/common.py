"""Helpers the blueprints share: organ and category choices, uploads, error mapping."""

from __future__ import annotations

from collections.abc import Callable

from flask import request
from werkzeug.datastructures import FileStorage
from wtforms.fields.choices import SelectChoice

from oversight.services import organs
from oversight.services.attachments import Upload
from oversight.services.organs import OrganNode


def organ_tree(within: str | None = None) -> list[tuple[OrganNode, int]]:
    """All organs in tree order with their depth, for indented choices; only those under
    the organ path ``within`` when given (a user's subtree). Kept per process: see
    ``services.organs``."""
    nodes = organs.tree() if within is None else organs.subtree(within)
    return [(n, n.depth) for n in nodes]


def organ_choices(within: str | None = None,
                  attrs: Callable[[OrganNode], dict[str, str]] | None = None
                  ) -> list[SelectChoice]:
    """The organs as choices, in tree order and indented by depth: all of them, or those
    under the organ path ``within``; ``attrs`` gives each option its HTML attributes (a
    module-level function: it is part of the cache key). Built once per change to the
    organs and kept per process (``organs.derived``): a province has hundreds of organs,
    and building their choices took a tenth of a complaint submission. The list is
    shared: prepend a blank choice with ``+``, never in place."""
    def build(nodes: list[OrganNode]) -> list[SelectChoice]:
        chosen = nodes if within is None else organs.subtree(within)
        return [SelectChoice(str(n.id), "　" * n.depth + n.name,
                             render_kw=attrs(n) if attrs else {}) for n in chosen]

    return organs.derived(("organ_choices", within, attrs), build)


def category_choices() -> list[SelectChoice]:
    """Category choices grouped by pack (the optgroup shows the pack's short name); values
    are ``pack_id:code``."""
    from workflows.policy import get_packs

    used = {n.pack_id for n in organs.tree()}
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
