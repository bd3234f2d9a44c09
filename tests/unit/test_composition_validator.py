"""CompositionValidator: learns a synthetic multi-fidelity ladder from compositions alone."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from qaware.composition_validator import CompositionValidator, composition_features
from qaware.errors import ConfigError
from qaware.fidelity import Fidelity, FidelityLadder
from qaware.testing import check_validator

METALS = ("Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Al", "Ga", "In", "Ti", "V", "Cr", "Mn")
METALS += ("Fe", "Co", "Ni", "Cu", "Zn", "Y", "Zr", "Nb", "Sn", "Pb")
ANIONS = ("O", "S", "Se", "F", "Cl", "N")
LADDER = FidelityLadder(
    (
        Fidelity("low"),
        Fidelity("mid"),
        Fidelity("top", kind="experiment"),
    )
)
CHI = {"O": 3.44, "S": 2.58, "Se": 2.55, "F": 3.98, "Cl": 3.16, "N": 3.04}


def _ladder_data() -> tuple[list[Atoms], dict[str, np.ndarray]]:
    """Binary compounds M A_n and a linear ladder of per-atom values on them.

    low = −(mean χ difference), mid = low + 0.1·n_anion_fraction, top = 1.5·mid − 0.2.
    """
    from pymatgen.core import Element

    structures, low = [], []
    for m in METALS:
        for a in ANIONS:
            for n in (1, 2, 3):
                structures.append(Atoms(m + a * n))
                frac = n / (n + 1)
                low.append(-frac * (CHI[a] - Element(m).X))
    y0 = np.array(low)
    frac = np.array([1 - 1 / len(s) for s in structures])
    y1 = y0 + 0.1 * frac
    return structures, {"low": y0, "mid": y1, "top": 1.5 * y1 - 0.2}


def _split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    return order[: n // 5], order[n // 5 :]  # 20 % with top labels, 80 % held out


def _labels(structures: list[Atoms], values: dict[str, np.ndarray], top_rows: np.ndarray):
    """Total-energy labels (per-atom value × N): low and mid everywhere, top on top_rows."""
    N = np.array([len(s) for s in structures])
    top = [None] * len(structures)
    for i in top_rows:
        top[i] = float(values["top"][i] * N[i])
    return {"low": list(values["low"] * N), "mid": list(values["mid"] * N), "top": top}


@pytest.fixture(scope="module")
def fitted() -> tuple[CompositionValidator, list[Atoms], dict[str, np.ndarray], np.ndarray]:
    structures, values = _ladder_data()
    train, test = _split(len(structures))
    validator = CompositionValidator(LADDER, seed=0)
    validator.fit(structures, _labels(structures, values, train))
    return validator, structures, values, test


def test_features_depend_only_on_the_composition():
    a = composition_features({"Fe": 2, "O": 3})
    assert np.array_equal(a, composition_features({"O": 6, "Fe": 4}))
    assert not np.allclose(a, composition_features({"Fe": 1, "O": 1}))


def test_recovers_a_linear_ladder_from_few_top_labels(fitted):
    validator, structures, values, test = fitted
    pred = validator.predict([structures[i] for i in test])
    err = pred.e_form_per_atom["top"] - values["top"][test]
    spread = values["top"][test].std()
    # the top level is a linear map of the lower ones: Δ-learning gets it from 20 % of labels
    assert np.abs(err).mean() < 0.1 * spread
    # and puts the held-out compounds in the right order
    rank_true = np.argsort(np.argsort(values["top"][test]))
    rank_pred = np.argsort(np.argsort(pred.e_form_per_atom["top"]))
    assert np.corrcoef(rank_true, rank_pred)[0, 1] > 0.95


def test_stacking_beats_fitting_the_top_level_alone():
    structures, values = _ladder_data()
    train, test = _split(len(structures))
    labels = _labels(structures, values, train)
    errors = {}
    for stacked in (True, False):
        v = CompositionValidator(LADDER, stacked=stacked, seed=0)
        v.fit(structures, labels)
        p = v.predict([structures[i] for i in test])
        errors[stacked] = np.abs(p.e_form_per_atom["top"] - values["top"][test]).mean()
    assert errors[True] < 0.5 * errors[False]


def test_known_lower_levels_are_returned_and_feed_the_top(fitted):
    validator, structures, values, test = fitted
    subset = [structures[i] for i in test]
    N = np.array([len(s) for s in subset])
    known = {"low": list(values["low"][test] * N), "mid": list(values["mid"][test] * N)}
    pred = validator.predict(subset, known=known)
    assert np.allclose(pred.e_form_per_atom["mid"], values["mid"][test])
    assert np.all(pred.e_form_std_per_atom["mid"] == 0)
    assert np.all(pred.e_form_std_per_atom["top"] > 0)
    free = validator.predict(subset)
    assert np.all(free.e_form_std_per_atom["low"] > 0)  # std > 0 where nothing is known
    err_known = np.abs(pred.e_form_per_atom["top"] - values["top"][test]).mean()
    err_free = np.abs(free.e_form_per_atom["top"] - values["top"][test]).mean()
    assert err_known <= err_free


def test_per_atom_units_and_the_protocol(fitted):
    validator, structures, _, _ = fitted
    pred = check_validator(validator, structures[:6])
    doubled = validator.predict([structures[0] + structures[0], structures[1]])
    for level in LADDER.names:
        assert doubled.e_form_per_atom[level][0] == pytest.approx(pred.e_form_per_atom[level][0])


def test_deterministic_with_a_seed():
    structures, values = _ladder_data()
    train, _ = _split(len(structures))
    labels = _labels(structures, values, train)
    preds = []
    for seed in (3, 3, 4):
        v = CompositionValidator(LADDER, seed=seed, n_members=3, n_estimators=4)
        v.fit(structures, labels)
        preds.append(v.predict(structures[:20]).e_form_per_atom["top"])
    assert np.array_equal(preds[0], preds[1])
    assert not np.allclose(preds[0], preds[2])


def test_warm_start_keeps_unchanged_levels_and_learns_new_labels():
    structures, values = _ladder_data()
    train, _ = _split(len(structures))
    v = CompositionValidator(LADDER, seed=0, n_members=3, n_estimators=8)
    v.fit(structures, _labels(structures, values, train[:10]))
    low_members = v._members["low"]
    before = np.abs(v.predict(structures).e_form_per_atom["top"] - values["top"]).mean()
    v.fit(structures, _labels(structures, values, train), warm_start=True)
    assert v._members["low"] is low_members  # same labels at that level: not refitted
    after = np.abs(v.predict(structures).e_form_per_atom["top"] - values["top"]).mean()
    assert after < before


def test_band_gaps_are_not_divided_by_the_atom_count():
    ladder = FidelityLadder((Fidelity("PBE"), Fidelity("experiment", kind="experiment")))
    structures = [Atoms("Si2"), Atoms("Ge2"), Atoms("GaAs"), Atoms("ZnS"), Atoms("NaCl")]
    gaps = [0.6, 0.0, 0.5, 2.1, 5.0]
    v = CompositionValidator(ladder, quantity="band_gap", seed=0, n_members=2, n_estimators=50)
    v.fit(structures, {"PBE": gaps, "experiment": [1.1, 0.7, 1.4, 3.7, 8.5]})
    pred = v.predict(structures, known={"PBE": gaps})
    assert np.allclose(pred.e_form_per_atom["PBE"], gaps)
    assert pred.e_form_per_atom["experiment"][-1] > 5.0  # a gap (8.5 eV), not a gap / 2 atoms


def test_refuses_bad_use():
    v = CompositionValidator(LADDER)
    with pytest.raises(ConfigError, match="fit first"):
        v.predict([Atoms("NaCl")])
    with pytest.raises(ConfigError, match="not on the ladder"):
        v.fit([Atoms("NaCl")], {"PBE": [1.0]})
    with pytest.raises(ConfigError, match="at least 2 labels"):
        v.fit([Atoms("NaCl"), Atoms("KCl")], {"low": [1.0, 2.0], "mid": [1.0, None]})
