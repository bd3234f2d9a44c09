"""Shrinking Δ corrections: the fitted factor recovers a known scale exactly (the top level is
linear in it), is clipped to [0, 1], leaves models without Δ heads alone, is undone by training,
and travels with checkpoints."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from qaware.validator.checkpoint import load_checkpoint, save_checkpoint
from qaware.validator.correction_shrinkage import shrink_corrections, shrink_pooled
from qaware.validator.graph import collate
from qaware.validator.train import TrainConfig, initialise_model, prepare_samples, train
from qaware.validator.uncertainty import held_out_errors

from .conftest import LADDER, emt_structures, small_config


def _model_and_samples(residual: bool = True):
    config = small_config(residual_levels=residual, seed=3)
    samples = prepare_samples(emt_structures(16, top_every=1), config)
    model = initialise_model(config, samples).double().eval()
    with torch.no_grad():  # Δ heads start at zero: give the correction something to say
        gen = torch.Generator().manual_seed(0)
        for p in model.heads[1].parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model, samples


def _labelled_by_the_model(model, samples, factor: float):
    """``samples`` whose top-level labels are the model's own, its correction scaled by
    ``factor`` (the model is left with factor 1)."""
    with torch.no_grad():
        model.correction_factor[1] = factor
        top = model(collate([s.graph for s in samples], model.dtype)).energy[:, 1].numpy()
        model.correction_factor[1] = 1.0
    out = []
    for s, e in zip(samples, top, strict=True):
        energy = s.labels.energy.copy()
        energy[1] = e
        out.append(replace(s, labels=replace(s.labels, energy=energy)))
    return out


@pytest.mark.parametrize(("truth", "fitted"), [(0.37, 0.37), (0.0, 0.0), (1.0, 1.0),
                                               (1.8, 1.0), (-0.5, 0.0)])  # fmt: skip
def test_the_factor_is_recovered_and_clipped(truth, fitted):
    model, samples = _model_and_samples()
    held_out = _labelled_by_the_model(model, samples, truth)
    result = shrink_corrections(model, held_out)
    assert set(result) == {"TOP"}
    # labels go through float32 (collate_labels): ~1e-7 relative on total energies
    assert result["TOP"].factor == pytest.approx(fitted, abs=1e-5)
    assert float(model.correction_factor[1]) == pytest.approx(fitted, abs=1e-5)
    assert float(model.correction_factor[0]) == 1.0
    errors = np.abs(held_out_errors(model, held_out)[1][0])
    assert errors.mean() == pytest.approx(result["TOP"].mae_shrunk, abs=1e-12)
    best = min(result["TOP"].mae_trained, result["TOP"].mae_offsets_only)
    assert result["TOP"].mae_shrunk <= best + 1e-8  # least squares: MSE-optimal, MAE to noise
    if truth == fitted:
        assert errors.max() < 1e-6  # the labels are the model's own at that factor


def test_models_without_delta_heads_and_small_sets_are_left_alone():
    model, samples = _model_and_samples(residual=False)
    assert shrink_corrections(model, _labelled_by_the_model(model, samples, 0.2)) == {}
    assert torch.equal(model.correction_factor, torch.ones(2, dtype=model.dtype))
    model, samples = _model_and_samples()
    few = _labelled_by_the_model(model, samples[:4], 0.2)
    assert shrink_corrections(model, few, min_samples=5) == {}
    assert float(model.correction_factor[1]) == 1.0


def test_training_restores_the_full_correction(tmp_path):
    model, samples = _model_and_samples()
    shrink_corrections(model, _labelled_by_the_model(model, samples, 0.0))
    assert float(model.correction_factor[1]) < 1e-5  # a warm start from here would barely learn
    path = save_checkpoint(model, tmp_path / "m.pt")
    assert path
    again, _ = load_checkpoint(tmp_path / "m.pt")
    assert torch.equal(again.correction_factor, model.correction_factor)  # travels with it
    state = {k: v for k, v in again.state_dict().items() if k != "correction_factor"}
    torch.save({**torch.load(tmp_path / "m.pt", weights_only=True), "state_dict": state},
               tmp_path / "old.pt")  # fmt: skip
    older, _ = load_checkpoint(tmp_path / "old.pt", verify=False)  # written before the factor
    assert torch.equal(older.correction_factor, torch.ones(2, dtype=older.dtype))
    before = model.heads[1].w2.detach().clone()
    train(model, samples, LADDER, TrainConfig(epochs=1, batch_size=8))
    assert float(model.correction_factor[1]) == 1.0
    assert not torch.equal(model.heads[1].w2, before)  # the correction's gradients flowed


def test_one_factor_fitted_on_several_models_pooled_errors():
    """The cross-family case: K models, each with its own held-out samples, one factor."""
    pairs = []
    for seed in (3, 4):
        model, samples = _model_and_samples()
        with torch.no_grad():
            gen = torch.Generator().manual_seed(seed)
            for p in model.heads[1].parameters():
                p.add_(0.2 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        pairs.append((model, _labelled_by_the_model(model, samples[: 6 + seed], 0.6)))
    result = shrink_pooled(pairs)
    assert result["TOP"].factor == pytest.approx(0.6, abs=1e-5)
    assert result["TOP"].n == sum(len(s) for _, s in pairs)
    assert all(float(m.correction_factor[1]) == pytest.approx(0.6, abs=1e-5) for m, _ in pairs)
    other, samples = _model_and_samples(residual=False)
    with pytest.raises(ValueError, match="differ"):
        shrink_pooled([pairs[0], (other, samples)])
