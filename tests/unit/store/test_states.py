"""The candidate state machine: exactly the edges DESIGN.md §4 and the brief list, no others."""

from __future__ import annotations

import itertools

import pytest

from qaware.errors import StateTransitionError
from qaware.store.states import TERMINAL, CandidateStatus, check_transition

S = CandidateStatus
LEGAL = {
    (S.GENERATED, S.SCORED),
    (S.SCORED, S.SELECTED),
    (S.SCORED, S.SCORED),  # rescored in a later cycle
    (S.SELECTED, S.SUBMITTED),
    (S.SELECTED, S.SCORED),  # deselected when a cycle is rebuilt
    (S.SUBMITTED, S.DONE),
    (S.SUBMITTED, S.FAILED),
    (S.SUBMITTED, S.SUBMITTED),  # resubmitted
    (S.FAILED, S.SUBMITTED),  # retry
    (S.FAILED, S.QUARANTINED),
}
ALL_PAIRS = list(itertools.product(S, S))


@pytest.mark.parametrize(("old", "new"), sorted(LEGAL))
def test_legal_transitions_are_accepted(old, new):
    assert check_transition(old, new) is new
    assert check_transition(str(old), str(new)) == new  # plain strings, as stored in ase.db


@pytest.mark.parametrize(("old", "new"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_illegal_transitions_are_refused_naming_both_states(old, new):
    with pytest.raises(StateTransitionError) as info:
        check_transition(old, new, candidate=17)
    message = str(info.value)
    assert f"'{old}'" in message
    assert f"'{new}'" in message
    assert "candidate 17" in message


def test_done_and_quarantined_are_final():
    assert {S.DONE, S.QUARANTINED} == TERMINAL
    for final, new in itertools.product(TERMINAL, S):
        with pytest.raises(StateTransitionError, match="final"):
            check_transition(final, new)


def test_unknown_state_names_are_refused():
    with pytest.raises(StateTransitionError, match="unknown status"):
        check_transition("generated", "evaluated")
    with pytest.raises(StateTransitionError, match="unknown status"):
        check_transition("Generated", "scored")
