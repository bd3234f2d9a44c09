"""benchmarks/validator_gpu.py and generator_gpu.py: refuse a machine without a GPU (exit 2,
nothing written) and compute their GPU/CPU ratios from the rates only."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


@pytest.mark.parametrize("name", ["validator_gpu", "generator_gpu"])
def test_without_a_gpu_the_benchmark_exits_2_and_writes_nothing(load_benchmark, name, capsys):
    result = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / f"{name}.json"
    before = result.read_bytes() if result.exists() else None
    assert load_benchmark(name).main([]) == 2
    assert "sees no CUDA GPU" in capsys.readouterr().err
    assert (result.read_bytes() if result.exists() else None) == before


def test_gpu_over_cpu_takes_the_named_rates_only(load_benchmark):
    common = load_benchmark("_gpu_common")
    results = {
        "cpu": {"scoring_a": 2.0, "training_b": 4.0, "energy_forces_ms": {"x": 1.0}},
        "cuda": {"scoring_a": 3.0, "training_b": 2.0, "energy_forces_ms": {"x": 2.0}},
    }
    common.add_gpu_over_cpu(results, ["cpu"], ("scoring",))
    assert "gpu_over_cpu" not in results  # one device: no ratio
    common.add_gpu_over_cpu(results, ["cpu", "cuda"], ("scoring", "training"))
    assert results["gpu_over_cpu"] == {"scoring_a": 1.5, "training_b": 0.5}
    assert common.devices_or_none("cpu", "x") == ["cpu"]
    assert common.devices_or_none("cpu,cuda", "x") is None
