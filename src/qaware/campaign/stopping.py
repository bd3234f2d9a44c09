"""When a campaign stops, and when its models are retrained (pure functions, DESIGN.md §1).

A campaign stops after ``patience`` consecutive cycles without a discovery, when its budget of
top-level calls is spent, or at the cycle limit — whichever comes first. The validator is
retrained every ``retrain_validator_every`` cycles and the generator every
``retrain_generator_every`` cycles (after cycles 5, 10, ... by default), counting from 1.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["retrain_due", "stop_reason"]


def stop_reason(
    discoveries_per_cycle: Sequence[int],
    *,
    calls_spent: int,
    budget: int,
    max_cycles: int,
    patience: int,
) -> str | None:
    """Why the campaign stops after the cycles so far, or None to go on.

    discoveries_per_cycle: new discoveries in each finished cycle, in order.
    """
    if calls_spent >= budget:
        return f"budget spent ({calls_spent} of {budget} top-level calls)"
    if len(discoveries_per_cycle) >= max_cycles:
        return f"cycle limit reached ({max_cycles})"
    tail = list(discoveries_per_cycle[-patience:])
    if len(tail) == patience and not any(tail):
        return f"no discovery in the last {patience} cycles"
    return None


def retrain_due(cycle: int, every: int) -> bool:
    """Whether a model retrained every ``every`` cycles is retrained after ``cycle`` (from 1)."""
    if every < 1 or cycle < 1:
        raise ValueError(f"retrain_due: cycle {cycle} and every {every} must be >= 1")
    return cycle % every == 0
