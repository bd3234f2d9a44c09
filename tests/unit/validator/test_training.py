"""Training: the loss falls, masks and splits behave, checkpoints round-trip, warm starts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qaware.errors import ConfigError, TrainingError
from qaware.fidelity import Fidelity, FidelityLadder
from qaware.validator.checkpoint import load_checkpoint, save_checkpoint
from qaware.validator.config import ModelConfig
from qaware.validator.data import collate_labels
from qaware.validator.graph import collate
from qaware.validator.loss import LossWeights, multi_fidelity_loss
from qaware.validator.train import (
    TrainConfig,
    evaluate,
    initialise_model,
    prepare_samples,
    split_indices,
    train,
)

from .conftest import LADDER, emt_structures, small_config


@pytest.fixture(scope="module")
def trained(structures):
    torch.manual_seed(0)
    config = small_config()
    samples = prepare_samples(structures, config, group_key="family")
    model = initialise_model(config, samples)
    before = evaluate(model, samples[:20], LADDER.weights())
    result = train(
        model,
        samples[:20],
        LADDER,
        TrainConfig(epochs=25, patience=100, learning_rate=1e-2),
        validation=samples[20:],
    )
    return model, samples, before, result


def test_initialisation_fits_references_and_neighbour_count(structures):
    config = small_config()
    samples = prepare_samples(structures, config)
    model = initialise_model(config, samples)
    edges = sum(len(s.graph.edges) for s in samples) / sum(s.graph.n_atoms for s in samples)
    assert model.config.avg_num_neighbours == pytest.approx(edges)
    per_atom = np.array([s.labels.energy[0] / s.graph.n_atoms for s in samples])
    mu = model.reference_energies[0].numpy()
    assert per_atom.min() - 0.5 < mu.mean() < per_atom.max() + 0.5
    assert model.energy_scale[0] == pytest.approx(
        np.sqrt(np.mean(np.concatenate([s.labels.forces[0] for s in samples]) ** 2)), rel=1e-5
    )


def test_training_lowers_loss_and_logs_mae_per_level(trained):
    _, samples, before, result = trained
    first, last = result.history[0], result.history[-1]
    assert last.train_loss < 0.5 * first.train_loss
    assert set(last.energy_mae) == {"EMT", "TOP"} and set(last.force_mae) == {"EMT"}
    model = trained[0]
    after = evaluate(model, samples[:20], LADDER.weights())
    assert after[0] < 0.5 * before[0]
    assert after[2]["EMT"] < 0.5 * before[2]["EMT"], "forces learned"
    assert after[1]["EMT"] < before[1]["EMT"] and after[1]["TOP"] < before[1]["TOP"]


def test_early_stopping_restores_the_best_epoch(structures):
    config = small_config(seed=3)
    samples = prepare_samples(structures, config)
    model = initialise_model(config, samples)
    result = train(model, samples, LADDER, TrainConfig(epochs=60, patience=2, learning_rate=0.05))
    assert len(result.history) < 60, "patience 2 with a large step size must stop early"
    assert len(result.history) - 1 - result.best_epoch == 2
    val = [samples[i] for i in result.val_indices]
    restored, _, _ = evaluate(model, val, LADDER.weights())
    assert restored == pytest.approx(result.best_val_loss, rel=1e-5)


def test_group_split_keeps_families_whole():
    groups = ["a"] * 4 + ["b"] * 3 + ["c"] * 5 + ["d"] * 2
    train_idx, val_idx = split_indices(len(groups), 0.25, seed=1, groups=groups)
    assert sorted(train_idx + val_idx) == list(range(len(groups)))
    held = {groups[i] for i in val_idx}
    assert held and all(groups[i] not in held for i in train_idx)
    assert len(val_idx) >= 0.25 * len(groups)


def test_loss_ignores_unlabelled_levels_and_weights_by_ladder(structures):
    config = small_config()
    samples = prepare_samples(structures[:4], config)
    model = initialise_model(config, samples).double()
    graph = collate([s.graph for s in samples], torch.float64)
    labels = collate_labels([s.labels for s in samples], graph.n_atoms.tolist(), torch.float64)
    heavy_top = FidelityLadder((Fidelity("EMT", weight=0.3), Fidelity("TOP", weight=5.0)))
    w = LossWeights(forces=0.0, stress=0.0)
    t1 = multi_fidelity_loss(model, graph, labels, LADDER.weights(), w)
    t2 = multi_fidelity_loss(model, graph, labels, heavy_top.weights(), w)
    expected = t1.total + (5.0 - 1.0) * w.energy * t1.energy[1]
    torch.testing.assert_close(t2.total, expected)
    labels.energy_mask[:, 1] = False
    t3 = multi_fidelity_loss(model, graph, labels, LADDER.weights(), w)
    assert 1 not in t3.energy
    expected = 0.3 * w.energy * torch.tensor(t1.energy[0], dtype=torch.float64)
    torch.testing.assert_close(t3.total, expected)


def test_stress_labels_enter_the_loss(structures):
    config = small_config()
    samples = prepare_samples(structures[:3], config)
    model = initialise_model(config, samples)
    graph = collate([s.graph for s in samples])
    labels = collate_labels([s.labels for s in samples], graph.n_atoms.tolist())
    terms = multi_fidelity_loss(model, graph, labels, LADDER.weights(), LossWeights(stress=1.0))
    assert set(terms.stress) == {0} and terms.stress[0] > 0


def test_checkpoint_round_trip_and_tamper_detection(trained, tmp_path):
    model, samples, _, _ = trained
    path = tmp_path / "model.pt"
    digest = save_checkpoint(model, path, metadata={"note": "test"})
    assert (tmp_path / "model.pt.sha256").read_text() == f"{digest}  model.pt\n"
    loaded, meta = load_checkpoint(path)
    assert meta == {"note": "test"} and loaded.config == model.config
    graph = collate([s.graph for s in samples[:3]])
    torch.testing.assert_close(loaded(graph).energy, model(graph).energy, atol=0, rtol=0)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(ConfigError, match="sha256"):
        load_checkpoint(path)


def test_warm_start_continues_from_the_trained_weights(trained):
    model, samples, _, _ = trained
    before, _, _ = evaluate(model, samples[20:], LADDER.weights())
    extra = prepare_samples(emt_structures(6, seed=9), model.config)
    mu = model.reference_energies.clone()
    warm = train(
        model, samples[:20] + extra, LADDER, TrainConfig(epochs=3), validation=samples[20:]
    )
    assert torch.equal(model.reference_energies, mu), "a warm start keeps the references"
    assert warm.history[0].val_loss < 3 * before, "no re-initialisation"


def test_a_warm_start_that_does_not_help_keeps_the_starting_weights(trained):
    import copy

    start_model, samples, _, _ = trained
    before, _, _ = evaluate(start_model, samples[20:], LADDER.weights())
    harmful = TrainConfig(epochs=2, learning_rate=0.3, bootstrap=False)  # every epoch worse
    model = copy.deepcopy(start_model)
    kept = train(model, samples[:20], LADDER, harmful, validation=samples[20:],
                 start_competes=True)  # fmt: skip
    assert all(entry.val_loss > before for entry in kept.history)
    assert kept.best_epoch == -1 and kept.best_val_loss == pytest.approx(before)
    for key, value in start_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    model = copy.deepcopy(start_model)  # the default: the best epoch, worse than the start
    moved = train(model, samples[:20], LADDER, harmful, validation=samples[20:])
    assert moved.best_epoch >= 0 and moved.best_val_loss > before


def test_a_diverging_training_says_so_and_keeps_what_it_can(trained, caplog):
    import copy

    start_model, samples, _, _ = trained
    exploding = TrainConfig(epochs=3, learning_rate=1e3, bootstrap=False, max_grad_norm=None)
    model = copy.deepcopy(start_model)
    with pytest.raises(TrainingError, match=r"diverged at epoch 0.*learning_rate"):
        train(model, samples[:20], LADDER, exploding, validation=samples[20:])
    model = copy.deepcopy(start_model)  # a warm start falls back on its starting weights
    kept = train(model, samples[:20], LADDER, exploding, validation=samples[20:],
                 start_competes=True)  # fmt: skip
    assert kept.best_epoch == -1 and len(kept.history) == 1
    assert "diverged" in caplog.text
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_ladder_must_match_model_levels(structures):
    config = small_config()
    samples = prepare_samples(structures[:5], config)
    model = initialise_model(config, samples)
    wrong = FidelityLadder((Fidelity("TOP"), Fidelity("EMT")))
    with pytest.raises(ConfigError, match="same order"):
        train(model, samples, wrong, TrainConfig(epochs=1))


def test_training_on_low_level_data_only_leaves_the_top_level_untouched(structures):
    config = small_config(n_conditioned_blocks=2)
    low_only = []
    for atoms in structures[:8]:
        copy = atoms.copy()
        copy.info.pop("energy_TOP", None)
        low_only.append(copy)
    samples = prepare_samples(low_only, config)
    model = initialise_model(config, samples)
    top = config.n_levels - 1
    protected = model.conditioning_parameters() + model.level_parameters(top)
    before = [p.detach().clone() for p in protected]
    backbone = [p.detach().clone() for p in model.backbone_parameters()]
    train(model, samples, LADDER, TrainConfig(epochs=3, validation_fraction=0.0))
    assert all(torch.equal(p.detach(), b) for p, b in zip(protected, before, strict=True))
    assert not all(
        torch.equal(p.detach(), b)
        for p, b in zip(model.backbone_parameters(), backbone, strict=True)
    )


def test_a_checkpoint_saved_before_delta_learning_loads_with_independent_heads():
    config = small_config()
    assert config.residual_levels, "new models learn level-to-level corrections by default"
    legacy = config.to_dict()
    del legacy["residual_levels"]  # what a checkpoint written before the option holds
    assert ModelConfig.from_dict(legacy).residual_levels is False
    assert ModelConfig.from_dict(config.to_dict()) == config
