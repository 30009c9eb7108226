"""The complaint state table and the engine built from it."""

import pytest
from transitions import MachineError

from workflows.complaint import COMPLAINT, ComplaintState
from workflows.engine import CaseType, Transition
from workflows.roles import Role


class Case:
    def __init__(self, state):
        self.state = state


def test_every_state_has_labels():
    for s in ComplaintState:
        assert s.label and s.public_label


def test_machine_has_no_auto_transitions():
    assert not any(name.startswith("to_") for name in COMPLAINT.machine.events)


def test_every_non_terminal_state_has_a_way_out():
    for s in ComplaintState:
        if s in COMPLAINT.terminal:
            continue
        assert any(s in t.source and t.dest not in (None, s) for t in COMPLAINT.transitions), s


def test_terminal_states_have_no_state_changing_exit():
    for t in COMPLAINT.transitions:
        if t.dest is None:
            continue
        assert not (set(t.source) & COMPLAINT.terminal - {ComplaintState.CLOSED}), t.trigger


@pytest.mark.parametrize("t", COMPLAINT.transitions, ids=lambda t: t.trigger)
def test_move_follows_the_table(t):
    for state in ComplaintState:
        case = Case(state)
        if state in t.source:
            COMPLAINT.move(case, t.trigger)
            assert case.state == (t.dest or state)
        else:
            with pytest.raises(MachineError):
                COMPLAINT.move(case, t.trigger)
            assert case.state is state


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("state", list(ComplaintState), ids=lambda s: s.value)
def test_available_is_exactly_table_rows(state, role):
    expected = [t.trigger for t in COMPLAINT.transitions if state in t.source and role in t.roles]
    assert [t.trigger for t in COMPLAINT.available(state, role)] == expected


def test_duplicate_trigger_refused():
    t = COMPLAINT.transitions[0]
    with pytest.raises(ValueError, match="duplicate"):
        CaseType("x", "x", ComplaintState, ComplaintState.SUBMITTED, (t, t))


def test_transition_without_roles_refused():
    t = Transition("x", "x", (ComplaintState.SUBMITTED,), None, frozenset())
    with pytest.raises(ValueError, match="no role"):
        CaseType("x", "x", ComplaintState, ComplaintState.SUBMITTED, (t,))


def test_rule_keys_exist_in_every_pack():
    from workflows.policy import get_packs

    for pack in get_packs().values():
        for t in COMPLAINT.transitions:
            if t.rule:
                assert pack.rule(t.rule).citation.label
            for key in t.starts + t.stops + t.cancels:
                assert pack.limit(key).amount > 0


def test_states_awaiting_each_role_come_from_the_table():
    S = ComplaintState
    assert COMPLAINT.states_awaiting(Role.LEADER) == {S.REFUSAL_PENDING,
                                                      S.CONCLUSION_PENDING, S.UNDER_REVIEW}
    assert COMPLAINT.states_awaiting(Role.INSPECTOR) == {S.ACCEPTED, S.INVESTIGATING,
                                                         S.CONCLUDED}
    assert S.SUBMITTED in COMPLAINT.states_awaiting(Role.INTAKE)
    assert COMPLAINT.states_awaiting(Role.OFFICER) == frozenset()
