"""Case types known to the services: state table, model and domain hooks per type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from workflows.engine import CaseType


@dataclass
class CaseTypeBinding:
    spec: CaseType
    #: the mapped class holding this type's cases
    model: Any = None
    #: case numbers of this type start with this prefix ("TS", "HB"…)
    number_prefix: str = ""
    #: trigger -> hook(case, actor, data, now) -> payload dict for the event
    hooks: dict[str, Callable[..., dict]] = field(default_factory=dict)
    #: builds the notice template context for a case
    notice_context: Callable[..., dict] | None = None
    #: the pack that applies: its organ's (``_organ_pack``)
    pack_of: Callable[[Any], Any] = field(default=lambda case: _organ_pack(case))
    #: the identity record of the case's public party, or None (never for officers)
    identity_of: Callable[[Any], Any] | None = None
    #: builds the search document (a dict of index fields) for a case; see oversight.search
    search_document: Callable[[Any], dict] | None = None
    #: the pack rule a table's rule key means for this case (a recovery rests on the
    #: national rule for what was paid where the local text is silent); default: the pack's
    rule_of: Callable[[Any, str], Any] | None = None
    #: after a transition, the system row that must follow it, if any (a payment that
    #: clears the balance settles the recovery): follow_up(case, trigger) -> trigger | None
    follow_up: Callable[[Any, str], str | None] | None = None

    def rule(self, case: Any, key: str) -> Any:
        return self.rule_of(case, key) if self.rule_of else self.pack_of(case).rule(key)


_BINDINGS: dict[str, CaseTypeBinding] = {}


def _organ_pack(case: Any) -> Any:
    """The pack of the case's organ: from the organ tree kept per process (no query, where
    loading ``case.organ`` was one per new case), or from the organ itself when the tree
    does not hold it yet (an organ created in this request, after the tree was read)."""
    from oversight.services import organs

    node = organs.node(case.organ_id)
    return node.pack if node is not None else case.organ.pack


class OrganFixed(RuntimeError):
    """A case's organ was changed after the case was opened."""


def _organ_fixed(_mapper: Any, _connection: Any, case: Any) -> None:
    """A case's organ is fixed once it is opened: a transfer opens a new case at the other
    organ. Its clocks carry a copy of it (``CaseClock.organ_id``), which would otherwise
    go stale, and its events, notices and numbers were issued in that organ's name."""
    if sa.inspect(case).attrs.organ_id.history.has_changes():
        raise OrganFixed(f"{case.case_type} {case.id}: a case's organ never changes")


def register(binding: CaseTypeBinding) -> CaseTypeBinding:
    from oversight.services import counts

    _BINDINGS[binding.spec.name] = binding
    if binding.model is not None:
        if not sa.event.contains(binding.model, "before_update", _organ_fixed):
            sa.event.listen(binding.model, "before_update", _organ_fixed)
        counts.track(binding.model)
    return binding


def binding_for(case_or_type: Any) -> CaseTypeBinding:
    name = case_or_type if isinstance(case_or_type, str) else case_or_type.case_type
    return _BINDINGS[name]


def spec_for(case_or_type: Any) -> CaseType:
    return binding_for(case_or_type).spec


def binding_for_number(number: str) -> CaseTypeBinding | None:
    """The case type a case number belongs to, by its prefix."""
    for binding in _BINDINGS.values():
        if binding.number_prefix and number.startswith(binding.number_prefix):
            return binding
    return None


def case_types() -> list[str]:
    return list(_BINDINGS)
