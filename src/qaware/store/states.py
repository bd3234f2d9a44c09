"""The state machine a candidate walks, and the states of an oracle-call row.

A candidate row moves ``generated → scored → selected → submitted → done | failed | quarantined``
(DESIGN.md §4). The campaign commits each transition before its next side effect, so that after a
crash the row's state says exactly what has and has not happened. The edges below are the only
legal ones; :func:`check_transition` refuses every other move before anything is written.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from qaware.errors import StateTransitionError

__all__ = ["TERMINAL", "TRANSITIONS", "CallStatus", "CandidateStatus", "check_transition"]


class CandidateStatus(StrEnum):
    """Where a candidate stands in the campaign (stored as the ``status`` key of its row)."""

    GENERATED = "generated"  # proposed by the generator, passed screening, not yet scored
    SCORED = "scored"  # validator predictions and S(x) stored
    SELECTED = "selected"  # picked for the top-fidelity oracle in this cycle's batch
    SUBMITTED = "submitted"  # handed to the executor; an oracle-call row exists
    DONE = "done"  # a result that passed the sanity gates is stored
    FAILED = "failed"  # the last attempt failed; may be retried
    QUARANTINED = "quarantined"  # gave up after the retries; the reason is in the row's data


class CallStatus(StrEnum):
    """State of one oracle-call row (one structure × one oracle setting)."""

    SUBMITTED = "submitted"
    DONE = "done"
    FAILED = "failed"


_S = CandidateStatus
TRANSITIONS: Final[dict[CandidateStatus, frozenset[CandidateStatus]]] = {
    _S.GENERATED: frozenset({_S.SCORED}),
    # scored -> scored: rescored by a retrained validator in a later cycle.
    _S.SCORED: frozenset({_S.SCORED, _S.SELECTED}),
    # selected -> scored: deselected when a cycle's batch is rebuilt (e.g. on resume).
    _S.SELECTED: frozenset({_S.SUBMITTED, _S.SCORED}),
    # submitted -> submitted: resubmitted after the executor lost the job.
    _S.SUBMITTED: frozenset({_S.DONE, _S.FAILED, _S.SUBMITTED}),
    # failed -> submitted: a retry; failed -> quarantined: retries exhausted.
    _S.FAILED: frozenset({_S.SUBMITTED, _S.QUARANTINED}),
    _S.DONE: frozenset(),
    _S.QUARANTINED: frozenset(),
}
"""Legal edges: ``TRANSITIONS[old]`` is the set of states ``old`` may move to."""

TERMINAL: Final[frozenset[CandidateStatus]] = frozenset(
    s for s, nxt in TRANSITIONS.items() if not nxt
)
"""States with no way out (``done``, ``quarantined``)."""


def check_transition(old: str, new: str, *, candidate: int | None = None) -> CandidateStatus:
    """Return ``new`` as a :class:`CandidateStatus` if ``old -> new`` is a legal edge.

    Raises StateTransitionError naming both states (and the candidate id when given) for an
    illegal edge or an unknown state name.
    """
    who = f"candidate {candidate}: " if candidate is not None else ""
    try:
        old_s, new_s = CandidateStatus(old), CandidateStatus(new)
    except ValueError:
        known = ", ".join(s.value for s in CandidateStatus)
        raise StateTransitionError(
            f"{who}unknown status in '{old}' -> '{new}' (known: {known})"
        ) from None
    if new_s not in TRANSITIONS[old_s]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[old_s])) or "none, it is final"
        raise StateTransitionError(
            f"{who}illegal transition '{old_s}' -> '{new_s}' (allowed from '{old_s}': {allowed})"
        )
    return new_s
