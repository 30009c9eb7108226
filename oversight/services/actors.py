"""Who is acting: a staff user or a complainant proven by number and access code."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.roles import Role


@dataclass(frozen=True)
class PublicActor:
    """A member of the public who has proven access to exactly one case."""

    case_type: str
    case_id: int
    role: Role = Role.PUBLIC
    id: None = None
    organ_id: None = None


@dataclass(frozen=True)
class SystemActor:
    role: Role = Role.SYSTEM
    id: None = None
    organ_id: None = None
