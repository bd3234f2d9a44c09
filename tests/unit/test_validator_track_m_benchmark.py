"""benchmarks/validator_track_m.py bookkeeping: the family split, the ladder, label masking."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

PBE, R2, CC = "PBE/def2-SVP", "r2SCAN/def2-SVP", "CCSD(T)/def2-SVP"


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("validator_track_m")


def _frame(formula: str, tag: str, energies: dict[str, float]) -> Atoms:
    atoms = Atoms(formula, positions=np.arange(3 * len(Atoms(formula))).reshape(-1, 3) * 0.7)
    atoms.info.update(tag=tag, formula=formula)
    for level, e in energies.items():
        key = level.replace("/", "_").replace("-", "_").replace("(", "_").replace(")", "")
        atoms.info[f"energy_{key}"] = e
    return atoms


@pytest.fixture
def frames(bench):
    out = [_frame(el, "atom", {PBE: -1.0, R2: -1.1}) for el in ("Fe", "O", "Ni")]
    for formula in ("FeO", "NiO", "O2", "FeO2"):
        for k in range(3):
            out.append(_frame(formula, "monoxide", {PBE: -3.0 - k, R2: -3.2 - k}))
    out.append(_frame("Ni2O2", "cluster", {PBE: -9.0}))  # PBE only
    return bench.labelled(out, bench.TRACK_M)


def test_families_are_formulas_and_atoms_one_family(frames):
    families = {a.info["family"] for a in frames}
    assert families == {"atoms", "FeO", "NiO", "O2", "FeO2", "Ni2O2"}


def test_folds_partition_the_molecule_families_and_never_hold_out_atoms(bench, frames):
    folds = bench.folds_of(frames, 3, seed=0)
    flat = [f for fold in folds for f in fold]
    assert sorted(flat) == ["FeO", "FeO2", "Ni2O2", "NiO", "O2"]
    assert len(flat) == len(set(flat)) and "atoms" not in flat
    assert bench.folds_of(frames, 3, seed=0) == folds  # seeded


def test_validation_takes_families_until_enough_frames(bench, frames):
    assert bench.validation_of(frames, ["FeO", "NiO", "O2"], 4) == ["FeO", "NiO"]
    assert bench.validation_of(frames, ["FeO", "NiO"], 100) == ["FeO", "NiO"]


def test_validation_families_never_leave_a_held_out_element_untrained(bench):
    """Track X: F occurs in X3=O2F and X3=ONF only. Testing ONF while validating on O2F would
    leave no F in training (no ONF cell predicted), so a later fold validates instead."""
    out = [_frame(el, "ref:element", {"PBE": -1.0}) for el in ("Sr", "Ti", "O", "N", "F")]
    out.append(_frame("TiO2", "ref:oxide", {"PBE": -3.0}))
    for formula, tag in (("SrTiO3", "X3=O3"), ("SrTiO2F", "X3=O2F"), ("SrTiONF", "X3=ONF"),
                         ("SrTiO2N", "X3=O2N")):  # fmt: skip
        out.append(_frame(formula, tag, {"PBE": -9.0}))
    frames = bench.labelled(out, bench.TRACK_X)
    folds = [["X3=ONF"], ["X3=O2F"], ["X3=O2N"], ["X3=O3", "ref:oxide"]]
    # not O2F (no F would be left to train on), nor O2N (no N): the fold after those
    assert bench.validation_for(frames, folds, 0, 1) == ["X3=O3"]
    assert bench.validation_for(frames, folds, 2, 1) == ["X3=O3"]  # the next fold is fine
    assert bench.validation_for(frames, folds, 1, 1) == ["X3=O2N"]  # O2F tested: ONF keeps F


def test_per_frame_split_gives_every_molecule_frame_its_own_family(bench, frames):
    split = bench.per_frame(frames)
    molecules = [a.info["family"] for a in split if a.info["family"] != "atoms"]
    assert len(molecules) == len(set(molecules)) == len(frames) - 3
    assert frames[5].info["family"] == "FeO"  # the input is not changed


def test_ladder_keeps_the_levels_with_enough_labels_in_order(bench, frames):
    assert bench.ladder_of(frames, 10, bench.LEVELS).names == (PBE, R2)
    with pytest.raises(SystemExit, match="fewer than two levels"):
        bench.ladder_of(frames, 100, bench.LEVELS)


def test_only_levels_drops_the_other_labels_and_bare_frames(bench, frames):
    kept = bench.only_levels(frames, (R2,), bench.LEVELS)
    assert len(kept) == len(frames) - 1  # the PBE-only cluster has nothing left
    assert all("energy_PBE_def2_SVP" not in a.info for a in kept)
    assert "energy_PBE_def2_SVP" in frames[0].info


def test_score_is_perfect_on_the_truth_and_d_zero_is_not(bench):
    true = {PBE: np.array([-1.0, -2.0, -3.0]), CC: np.array([-1.2, -2.1, -3.4])}
    perfect = bench.score(dict(true), true, PBE, CC)
    assert perfect["D"]["r2"] == pytest.approx(1.0)
    assert perfect["e_form_mae_eV_per_atom"] == {PBE: 0.0, CC: 0.0}
    flat = bench.score({PBE: true[PBE], CC: true[PBE]}, true, PBE, CC)  # D = 0 everywhere
    assert flat["D"]["r2"] < 0


def test_a_fold_without_top_labels_has_no_d_score(bench):
    """Test families labelled only at PBE (clusters early in the build): no R²(D), no crash."""
    true = {PBE: np.array([-1.0, -2.0]), CC: np.array([np.nan, np.nan])}
    scored = bench.score({PBE: true[PBE] + 0.1, CC: true[PBE]}, true, PBE, CC)
    assert scored["D"] == {"n": 0, "r2": None}
    assert scored["e_form_mae_eV_per_atom"][PBE] == pytest.approx(0.1)


def test_track_x_families_are_tags_and_element_cells_do_not_train(bench):
    """Track X: a perovskite's family is its anion set, the oxides are one family, and the
    element cells (the references) are left out of the frames."""
    out = [_frame(el, "ref:element", {"PBE": -1.0}) for el in ("Sr", "Ti", "O")]
    out.append(_frame("TiO2", "ref:oxide", {"PBE": -3.0, "HSE06": -3.5}))
    out += [_frame("SrTiO3", "X3=O3", {"PBE": -9.0}), _frame("SrTiO2N", "X3=O2N", {"PBE": -8.0})]
    frames = bench.labelled(out, bench.TRACK_X)
    assert [a.info["family"] for a in frames] == ["ref:oxide", "X3=O3", "X3=O2N"]
    assert bench.folds_of(frames, 3, seed=0)  # no reference family to hold back


def test_only_structures_referenced_at_every_level_and_covered_elements_take_part(bench):
    from qaware.thermo import ElementalReferences

    refs = {
        "PBE": ElementalReferences("PBE", "h1", {"Sr": -1.0, "Ti": -2.0, "O": -3.0}),
        "HSE06": ElementalReferences("HSE06", "h2", {"Ti": -2.5, "O": -3.5}),  # no Sr cell
    }
    out = [_frame("TiO2", "ref:oxide", {"PBE": -9.0, "HSE06": -10.0}),
           _frame("SrTiO3", "X3=O3", {"PBE": -20.0, "HSE06": -22.0})]  # fmt: skip
    assert [a.get_chemical_formula() for a in bench.referenced(out, refs)] == ["O2Ti"]
    assert len(bench.referenced(out, {"PBE": refs["PBE"]})) == 2
    for a, family in zip(out, ("A", "B"), strict=True):
        a.info["family"] = family
    out.append(_frame("TiO", "x", {"PBE": -5.0}))
    out[-1].info["family"] = "C"
    # holding out B (Sr) and C (Ti, O): Sr occurs in no training family, Ti and O do
    assert bench.covered(out, ["B", "C"]).tolist() == [0, 2]


def test_lsq_d_recovers_a_composition_linear_divergence_exactly(bench):
    """E_top − E_low linear in composition (and E_low not): the lsq_D baseline predicts the held-
    out D exactly, while the two independent per-level fits do not have to."""
    from qaware.fidelity import Fidelity, FidelityLadder
    from qaware.thermo.references import ElementalReferences

    delta = {"Fe": -0.3, "Ni": -0.1, "O": -0.5}  # eV per atom of each element
    rng = np.random.default_rng(0)
    frames = []
    for formula in ("FeO", "NiO", "FeO2", "NiO2", "Fe2O3", "FeNiO2"):
        atoms = Atoms(formula)
        low = float(rng.normal(-5, 1)) * len(atoms)  # not composition-linear
        shift = sum(delta[s] for s in atoms.get_chemical_symbols())
        atoms.info.update(energy_PBE=low, energy_HSE06=low + shift)
        frames.append(atoms)
    mu = {"Fe": -8.0, "Ni": -5.0, "O": -4.0}
    shifted = {e: m + 0.1 for e, m in mu.items()}  # HSE06 references 0.1 eV/atom above PBE's
    refs = {
        "PBE": ElementalReferences("PBE", "h", mu),
        "HSE06": ElementalReferences("HSE06", "h", shifted),
    }
    ladder = FidelityLadder((Fidelity("PBE"), Fidelity("HSE06")))
    test = np.array([5])  # FeNiO2: every element also occurs in training
    pred = bench.lsq_d_fold(frames, ladder, refs, test, held_out=test)
    atoms = frames[5]
    n = len(atoms)
    d_true = (-(atoms.info["energy_HSE06"] - atoms.info["energy_PBE"]) + 0.1 * n) / n
    assert pred["PBE"][0] - pred["HSE06"][0] == pytest.approx(d_true, abs=1e-9)
