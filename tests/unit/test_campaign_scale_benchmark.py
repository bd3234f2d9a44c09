"""benchmarks/campaign_scale.py: the overhead projection picks a fresh HSE06 perovskite call."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("campaign_scale")


def test_projection_uses_the_fastest_freshly_computed_hse06_perovskite(bench):
    calls = [
        {"system": "SrTiO3", "level": "HSE06", "ok": True, "wall_time_s": 800.0},
        {"system": "SrTiO3", "level": "HSE06", "ok": True, "wall_time_s": 5.0, "from_store": True},
        {"system": "SrFeO3", "level": "HSE06", "ok": False, "wall_time_s": 10.0},
        {"system": "SrTiO3", "level": "PBE", "ok": True, "wall_time_s": 20.0},
        {"system": "MgO", "level": "HSE06", "ok": True, "wall_time_s": 30.0},
    ]
    out = bench._projection(16.0, calls, batch=8)
    assert out["hse06_perovskite_wall_s (fastest finished)"] == 800.0
    assert out["overhead_share"] == pytest.approx(16.0 / (8 * 800.0), abs=1e-4)


def test_projection_says_when_no_call_qualifies(bench):
    out = bench._projection(16.0, [{"system": "SrTiO3", "level": "PBE", "ok": True}], batch=8)
    assert "no finished 5-atom perovskite HSE06 call" in out["note"]
