"""The progress line of `qaware status`: counts, stop reason and ETA from the state file."""

from __future__ import annotations

import yaml

from qaware.campaign.state import CampaignState, CycleSummary
from qaware.report.status import campaign_progress


def _run(tmp_path, state: CampaignState) -> None:
    camp = {"budget": 20, "batch_size": 4, "max_cycles": 10}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"campaign": camp}))
    state.save(tmp_path)


def test_progress_counts_and_eta(tmp_path):
    assert campaign_progress(tmp_path) == ""  # no campaign yet
    history = [CycleSummary(c, top_calls=4, hits=1, discoveries=1, oracle_time_s=50.0,
                            other_time_s=10.0) for c in (1, 2)]  # fmt: skip
    _run(tmp_path, CampaignState(cycle=3, step="score", history=history))
    line = campaign_progress(tmp_path)
    assert "cycle 3, last step score" in line
    assert "top-level calls 8/20" in line and "hits 2" in line and "discoveries 2" in line
    # 12 calls left at 4 per cycle = 3 cycles at 60 s each
    assert "ETA 3 min 00 s (3 cycles at most)" in line


def test_progress_of_a_stopped_campaign_has_no_eta(tmp_path):
    _run(tmp_path, CampaignState(cycle=2, step="retrain", stopped="budget spent (20 of 20)",
                                 history=[CycleSummary(1, top_calls=20)]))  # fmt: skip
    line = campaign_progress(tmp_path)
    assert line.startswith("stopped: budget spent") and "ETA" not in line
