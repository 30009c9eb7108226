"""The state-machine engine every case type uses.

A case type is a declarative table (:class:`CaseType`): states and :class:`Transition` rows.
The same table drives the service that fires transitions, the actions shown on a case page,
and the permission-matrix tests. One shared ``transitions.Machine`` per case type is built
from the table with ``auto_transitions=False`` and is never attached to a model: it is fired
with ``machine.events[trigger].trigger(case)``, which costs nothing per row and leaks nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from transitions import Machine

from workflows.i18n import translate
from workflows.roles import Role

_STATE_LABELS: dict[type, Mapping[str, tuple[str, str]]] = {}


def state_labels(table: Mapping[str, tuple[str, str]]):
    """Class decorator giving a state enum its (staff label, public label) per value.
    Labels are msgids marked with ``N_``; the properties translate them."""

    def apply(cls):
        missing = {m.value for m in cls} - set(table)
        if missing:
            raise ValueError(f"{cls.__name__}: no label for {sorted(missing)}")
        _STATE_LABELS[cls] = dict(table)
        return cls

    return apply


class LabeledState(enum.Enum):
    """A state that knows its staff label and its plain-language public label."""

    @property
    def label(self) -> str:
        return translate(_STATE_LABELS[type(self)][self.value][0])

    @property
    def public_label(self) -> str:
        return translate(_STATE_LABELS[type(self)][self.value][1])


@dataclass(frozen=True)
class GuardContext:
    """What a guard may look at: the case (read-only), the submitted data, the time, the
    jurisdiction's pack and the actor. Guards return ``None`` or the reason for refusal."""

    case: Any
    data: Mapping[str, Any]
    now: dt.datetime
    pack: Any
    actor_id: int | None


Guard = Callable[[GuardContext], str | None]


@dataclass(frozen=True)
class Transition:
    """One row of a state table. ``title`` and ``help_text`` are msgids (marked with
    ``N_``); read them translated through ``label`` and ``help``."""

    trigger: str
    title: str
    source: tuple[enum.Enum, ...]
    dest: enum.Enum | None  # None: an internal action that records an event only
    roles: frozenset[Role]
    rule: str | None = None  # policy-pack rule key the action rests on
    notice: str | None = None  # notice kind issued to the complainant
    starts: tuple[str, ...] = ()  # clock (limit) keys started
    stops: tuple[str, ...] = ()  # clock keys stopped (met or breached)
    cancels: tuple[str, ...] = ()  # clock keys ended without being due
    pauses: tuple[str, ...] = ()  # clock keys paused (time a rule excludes, e.g. a hearing)
    resumes: tuple[str, ...] = ()  # clock keys resumed; the pause moves their due date
    needs: tuple[str, ...] = ()  # data fields that must be present
    optional: tuple[str, ...] = ()  # data fields offered but not required
    guards: tuple[Guard, ...] = ()
    public: bool = False  # shown on the public timeline
    not_by_actor_of: str | None = None  # four-eyes: not the one who last fired this trigger
    style: str = "primary"
    help_text: str = ""

    @property
    def label(self) -> str:
        return translate(self.title)

    @property
    def help(self) -> str:
        return translate(self.help_text)

    @property
    def internal(self) -> bool:
        return self.dest is None

    @property
    def fields(self) -> tuple[str, ...]:
        """Every data field the action's form shows: required first, then optional."""
        return self.needs + tuple(f for f in self.optional if f not in self.needs)


@dataclass(frozen=True)
class CaseType:
    """A case type's whole behaviour as data. ``title`` is a msgid; ``label`` translates it."""

    name: str
    title: str
    states: type[LabeledState]
    initial: LabeledState
    transitions: tuple[Transition, ...]
    terminal: frozenset[LabeledState] = field(default_factory=frozenset)
    #: The officer the case is about may view it and fire its ``Role.OFFICER`` rows.
    officer_party: bool = False

    @property
    def label(self) -> str:
        return translate(self.title)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for t in self.transitions:
            if t.trigger in seen:
                raise ValueError(f"{self.name}: duplicate trigger {t.trigger}")
            seen.add(t.trigger)
            if not t.roles:
                raise ValueError(f"{self.name}.{t.trigger}: no role may fire it")

    @cached_property
    def by_trigger(self) -> dict[str, Transition]:
        return {t.trigger: t for t in self.transitions}

    @cached_property
    def machine(self) -> Machine:
        return Machine(
            model=None,
            states=list(self.states),
            initial=self.initial,
            transitions=[
                {"trigger": t.trigger, "source": list(t.source), "dest": t.dest}
                for t in self.transitions
            ],
            auto_transitions=False,
            model_attribute="state",
        )

    def transition(self, trigger: str) -> Transition | None:
        return self.by_trigger.get(trigger)

    def available(self, state: LabeledState, role: Role) -> list[Transition]:
        """Transitions a role may fire from a state, in table order (before guards)."""
        names = set(self.machine.get_triggers(state))
        return [t for t in self.transitions if t.trigger in names and role in t.roles]

    def states_awaiting(self, role: Role) -> frozenset[LabeledState]:
        """States in which ``role`` is the one to move the case on (a state-changing row
        of the table is theirs): the role's to-do list, derived from the table. A terminal state
        is never on it, even where a row leaves it by exception (a late appeal decision)."""
        return frozenset(s for t in self.transitions if not t.internal and role in t.roles
                         for s in t.source if s not in self.terminal)

    def move(self, case: Any, trigger: str) -> None:
        """Move ``case.state`` through the shared machine (raises MachineError if illegal)."""
        self.machine.events[trigger].trigger(case)

    def edges(self) -> list[tuple[LabeledState, LabeledState, Transition]]:
        return [(s, t.dest, t) for t in self.transitions if t.dest for s in t.source]
