"""The one place that decides who may do what: ``can(actor, action, case)``.

Scope is an organ and its subtree (a materialised path prefix). The complainant's identity
is narrower: only intake and inspectors of the organ handling the case see it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from oversight.models import Organ
from oversight.services import organs, registry
from oversight.services.actors import PublicActor
from workflows.roles import Role

CASE_ROLES = frozenset({Role.INTAKE, Role.INSPECTOR, Role.LEADER})
IDENTITY_ROLES = frozenset({Role.INTAKE, Role.INSPECTOR})
PUBLIC_ACTIONS = frozenset({"view", "download", "view_notices"})


def _unwrapped(actor: Any) -> Any:
    """The user behind Flask-Login's ``current_user``: the proxy looks the user up again
    at every attribute read, and a decision reads several (the deadlines page decides for
    each of its 25 rows: some 280 look-ups a page)."""
    get = getattr(actor, "_get_current_object", None)
    return get() if get is not None else actor


def _is_staff(actor: Any) -> bool:
    return getattr(actor, "is_authenticated", False) and hasattr(actor, "organ")


def in_scope(actor: Any, organ: Organ) -> bool:
    return _is_staff(actor) and organ.path.startswith(actor.organ.path)


def can(actor: Any, action: str, case: Any = None) -> bool:
    """May ``actor`` perform ``action`` (``view``, ``view_identity``, ``download``,
    ``queue``, ``admin``, ``own_record``, ``fire:<trigger>``; ``propose_measure`` on an
    investigation, ``file_appeal`` on a decision, ``open_recovery`` on an officer;
    ``manage_flags`` and ``configure_intervention`` on an organ) on ``case``?"""
    actor = _unwrapped(actor)
    if actor is None:
        return False
    if isinstance(actor, PublicActor):
        if case is None or (actor.case_type, actor.case_id) != (case.case_type, case.id):
            return False
        if action.startswith("fire:"):
            return _role_may_fire(Role.PUBLIC, case, action[5:])
        return action in PUBLIC_ACTIONS
    if getattr(actor, "role", None) is Role.SYSTEM:
        # Scheduled and cascading work: only the table rows written for the system.
        return case is not None and action.startswith("fire:") \
            and _role_may_fire(Role.SYSTEM, case, action[5:])
    if not _is_staff(actor) or not actor.active:
        return False
    role = actor.role
    if action == "admin":
        return role is Role.ADMIN
    if action == "queue":
        return role in CASE_ROLES
    if action == "stats":  # the statistics dashboard, counted within scope_filter()
        return role in CASE_ROLES
    if action == "own_record":
        return role is Role.OFFICER and actor.officer_id is not None
    if action == "manage_flags":  # early-intervention flags; ``case`` is the flag's organ
        return role is Role.LEADER and case is not None and in_scope(actor, case)
    if action == "configure_intervention":  # an organ's thresholds; ``case`` is the organ
        return case is not None and (role is Role.ADMIN
                                     or (role is Role.LEADER and actor.organ_id == case.id))
    if role is Role.OFFICER:
        return _officer_may(actor, action, case)
    if case is None:
        return False
    if role not in CASE_ROLES or not in_scope(actor, case.organ):
        return False
    if action in ("view", "download", "view_notices"):
        return True
    if action == "view_identity":
        return role in IDENTITY_ROLES and actor.organ_id == case.organ_id
    if action == "propose_measure":
        return role is Role.INSPECTOR
    if action == "file_appeal":  # an appeal made in person, recorded by intake
        return role is Role.INTAKE
    if action == "open_recovery":
        return role in (Role.INSPECTOR, Role.LEADER)
    if action == "supervise":  # 督办: an upper organ's leader, on a case below it
        return role is Role.LEADER and case.organ_id != actor.organ_id
    if action == "answer_supervision":
        return role in (Role.INSPECTOR, Role.LEADER) and case.organ_id == actor.organ_id
    if action.startswith("fire:"):
        return _role_may_fire(role, case, action[5:])
    return False


def _officer_may(actor: Any, action: str, case: Any) -> bool:
    """An officer sees only cases of a type they are a party to (a suspension of them),
    never a complaint or recusal application about them, and never another officer's."""
    if case is None or actor.officer_id is None or not hasattr(case, "case_type") \
            or not registry.spec_for(case).officer_party \
            or getattr(case, "officer_id", None) != actor.officer_id:
        return False
    if action in ("view", "download", "view_notices", "file_appeal"):
        return True
    if action.startswith("fire:"):
        return _role_may_fire(Role.OFFICER, case, action[5:])
    return False


def _role_may_fire(role: Role, case: Any, trigger: str) -> bool:
    t = registry.spec_for(case).transition(trigger)
    return t is not None and role in t.roles


def scope_filter(actor: Any, organ_column: Any) -> Any:
    """A SQL condition restricting ``organ_column`` to the actor's subtree."""
    if not _is_staff(actor) or actor.role not in CASE_ROLES:
        return sa.false()
    return organs.in_subtree(organ_column, actor.organ.path)
