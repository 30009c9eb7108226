"""How each case type shows on the generic staff case page.

The page itself (header, actions from the state table, clocks, notices, timeline) is the
same for every type; a type registers the partial that shows its own facts, the extra
context that partial needs, and how to fill the choices of the action form's fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _no_context(case: Any, actor: Any) -> dict:
    return {}


def _no_choices(form: Any, case: Any) -> None:
    return None


@dataclass(frozen=True)
class CasePage:
    case_type: str
    #: the URL segment: /staff/<segment>/<id>
    segment: str
    #: the partial showing the type's own facts
    facts_template: str
    context: Callable[[Any, Any], dict] = _no_context
    prepare_form: Callable[[Any, Any], None] = _no_choices
    #: one line describing a case in the queue (the number and state are shown anyway)
    summary: Callable[[Any], str] = lambda case: ""
    #: loader options for what ``summary`` reads beyond the case row (its officer, the
    #: decision an appeal is about), given the model: the queue loads them with the page
    #: of cases, so a page costs the same few queries whatever it lists
    summary_loads: Callable[[Any], tuple] = lambda model: ()
    #: pages that open a case of this type from the queue: (endpoint, label, roles)
    new_links: tuple[tuple[str, Any, frozenset], ...] = ()


_PAGES: dict[str, CasePage] = {}


def register_page(page: CasePage) -> CasePage:
    _PAGES[page.case_type] = page
    return page


def page_for(case_type: str) -> CasePage:
    return _PAGES[case_type]


def pages() -> list[CasePage]:
    return list(_PAGES.values())


def page_for_segment(segment: str) -> CasePage | None:
    return next((p for p in _PAGES.values() if p.segment == segment), None)
