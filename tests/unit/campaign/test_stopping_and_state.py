"""Stopping rule, retrain schedule and the persisted campaign state."""

from __future__ import annotations

import json

import pytest

from qaware.campaign.state import STEPS, CampaignState
from qaware.campaign.stopping import retrain_due, stop_reason
from qaware.errors import RunDirectoryError


def test_stop_after_patience_cycles_without_discovery():
    kw = dict(calls_spent=10, budget=100, max_cycles=20, patience=3)
    assert stop_reason([1, 0, 0], **kw) is None
    assert stop_reason([0, 0], **kw) is None  # fewer cycles than the patience
    assert stop_reason([2, 0, 0, 0], **kw) == "no discovery in the last 3 cycles"
    assert stop_reason([0, 0, 0, 1], **kw) is None  # a discovery resets the streak


def test_stop_at_budget_and_cycle_limit_budget_first():
    assert stop_reason([1], calls_spent=8, budget=8, max_cycles=5, patience=3).startswith(
        "budget spent (8 of 8"
    )
    assert stop_reason([1] * 5, calls_spent=3, budget=8, max_cycles=5, patience=3) == (
        "cycle limit reached (5)"
    )
    assert stop_reason([0, 0, 0], calls_spent=9, budget=8, max_cycles=3, patience=3).startswith(
        "budget"
    )


def test_retrain_schedule_counts_cycles_from_one():
    assert [c for c in range(1, 12) if retrain_due(c, 5)] == [5, 10]
    assert all(retrain_due(c, 1) for c in range(1, 4))
    with pytest.raises(ValueError, match=">= 1"):
        retrain_due(0, 5)


def test_state_walks_the_steps_and_round_trips(tmp_path):
    state = CampaignState()
    assert state.next_step() == "generate"
    seen = []
    for _ in range(len(STEPS) + 1):
        step = state.next_step()
        seen.append(step)
        state.step = step
    assert seen == [*STEPS, "generate"]
    state.summary(1).hits = 3
    state.summary(2).discoveries = 1
    state.save(tmp_path)
    again = CampaignState.load(tmp_path)
    assert again == state
    assert again.summary(1).hits == 3 and len(again.history) == 2
    assert CampaignState.load(tmp_path / "nowhere") == CampaignState()


def test_a_corrupt_state_file_is_a_clear_error(tmp_path):
    (tmp_path / "campaign_state.json").write_text("{not json")
    with pytest.raises(RunDirectoryError, match="unreadable campaign state"):
        CampaignState.load(tmp_path)
    (tmp_path / "campaign_state.json").write_text(json.dumps({"step": "dance"}))
    with pytest.raises(RunDirectoryError, match="unknown step"):
        CampaignState.load(tmp_path)
