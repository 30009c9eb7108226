"""Every case type's state table and the engine built from it. Each check is parametrised
over all the tables, so a new case type is covered the moment it is listed here."""

import pytest
from transitions import MachineError

from workflows.appeal import APPEAL
from workflows.complaint import COMPLAINT, ComplaintState
from workflows.discipline import DISCIPLINE
from workflows.engine import CaseType, Transition
from workflows.investigation import INVESTIGATION, InvestigationState
from workflows.recovery import RECOVERY
from workflows.recusal import RECUSAL, RecusalState
from workflows.roles import Role
from workflows.suspension import SUSPENSION, SuspensionState

TABLES = [COMPLAINT, RECUSAL, INVESTIGATION, SUSPENSION, DISCIPLINE, APPEAL, RECOVERY]
ROWS = [(spec, t) for spec in TABLES for t in spec.transitions]

#: Rows that leave a terminal state by design, each with its reason.
TERMINAL_EXITS = {
    # A refused 复议 request must be answered with the date the window closed, so the row
    # exists from the final state and its guard refuses it.
    ("recusal", "request_reconsideration"),
    # A 申诉 may be decided after the suspension has ended: revoking it clears the record.
    ("suspension", "revoke_on_appeal"),
    # An executed decision is done, but an appeal within its window may still revoke it.
    ("discipline", "revoke_on_appeal"),
}


class Case:
    def __init__(self, state):
        self.state = state


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_every_state_has_labels(spec):
    for s in spec.states:
        assert s.label and s.public_label


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_machine_has_no_auto_transitions(spec):
    assert not any(name.startswith("to_") for name in spec.machine.events)


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_every_non_terminal_state_has_a_way_out(spec):
    for s in spec.states:
        if s in spec.terminal:
            continue
        # A refused recusal may simply stay refused when nobody asks for 复议.
        if s is RecusalState.DENIED:
            continue
        assert any(s in t.source and t.dest not in (None, s) for t in spec.transitions), s


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_every_state_is_reachable(spec):
    reached, frontier = {spec.initial}, [spec.initial]
    # Opening events may create a case in another state (ordered recusal, automatic
    # suspension, assigned investigation): those states are entry points too.
    entries = {RecusalState.GRANTED, SuspensionState.ACTIVE, InvestigationState.ASSIGNED}
    for s in spec.states:
        if s in entries:
            reached.add(s)
            frontier.append(s)
    while frontier:
        state = frontier.pop()
        for t in spec.transitions:
            if state in t.source and t.dest and t.dest not in reached:
                reached.add(t.dest)
                frontier.append(t.dest)
    assert reached == set(spec.states)


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_terminal_states_have_no_state_changing_exit(spec):
    for t in spec.transitions:
        if t.dest is None or (spec.name, t.trigger) in TERMINAL_EXITS:
            continue
        assert not (set(t.source) & spec.terminal - {ComplaintState.CLOSED}), t.trigger


@pytest.mark.parametrize(("spec", "t"), ROWS, ids=lambda x: getattr(x, "trigger", None)
                         or x.name)
def test_move_follows_the_table(spec, t):
    for state in spec.states:
        case = Case(state)
        if state in t.source:
            spec.move(case, t.trigger)
            assert case.state == (t.dest or state)
        else:
            with pytest.raises(MachineError):
                spec.move(case, t.trigger)
            assert case.state is state


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_available_is_exactly_table_rows(spec, role):
    for state in spec.states:
        expected = [t.trigger for t in spec.transitions
                    if state in t.source and role in t.roles]
        assert [t.trigger for t in spec.available(state, role)] == expected


def test_duplicate_trigger_refused():
    t = COMPLAINT.transitions[0]
    with pytest.raises(ValueError, match="duplicate"):
        CaseType("x", "x", ComplaintState, ComplaintState.SUBMITTED, (t, t))


def test_transition_without_roles_refused():
    t = Transition("x", "x", (ComplaintState.SUBMITTED,), None, frozenset())
    with pytest.raises(ValueError, match="no role"):
        CaseType("x", "x", ComplaintState, ComplaintState.SUBMITTED, (t,))


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_rule_and_clock_keys_exist_in_every_pack(spec):
    from workflows.policy import get_packs

    for pack in get_packs().values():
        for t in spec.transitions:
            if t.rule:
                assert pack.rule(t.rule).citation.label
            for key in t.starts + t.stops + t.cancels:
                assert pack.limit(key).amount > 0


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_fields_are_needs_then_optional(spec):
    for t in spec.transitions:
        assert t.fields[:len(t.needs)] == t.needs
        assert set(t.fields) == set(t.needs) | set(t.optional)


def test_only_the_officers_own_matters_are_open_to_them():
    """Suspensions, decisions, appeals and recoveries; never a complaint, a recusal
    application or an investigation. They state, defend, waive, appeal and withdraw."""
    assert [spec.name for spec in TABLES if spec.officer_party] == [
        "suspension", "discipline", "appeal", "recovery"]
    officer_rows = {(spec.name, t.trigger) for spec, t in ROWS if Role.OFFICER in t.roles}
    assert officer_rows == {("suspension", "appeal"), ("discipline", "state_defence"),
                            ("discipline", "waive_defence"), ("appeal", "withdraw"),
                            ("recovery", "state_defence"), ("recovery", "waive_defence")}


def test_states_awaiting_each_role_come_from_the_table():
    S = ComplaintState
    assert COMPLAINT.states_awaiting(Role.LEADER) == {S.REFUSAL_PENDING,
                                                      S.CONCLUSION_PENDING, S.UNDER_REVIEW,
                                                      S.UNDER_RECHECK}
    assert COMPLAINT.states_awaiting(Role.INSPECTOR) == {S.ACCEPTED, S.INVESTIGATING,
                                                         S.CONCLUDED}
    assert S.SUBMITTED in COMPLAINT.states_awaiting(Role.INTAKE)
    assert COMPLAINT.states_awaiting(Role.OFFICER) == frozenset()
    assert RECUSAL.states_awaiting(Role.LEADER) == {RecusalState.FILED,
                                                    RecusalState.RECONSIDERING}
    assert SUSPENSION.states_awaiting(Role.LEADER) == {SuspensionState.REQUESTED,
                                                       SuspensionState.ACTIVE}
    assert INVESTIGATION.states_awaiting(Role.LEADER) == {
        InvestigationState.ASSIGNED, InvestigationState.CLEARANCE_PENDING,
        InvestigationState.VIOLATION_PENDING}
