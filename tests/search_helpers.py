"""Helpers for the search tests (a module, not conftest: importing a conftest by name
breaks when several test folders with a conftest are collected together)."""

from __future__ import annotations

from helpers import make_complaint, organ


def complain(organ_code: str = "BJ-CY", **overrides):
    """File a complaint at ``organ_code`` with that organ's first category."""
    site = organ(organ_code)
    overrides.setdefault("category_code", site.pack.categories[0].code)
    complaint, _code = make_complaint(organ_id=site.id, **overrides)
    return complaint
