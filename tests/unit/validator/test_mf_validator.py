"""MFValidator: the Validator contract, referenced formation energies, fit, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from qaware.errors import ConfigError
from qaware.oracles.ase_calculator import ASECalculatorOracle
from qaware.protocols import Validator
from qaware.testing import check_validator
from qaware.thermo.references import ElementalReferences, compute_references
from qaware.validator.mf_validator import MFValidator
from qaware.validator.train import TrainConfig

from .conftest import LADDER, emt_structures, small_config, top_energy


@pytest.fixture(scope="module")
def references() -> dict[str, ElementalReferences]:
    emt = compute_references(
        ASECalculatorOracle("ase.calculators.emt:EMT", level="EMT"), ["Cu", "Al"], kind="periodic"
    )
    top = {
        el: top_energy(bulk(el, "fcc", a=4.05 if el == "Al" else 3.61), emt.mu[el]) for el in emt.mu
    }  # one-atom cells: TOP of the same reference state
    return {"EMT": emt, "TOP": ElementalReferences("TOP", "synthetic", top)}


def _labels(structures):
    return {
        "EMT": [a.info["energy_EMT"] for a in structures],
        "TOP": [a.info.get("energy_TOP") for a in structures],
    }


@pytest.fixture(scope="module")
def fitted(references):
    structures = emt_structures(30, seed=11)
    validator = MFValidator(
        LADDER,
        references,
        model_config=small_config(),
        train_config=TrainConfig(epochs=15, learning_rate=1e-2, validation_fraction=0.2),
    )
    torch.manual_seed(0)
    validator.fit(structures, _labels(structures))
    return validator, structures


def test_satisfies_the_validator_protocol(fitted):
    validator, structures = fitted
    assert isinstance(validator, Validator)
    pred = check_validator(validator, structures[:6])
    assert pred.embedding.shape == (6, validator.model.config.channels)


def test_formation_energies_use_each_levels_references(fitted, references):
    validator, structures = fitted
    pred = validator.predict(structures[:4])
    for level in LADDER.names:
        mu = references[level].mu
        for i, atoms in enumerate(structures[:4]):
            ref = sum(mu[s] for s in atoms.get_chemical_symbols()) / len(atoms)
            assert pred.e_form_per_atom[level][i] == pytest.approx(
                pred.energy_per_atom[level][i] - ref
            )


def test_fit_learns_the_labels_and_calibrates(fitted):
    validator, structures = fitted
    pred = validator.predict(structures)
    true = np.array([a.info["energy_EMT"] / len(a) for a in structures])
    assert np.mean(np.abs(pred.energy_per_atom["EMT"] - true)) < 0.05
    assert validator.last_fit is not None and validator.last_fit.val_indices
    assert set(validator.calibration) <= {"EMT", "TOP"} and "EMT" in validator.calibration
    assert all(np.all(s > 0) for s in pred.e_form_std_per_atom.values())


def test_warm_start_keeps_the_model_and_cold_start_replaces_it(fitted, references):
    validator, structures = fitted
    clone = MFValidator.load(_save(validator), train_config=TrainConfig(epochs=2))
    model = clone.model
    clone.fit(structures[:10], _labels(structures[:10]))
    assert clone.model is model
    clone.fit(structures[:10], _labels(structures[:10]), warm_start=False)
    assert clone.model is not model


def _save(validator):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "validator.pt"
    validator.save(path)
    return path


def test_save_and_load_give_the_same_predictions(fitted):
    validator, structures = fitted
    loaded = MFValidator.load(_save(validator))
    a, b = validator.predict(structures[:5]), loaded.predict(structures[:5])
    for level in LADDER.names:
        np.testing.assert_array_equal(a.e_form_per_atom[level], b.e_form_per_atom[level])
        np.testing.assert_array_equal(a.e_form_std_per_atom[level], b.e_form_std_per_atom[level])
    assert loaded.ladder == validator.ladder


def test_fit_sets_the_domain_of_its_training_structures_and_save_keeps_it(fitted, tmp_path):
    validator, structures = fitted
    assert validator.domain is not None and validator.last_fit is not None
    assert validator.domain.n_train == len(validator.last_fit.train_indices)
    trained_on = [structures[i] for i in validator.last_fit.train_indices]
    assert np.allclose(validator.predict(trained_on).domain_distance, 0.0, atol=1e-6)
    validator.save(tmp_path / "v.pt")
    loaded = MFValidator.load(tmp_path / "v.pt")
    assert np.allclose(
        loaded.predict(structures).domain_distance,
        validator.predict(structures).domain_distance,
        atol=1e-5,
    )


def test_calculator_carries_the_references(fitted):
    validator, structures = fitted
    atoms = structures[0].copy()
    atoms.calc = validator.calculator()
    pred = validator.predict([structures[0]])
    d = pred.e_form_per_atom["EMT"][0] - pred.e_form_per_atom["TOP"][0]
    assert atoms.calc.get_property("divergence", atoms) == pytest.approx(d, abs=1e-5)


def test_bad_inputs_are_refused(references):
    with pytest.raises(ConfigError, match="no elemental references"):
        MFValidator(LADDER, {"EMT": references["EMT"]})
    with pytest.raises(ConfigError, match="are of 'EMT'"):
        MFValidator(LADDER, {"EMT": references["EMT"], "TOP": references["EMT"]})
    validator = MFValidator(LADDER, references)
    with pytest.raises(ConfigError, match="call fit"):
        validator.predict(emt_structures(2))
    with pytest.raises(ConfigError, match="not on the ladder"):
        validator.fit(emt_structures(2), {"PBE": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="1 labels at EMT for 2"):
        validator.fit(emt_structures(2), {"EMT": [1.0]})
    nickel = bulk("Ni", "fcc", a=3.52)  # no reference at either level: refused before training
    with pytest.raises(ConfigError, match=r"no elemental reference for \{'EMT': \['Ni'\]"):
        validator.fit([nickel, nickel], {"EMT": [-1.0, -1.0], "TOP": [None, None]})
    assert validator.model is None  # nothing was trained


def test_predict_shows_progress_only_when_asked(fitted, capsys, monkeypatch):
    import qaware.validator.mf_validator as module

    monkeypatch.setattr(module, "progress_enabled", lambda: True)  # as on a terminal
    validator, structures = fitted
    validator.predict(structures[:5])
    assert "predict" not in capsys.readouterr().err
    validator.progress = True
    try:
        validator.predict(structures[:5])
    finally:
        validator.progress = False
    err = capsys.readouterr().err
    assert "predict: 100%" in err and "5/5" in err
