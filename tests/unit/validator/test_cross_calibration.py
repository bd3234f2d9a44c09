"""Cross-family calibration: folds of families, per-level factors with the all-level fallback,
and a small end-to-end run in which every factor is fitted on families the fold model never saw."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms

from qaware.errors import ConfigError
from qaware.validator import cross_calibration as cc
from qaware.validator.calibration import fit_std_scale, regression_ece
from qaware.validator.train import TrainConfig
from qaware.validator.workflow import train_on_frames

from .conftest import LADDER, emt_structures, small_config
from .test_mf_validator import references  # noqa: F401  (fixture)


def test_family_folds_deal_every_family_once_and_keep_always_train_out():
    groups = ["atoms"] * 3 + [f"g{i % 7}" for i in range(21)]
    folds = cc.family_folds(groups, 3, seed=2, always_train=["atoms"])
    dealt = [g for f in folds for g in f]
    assert sorted(dealt) == [f"g{i}" for i in range(7)]
    assert len(folds) == 3 and "atoms" not in dealt
    assert folds == cc.family_folds(groups, 3, seed=2, always_train=["atoms"])  # seeded
    assert len(cc.family_folds(["a", "b"], 5)) == 2  # never an empty fold
    with pytest.raises(ConfigError, match="2 folds"):
        cc.family_folds(groups, 1)
    with pytest.raises(ConfigError, match="2 families"):
        cc.family_folds(["atoms", "g0"], 2, always_train=["atoms"])


def test_level_factors_fall_back_to_the_all_level_factor_below_min_labels():
    rng = np.random.default_rng(0)
    e_low = rng.normal(0.0, 1.0, 400)  # spread 0.25 for errors of std 1: factor ≈ 4
    low = (e_low, np.full(400, 0.25))
    top = (rng.normal(0.0, 1.0, 5), np.full(5, 0.1))
    scales, pooled = cc.fit_level_scales({"LOW": low, "TOP": top}, min_labels=20)
    assert pooled == ("TOP",)
    assert scales["LOW"] == pytest.approx(fit_std_scale(*low))
    shared = fit_std_scale(np.concatenate([low[0], top[0]]), np.concatenate([low[1], top[1]]))
    assert scales["TOP"] == pytest.approx(shared)
    assert 3.0 < scales["LOW"] < 5.0
    assert regression_ece(e_low, scales["LOW"] * low[1]) < 0.03
    scales, pooled = cc.fit_level_scales({"LOW": low, "TOP": top}, min_labels=5)
    assert pooled == () and scales["TOP"] == pytest.approx(fit_std_scale(*top))
    with pytest.raises(ValueError, match="no out-of-family"):
        cc.fit_level_scales({})


def test_validation_families_never_take_an_element_away_from_training():
    frames = [Atoms("Cu"), Atoms("Cu2"), Atoms("Al"), Atoms("CuAl"), Atoms("Cu3")]
    groups = ["g0", "g0", "onlyAl", "g1", "g2"]
    for seed in range(10):  # "onlyAl" and "g1" hold the only Al: at most one of them may go
        chosen = cc._validation_groups(frames, groups, range(5), 0.9, seed, ["g2"])
        assert not {"onlyAl", "g1"} <= set(chosen) and "g2" not in chosen


@pytest.fixture(scope="module")
def calibrated(references):  # noqa: F811
    frames = emt_structures(40, seed=5, top_every=1)
    for i, atoms in enumerate(frames):
        atoms.info["grp"] = f"g{i % 8}"
    torch.manual_seed(0)
    train_config = TrainConfig(epochs=4, learning_rate=1e-2, batch_size=8)
    trained = train_on_frames(
        frames, LADDER, references, small_config(), train_config, group_key="grp",
        test_groups=["g0"], validation_groups=["g1"],
    )  # fmt: skip
    seen = []
    outer = [frames[i] for i in sorted(trained.split.train + trained.split.validation)]
    fitted = cc.cross_calibrate(
        trained.validator, outer, small_config(), train_config, folds=3, group_key="grp",
        progress=lambda j, k, fold: seen.append((j, k, fold)),
    )  # fmt: skip
    return trained, fitted, seen


def test_cross_calibration_holds_out_every_training_family_once(calibrated):
    _, fitted, seen = calibrated
    dealt = sorted(g for fold in fitted.folds for g in fold)
    assert dealt == [f"g{i}" for i in range(1, 8)]  # g0 was the test family: never used
    assert [(j, k) for j, k, _ in seen] == [(0, 3), (1, 3), (2, 3)]
    assert fitted.n == {"EMT": 35, "TOP": 35}  # every outer frame predicted once, out of family


def test_cross_calibration_writes_its_factors_into_the_model(calibrated):
    trained, fitted, _ = calibrated
    model = trained.validator._require_model()
    for f, level in enumerate(LADDER.names):
        assert float(model.std_scale[f]) == pytest.approx(fitted.scales[level])
        assert float(model.std_floor[f]) == 0.0
        assert fitted.ece_after[level] <= fitted.ece_before[level] + 1e-12
        entry = trained.validator.calibration[level]
        assert entry.method == "cross_family" and entry.n == fitted.n[level]
        assert entry.scale == fitted.scales[level]
    assert fitted.to_dict()["method"] == "cross_family"


def test_cross_calibration_survives_a_checkpoint_round_trip(calibrated, tmp_path):
    from qaware.validator.mf_validator import MFValidator

    trained, fitted, _ = calibrated
    trained.validator.save(tmp_path / "v.pt")
    loaded = MFValidator.load(tmp_path / "v.pt")
    assert loaded.calibration["TOP"].method == "cross_family"
    assert float(loaded._require_model().std_scale[1]) == pytest.approx(fitted.scales["TOP"])


def test_the_fold_models_serve_a_shrunk_variant_without_training(calibrated, monkeypatch):
    import copy

    trained, fitted, _ = calibrated
    assert len(fitted.models) == 3 and fitted.shrinkage == {}
    frames = emt_structures(40, seed=5, top_every=1)
    for i, atoms in enumerate(frames):
        atoms.info["grp"] = f"g{i % 8}"
    outer = [frames[i] for i in sorted(trained.split.train + trained.split.validation)]

    def no_training(*args, **kwargs):
        raise AssertionError("fold_models were given: nothing may train")

    monkeypatch.setattr(cc, "out_of_family_models", no_training)
    validator = copy.deepcopy(trained.validator)
    config = TrainConfig(epochs=4, learning_rate=1e-2, batch_size=8)
    again = cc.cross_calibrate(validator, outer, small_config(), config, folds=3, group_key="grp",
                               fold_models=fitted.models)  # fmt: skip
    assert again.scales == pytest.approx(fitted.scales)  # the same models, the same factors
    reuse = {"folds": 3, "group_key": "grp", "fold_models": fitted.models}
    shrunk = cc.cross_calibrate(validator, outer, small_config(), config, shrink=True, **reuse)
    factor = shrunk.shrinkage["TOP"].factor
    assert 0.0 <= factor <= 1.0 and shrunk.shrinkage["TOP"].n == fitted.n["TOP"]
    assert float(validator._require_model().correction_factor[1]) == pytest.approx(factor)
    assert validator.shrinkage["TOP"].factor == factor
    assert "shrinkage" in shrunk.to_dict() and "models" not in shrunk.to_dict()
