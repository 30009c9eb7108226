"""Case types known to the services: state table, model and domain hooks per type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflows.engine import CaseType


@dataclass
class CaseTypeBinding:
    spec: CaseType
    #: trigger -> hook(case, actor, data, now) -> payload dict for the event
    hooks: dict[str, Callable[..., dict]] = field(default_factory=dict)
    #: builds the notice template context for a case
    notice_context: Callable[..., dict] | None = None
    #: the organ whose pack applies
    pack_of: Callable[[Any], Any] = lambda case: case.organ.pack


_BINDINGS: dict[str, CaseTypeBinding] = {}


def register(binding: CaseTypeBinding) -> CaseTypeBinding:
    _BINDINGS[binding.spec.name] = binding
    return binding


def binding_for(case_or_type: Any) -> CaseTypeBinding:
    name = case_or_type if isinstance(case_or_type, str) else case_or_type.case_type
    return _BINDINGS[name]


def spec_for(case_or_type: Any) -> CaseType:
    return binding_for(case_or_type).spec
