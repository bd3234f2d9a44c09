"""Family split, train-calibrate-report on frames, and the wall-time cap of a warm start."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from qaware.errors import ConfigError
from qaware.thermo.formation import formation_energies_per_atom
from qaware.validator.mf_validator import MFValidator
from qaware.validator.train import TrainConfig
from qaware.validator.workflow import family_split, train_on_frames

from .conftest import LADDER, emt_structures, small_config
from .test_mf_validator import _labels, references  # noqa: F401  (fixture)


def test_family_split_keeps_families_whole_and_test_families_out():
    groups = [f"g{i % 5}" for i in range(50)]
    split = family_split(groups, test_groups=["g3"], validation_fraction=0.2, seed=1)
    assert sorted(split.train + split.validation + split.test) == list(range(50))
    assert {groups[i] for i in split.test} == {"g3"}
    val_groups = {groups[i] for i in split.validation}
    assert "g3" not in val_groups and not val_groups & {groups[i] for i in split.train}
    assert len(split.validation) >= 0.2 * 40
    with pytest.raises(ConfigError, match="g9"):
        family_split(groups, test_groups=["g9"])


@pytest.fixture(scope="module")
def trained(references):  # noqa: F811
    frames = emt_structures(36, seed=3, top_every=1)
    for i, atoms in enumerate(frames):
        atoms.info["grp"] = f"g{i % 6}"
    torch.manual_seed(0)
    result = train_on_frames(
        frames,
        LADDER,
        references,
        small_config(),
        TrainConfig(epochs=8, learning_rate=1e-2, batch_size=6),
        group_key="grp",
        test_groups=["g0"],
        validation_fraction=0.2,
    )
    return frames, result


def test_report_is_measured_on_the_test_family_only(trained):
    frames, result = trained
    assert [frames[i].info["grp"] for i in result.split.test] == ["g0"] * 6
    assert result.test is not None and result.test.n == 6
    assert set(result.test.energy_mae) == {"EMT", "TOP"}
    assert set(result.calibration) == {"EMT", "TOP"}
    assert 0 <= result.test.ece["TOP"] <= 0.5


def test_the_domain_is_fitted_on_the_training_frames_unless_asked_not_to(trained, references):  # noqa: F811
    frames, result = trained
    assert result.validator.domain is not None
    assert result.validator.domain.n_train == len(result.split.train)
    throwaway = train_on_frames(
        frames, LADDER, references, small_config(), TrainConfig(epochs=1, batch_size=6),
        group_key="grp", test_groups=["g0"], validation_fraction=0.2, domain=False,
    )  # fmt: skip
    assert throwaway.validator.domain is None


def test_divergence_metrics_match_a_direct_computation(trained, references):  # noqa: F811
    frames, result = trained
    test = [frames[i] for i in result.split.test]
    pred = result.validator.predict(test)
    elements = ["Al", "Cu"]
    comp = np.array([[a.get_chemical_symbols().count(e) for e in elements] for a in test])
    true = {
        lv: formation_energies_per_atom(
            np.array([a.info[f"energy_{lv}"] for a in test]),
            comp,
            elements,
            references[lv],
            level=lv,
        )
        for lv in ("EMT", "TOP")
    }
    d_true = true["EMT"] - true["TOP"]
    d_pred = pred.e_form_per_atom["EMT"] - pred.e_form_per_atom["TOP"]
    expected = 1 - np.sum((d_pred - d_true) ** 2) / np.sum((d_true - d_true.mean()) ** 2)
    assert result.test.divergence["r2"] == pytest.approx(expected, rel=1e-6)
    assert result.test.divergence["mae"] == pytest.approx(np.mean(np.abs(d_pred - d_true)))


def test_warm_start_fit_respects_the_wall_time_cap_and_keeps_calibration(references):  # noqa: F811
    structures = emt_structures(40, seed=8)
    validator = MFValidator(
        LADDER,
        references,
        model_config=small_config(),
        train_config=TrainConfig(epochs=2, validation_fraction=0.5),
        min_calibration=10,
    )
    validator.fit(structures, _labels(structures))
    scale = validator.model.std_scale.clone()
    validator.train_config = TrainConfig(
        epochs=100_000, patience=100_000, max_seconds=1.5, validation_fraction=0.1
    )
    start = time.perf_counter()
    validator.fit(structures[:30], _labels(structures[:30]), warm_start=True)
    elapsed = time.perf_counter() - start
    assert elapsed < 6.0  # cap 1.5 s + one epoch + calibration and graph building
    assert 1 <= len(validator.last_fit.history) < 100_000
    # 3 held-out structures < min_calibration: the σ factor is kept, not refitted on noise
    assert torch.equal(validator.model.std_scale, scale)
