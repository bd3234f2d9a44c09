"""Regression ECE and post-hoc scaling, checked by hand and on Gaussian samples."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.validator.calibration import (
    CONFIDENCE_LEVELS,
    calibrated_std,
    fit_std_affine,
    fit_std_scale,
    interval_coverage,
    regression_ece,
    reliability_diagram,
)


def test_confidence_levels_are_the_design_ones():
    assert CONFIDENCE_LEVELS[0] == 0.05 and CONFIDENCE_LEVELS[-1] == 0.95
    assert len(CONFIDENCE_LEVELS) == 19


def test_coverage_by_hand():
    # z(0.5) = 0.6745, z(0.9) = 1.6449: errors 0.5, 1.0, 2.0 with σ = 1
    errors, std = np.array([0.5, -1.0, 2.0]), np.ones(3)
    assert interval_coverage(errors, std, 0.5) == pytest.approx(1 / 3)
    assert interval_coverage(errors, std, 0.9) == pytest.approx(2 / 3)
    assert interval_coverage([0.0, 1e-9], [0.0, 0.0], 0.5) == pytest.approx(0.5)


def test_ece_by_hand_for_a_useless_model():
    # σ = 0 with non-zero errors: nothing is ever inside, observed = 0 at every p
    ece = regression_ece(np.ones(10), np.zeros(10))
    assert ece == pytest.approx(np.mean(CONFIDENCE_LEVELS))  # = 0.5
    # σ huge: everything inside, observed = 1: ECE = mean(1 - p) = 0.5 as well
    assert regression_ece(np.ones(10), 1e9 * np.ones(10)) == pytest.approx(0.5)


def test_gaussian_errors_with_true_sigma_are_calibrated():
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.01, 0.2, 20000)
    errors = rng.normal(0, sigma)
    assert regression_ece(errors, sigma) < 0.01
    expected, observed = reliability_diagram(errors, sigma)
    np.testing.assert_allclose(observed, expected, atol=0.02)
    assert regression_ece(errors, 0.3 * sigma) > 0.2, "over-confident"


@pytest.mark.parametrize("method", ["nll", "ece"])
def test_scaling_recovers_a_known_miscalibration(method):
    rng = np.random.default_rng(1)
    sigma = rng.uniform(0.01, 0.2, 5000)
    errors = rng.normal(0, 3.0 * sigma)  # the model's σ is 3x too small
    c = fit_std_scale(errors, sigma, method=method)
    assert c == pytest.approx(3.0, rel=0.08)
    assert regression_ece(errors, c * sigma) < 0.02 < regression_ece(errors, sigma)


def test_ece_scaling_never_worse_than_nll_scaling():
    rng = np.random.default_rng(2)
    sigma = rng.uniform(0.05, 0.1, 300)
    errors = rng.standard_t(2, 300) * sigma  # heavy tails: NLL over-widens
    c_ece = fit_std_scale(errors, sigma, method="ece")
    c_nll = fit_std_scale(errors, sigma, method="nll")
    assert regression_ece(errors, c_ece * sigma) <= regression_ece(errors, c_nll * sigma)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="equal"):
        regression_ece(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="std >= 0"):
        regression_ece(np.ones(2), -np.ones(2))


@pytest.mark.parametrize("method", ["ece", "affine"])
def test_calibrating_a_trained_model_sets_its_std_scale(method):
    import torch

    from qaware.validator.graph import collate
    from qaware.validator.train import TrainConfig, initialise_model, prepare_samples, train
    from qaware.validator.uncertainty import calibrate_model, held_out_errors

    from .conftest import LADDER, emt_structures, small_config

    config = small_config(n_heads=4)
    samples = prepare_samples(emt_structures(30, top_every=1), config)
    model = initialise_model(config, samples)
    train(model, samples[:20], LADDER, TrainConfig(epochs=5), validation=samples[20:])
    result = calibrate_model(model, samples[20:], method=method)
    assert set(result) == {"EMT", "TOP"}
    for f, level in enumerate(config.levels):
        cal = result[level]
        assert cal.n == 10 and cal.ece_after <= cal.ece_before
        assert float(model.std_scale[f]) == pytest.approx(cal.scale)
        assert float(model.std_floor[f]) == pytest.approx(cal.floor)
    top = result["TOP"]
    errors, raw = held_out_errors(model, samples[20:])[1]
    with torch.no_grad():
        out = model(collate([s.graph for s in samples[20:]]))
    n = torch.tensor([s.graph.n_atoms for s in samples[20:]], dtype=out.energy.dtype)
    calibrated = calibrated_std(raw, top.scale, top.floor)
    np.testing.assert_allclose((out.energy_std[:, 1] / n).numpy(), calibrated, rtol=1e-5)
    assert regression_ece(errors, calibrated) == pytest.approx(top.ece_after)


def test_the_floor_is_left_out_when_one_factor_calibrates():
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.01, 0.1, 400)
    errors = 2.0 * sigma * rng.normal(size=400)
    scale, floor = fit_std_affine(errors, sigma)
    assert floor == 0.0 and scale == pytest.approx(fit_std_scale(errors, sigma, method="ece"))


def test_a_floor_calibrates_heads_that_agree_yet_are_wrong():
    """Half the structures: the heads agree (σ ~ 0) but the error is ~0.05 eV/atom; one factor
    cannot cover both halves, a floor can."""
    rng = np.random.default_rng(1)
    sigma = rng.uniform(0.01, 0.1, 400)
    errors = 2.0 * sigma * rng.normal(size=400)
    sigma[:200], errors[:200] = 1e-4, 0.05 * rng.normal(size=200)
    scale, floor = fit_std_affine(errors, sigma)
    assert 0.02 < floor < 0.08
    assert regression_ece(errors, calibrated_std(sigma, scale, floor)) < 0.03
    assert regression_ece(errors, fit_std_scale(errors, sigma) * sigma) > 0.1
    np.testing.assert_allclose(calibrated_std([0.0, 3.0], 1.0, 4.0), [4.0, 5.0])


def test_the_floor_is_per_atom_and_old_checkpoints_load_without_one(tmp_path):
    import torch

    from qaware.validator.checkpoint import load_checkpoint, save_checkpoint
    from qaware.validator.graph import collate
    from qaware.validator.train import initialise_model, prepare_samples

    from .conftest import emt_structures, small_config

    config = small_config(n_heads=1)  # no spread: the floor is the whole σ
    samples = prepare_samples(emt_structures(4, top_every=1), config)
    model = initialise_model(config, samples)
    with torch.no_grad():
        model.std_floor[:] = torch.tensor([0.01, 0.02])
        out = model(collate([s.graph for s in samples]))
    n = torch.tensor([float(s.graph.n_atoms) for s in samples])
    np.testing.assert_allclose(out.energy_std.numpy(), (n[:, None] * model.std_floor).numpy(),
                               rtol=1e-6)  # fmt: skip
    path = tmp_path / "old.pt"
    save_checkpoint(model, path)
    payload = torch.load(path, weights_only=True)
    del payload["state_dict"]["std_floor"]  # as written before the floor existed
    torch.save(payload, path)
    loaded, _ = load_checkpoint(path, verify=False)
    assert torch.all(loaded.std_floor == 0)
