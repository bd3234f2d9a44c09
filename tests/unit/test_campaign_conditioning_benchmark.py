"""benchmarks/campaign_conditioning.py: both arms are valid campaign configs that differ only in
the descriptor guidance, and the target comes from the cells whose stand-in levels diverge most."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from qaware.config import QawareConfig

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import campaign_conditioning as bench  # noqa: E402


def test_the_arms_differ_only_in_guidance(tmp_path: Path) -> None:
    target = tmp_path / "q.json"
    off = bench.config_for("no_conditioning", 0.0, 3, target, tmp_path / "a")
    on = bench.config_for("conditioned", 0.5, 3, target, tmp_path / "b")
    for cfg in (off, on):
        parsed = QawareConfig.model_validate(cfg)
        assert parsed.run.seed == 3 and parsed.generator.proxy == str(bench.PROXY)
        assert all(Path(p).is_absolute() and Path(p).exists() for p in parsed.campaign.hull_seeds)
    assert off["generator"].get("descriptors") is None and off["generator"]["lam"] == 0.0
    assert on["generator"]["descriptors"] == str(target) and on["generator"]["lam"] == 0.5
    strip = ("run", "generator")
    assert {k: v for k, v in off.items() if k not in strip} == {
        k: v for k, v in on.items() if k not in strip
    }


@pytest.mark.slow(seconds=10)
def test_the_target_is_the_most_divergent_perovskites_mean_q() -> None:
    q, about = bench.divergent_target(top_share=0.1)
    assert q.shape == (122,) and np.all(np.isfinite(q))
    d = about["abs_d_ev_per_atom"]
    assert d == sorted(d, reverse=True) and len(d) == round(0.1 * about["n_candidates_for_target"])
