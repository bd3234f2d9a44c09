"""Fine-tuning on a few structures (a campaign's hits): loss falls, seeded, bounded, saved."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from qaware.errors import ConfigError
from qaware.generator.diffusion_generator import DiffusionGenerator
from qaware.generator.fine_tune import fixed_noise_loss
from qaware.generator.sampler import SamplerConfig
from qaware.generator.train import prepare_training_set


def _fresh(tiny_bundle) -> DiffusionGenerator:
    """An independent copy of the tiny trained model (fine_tune changes it in place)."""
    return DiffusionGenerator.load(
        tiny_bundle.meta["path"], sampler=SamplerConfig(n_steps=6), batch_size=8
    )


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_loss_on_the_hits_goes_down(tiny_bundle, perov) -> None:
    gen = _fresh(tiny_bundle)
    hits = perov[:3]
    data = prepare_training_set(hits, descriptor_keys=gen.bundle.descriptor_keys)
    before = fixed_noise_loss(gen.bundle, data)
    record = gen.fine_tune(hits, steps=80, seed=0, lr=1e-3, batch_size=3)
    after = fixed_noise_loss(gen.bundle, data)
    assert record["steps"] == 80 and record["n_structures"] == 3
    assert record["loss_before"] == pytest.approx(before)
    assert after < 0.8 * before, (before, after)
    assert record["loss_after"] == pytest.approx(after)


def test_same_seed_gives_identical_weights(tiny_bundle, perov) -> None:
    runs = []
    for seed in (4, 4, 5):
        gen = _fresh(tiny_bundle)
        gen.fine_tune(perov[:4], steps=5, seed=seed, lr=1e-3)
        runs.append(gen.bundle.model.state_dict())
    for key in runs[0]:
        assert torch.equal(runs[0][key], runs[1][key]), key
    assert any(not torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_max_seconds_bounds_the_run(tiny_bundle, perov) -> None:
    gen = _fresh(tiny_bundle)
    record = gen.fine_tune(perov[:2], steps=100_000, seed=0, max_seconds=0.3)
    assert 1 <= record["steps"] < 100_000
    assert record["seconds"] < 5.0


def test_hit_templates_join_the_library_and_survive_save(tiny_bundle, perov, tmp_path) -> None:
    gen = _fresh(tiny_bundle)
    total = sum(gen.bundle.library.counts)
    gen.fine_tune(perov[:3], steps=2, seed=0, template_count=5)
    assert sum(gen.bundle.library.counts) == total + 15
    path = tmp_path / "tuned.pt"
    gen.save(path)
    again = DiffusionGenerator.load(path, sampler=SamplerConfig(n_steps=6), batch_size=8)
    a = gen.sample(4, seed=9)
    b = again.sample(4, seed=9)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.get_positions(), y.get_positions(), atol=1e-6)
        assert (x.numbers == y.numbers).all()
    assert again.bundle.meta["fine_tune"][-1]["steps"] == 2


def test_descriptors_are_checked(tiny_bundle, perov) -> None:
    gen = _fresh(tiny_bundle)
    with pytest.raises(ConfigError, match="2 values"):
        gen.fine_tune(perov[:2], steps=1, seed=0, descriptors=np.zeros((2, 5)))
    with pytest.raises(ConfigError, match="expected"):
        gen.fine_tune(perov[:2], steps=1, seed=0, descriptors=np.zeros((3, 2)))
    record = gen.fine_tune(
        perov[:2], steps=1, seed=0, descriptors=np.ones((2, 2)), refit_descriptor_scale=True
    )
    assert record["steps"] == 1
    assert torch.allclose(gen.bundle.model.cond_mean, torch.ones(2))
    assert torch.allclose(gen.bundle.model.cond_std, torch.ones(2))  # no spread: scale 1


def test_untrained_condition_refuses_guidance_until_fine_tuned(perov, tmp_path) -> None:
    from qaware.generator.denoiser import DenoiserConfig
    from qaware.generator.diffusion import DiffusionConfig
    from qaware.generator.train import TrainConfig, train

    structures = [a.copy() for a in perov[:4]]
    for atoms in structures:
        atoms.info["q"] = np.full(3, np.nan)  # no descriptors anywhere: condition never learns
    config = TrainConfig(steps=2, batch_size=4, progress=False, descriptor_keys=("q",))
    small = DiffusionConfig(denoiser=DenoiserConfig(hidden=16, layers=1))
    bundle, _ = train(structures, tmp_path, config=config, model_config=small)
    gen = DiffusionGenerator(bundle, sampler=SamplerConfig(n_steps=3))
    q = [0.1, 0.2, 0.3]
    with pytest.raises(ConfigError, match="never trained"):
        gen.sample(2, seed=0, conditions={"descriptors": q, "lam": 0.5})
    assert len(gen.sample(2, seed=0, conditions={"descriptors": q, "lam": 0.0})) == 2
    gen.fine_tune(structures, steps=2, seed=0, descriptors=np.random.default_rng(0).random((4, 3)))
    assert len(gen.sample(2, seed=0, conditions={"descriptors": q, "lam": 0.5})) == 2
