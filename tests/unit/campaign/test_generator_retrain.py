"""The retrain step's generator part: hits get the proxy's q only for a conditioned model."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from ase.build import bulk

from qaware.campaign.steps import retrain
from qaware.config import QawareConfig


class _Generator:
    def __init__(self, conditioned: bool) -> None:
        self.descriptor_conditioned = conditioned
        self.calls: list[dict] = []

    def fine_tune(self, structures, **kwargs) -> dict:
        self.calls.append({"n": len(structures), **kwargs})
        return {}

    def save(self, path: Path) -> None:
        Path(path).write_bytes(b"weights")


class _Proxy:
    def predict(self, structures) -> np.ndarray:
        return np.array([[float(len(a)), 1.0] for a in structures])


def _context(tmp_path: Path, generator: _Generator, proxy: _Proxy | None):
    config = QawareConfig.model_validate(
        {"validator": {"retrain_epochs": 0}, "campaign": {"retrain_generator_every": 1}}
    )
    hit = SimpleNamespace(atoms=bulk("Cu", "fcc", a=3.6), key_value_pairs={"hit": True})
    miss = SimpleNamespace(atoms=bulk("Si", "diamond", a=5.4), key_value_pairs={"hit": False})
    (tmp_path / "models").mkdir()
    summary = SimpleNamespace(validator_retrained=False, generator_retrained=False)
    return SimpleNamespace(
        config=config,
        state=SimpleNamespace(cycle=1, summary=lambda c: summary, generator_model=None),
        store=SimpleNamespace(candidates=lambda status: [hit, miss]),
        parts=SimpleNamespace(generator=generator, proxy=proxy),
        run=SimpleNamespace(path=tmp_path, save_model=lambda name, tmp: None),
        seed=lambda step, extra=0: 7,
    )


@pytest.mark.parametrize(
    ("conditioned", "with_proxy", "expect_q"),
    [(True, True, True), (False, True, False), (True, False, False)],
)
def test_hits_get_proxy_q_only_when_the_model_is_conditioned(
    tmp_path: Path, conditioned: bool, with_proxy: bool, expect_q: bool
) -> None:
    gen = _Generator(conditioned)
    ctx = _context(tmp_path, gen, _Proxy() if with_proxy else None)
    retrain(ctx)
    (call,) = gen.calls
    assert call["n"] == 1  # the hit, not the miss
    if expect_q:
        np.testing.assert_array_equal(call["descriptors"], [[1.0, 1.0]])
    else:
        assert call["descriptors"] is None
    assert ctx.state.generator_model == "generator_cycle_0001.pt"
