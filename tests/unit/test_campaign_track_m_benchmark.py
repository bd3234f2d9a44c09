"""Smoke test of benchmarks/campaign_track_m.py on a tiny Track-M-shaped data set (EMT labels; a
synthetic top level with some results gated, fine inside a unit test): e_form values, pools
with gated molecules, and the campaign bookkeeping (a gated call is spent, never a hit)."""

from __future__ import annotations

from collections import Counter

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT

from qaware.structures import structure_hash

LEVELS = ("LOW", "TOP")
METALS = ("Cu", "Ni", "Pd", "Pt", "Ag", "Au")


def _frame(atoms: Atoms, tag: str, shift_per_o: float, gated: bool = False) -> Atoms:
    atoms.calc = EMT()
    low = atoms.get_potential_energy()
    top = low + shift_per_o * Counter(atoms.get_chemical_symbols())["O"]
    atoms.calc = None
    atoms.info.update(tag=tag, structure_hash=structure_hash(atoms),
                      formula=atoms.get_chemical_formula())  # fmt: skip
    atoms.info.update(status_LOW="ok", energy_LOW=low, settings_hash_LOW="hash-LOW")
    if gated:
        atoms.info.update(status_TOP="gated", reason_TOP="multireference: T1 too large")
    else:
        atoms.info.update(status_TOP="ok", energy_TOP=top, settings_hash_TOP="hash-TOP")
    return atoms


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    frames = [_frame(Atoms(el), "atom", 0.0) for el in (*METALS, "O")]
    for family, n_o in (("monoxide", 1), ("dioxide", 2)):
        for metal in METALS:
            for r in np.linspace(1.6, 2.1, 4):
                o = [[0, 0, r], [0, r * 0.95, -0.3 * r]][:n_o]
                mol = Atoms(metal + "O" * n_o, positions=[[0, 0, 0], *o])
                shift = rng.choice([2.0, 0.1])  # some molecules far off at the low level
                frames.append(_frame(mol, family, shift, gated=metal in ("Pd", "Pt")))
    frames.append(_frame(Atoms("CuO", positions=[[0, 0, 0], [0, 0, 1.8]]), "monoxide", 0.0))
    del frames[-1].info["energy_LOW"]  # an unlabelled low level: not in the table
    frames[-1].info["status_LOW"] = "pending"
    path = tmp_path_factory.mktemp("track_m") / "track_m.extxyz"
    ase.io.write(path, frames, format="extxyz")
    return path


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("campaign_track_m")


@pytest.fixture(scope="module")
def table(bench, data_file):
    return bench.load_table(data_file, LEVELS)


def test_table_holds_atoms_and_labelled_molecules_with_e_form_against_the_atoms(bench, table):
    assert table.known_phase.sum() == 7 and table.candidate.sum() == 48
    np.testing.assert_allclose(table.e_form["LOW"][table.known_phase], 0.0, atol=1e-9)
    assert table.computed[table.candidate].all()  # gated counts as computed
    gated = np.isnan(table.e_form["TOP"]) & table.candidate
    assert gated.sum() == 16  # Pd and Pt: no top-level truth
    np.testing.assert_array_equal(table.e_hull("TOP"), table.e_form["TOP"])


def test_hit_rule_is_the_absolute_error_beyond_the_margin(bench):
    track = bench.MarginTrack("t", LEVELS, (1.0, 1.0), margin=0.5)
    low, top = np.array([-1.0, -1.0, -2.0, -1.0]), np.array([-0.4, -0.6, -1.0, np.nan])
    assert track.hit(low, top).tolist() == [True, False, True, False]


def test_folds_pool_gated_molecules_and_a_gated_call_is_spent_without_a_hit(bench, table):
    chosen = bench.folds(table, "lofo")
    assert [name for name, _ in chosen] == ["dioxide", "monoxide"]
    name, pool = chosen[1]
    assert pool.sum() == 24
    settings = bench.Settings(epochs=2, refit_epochs=1, budget_fraction=0.5, n_cycles=3)
    track = bench.MarginTrack("t", LEVELS, (1.0, 2.0), margin=0.5)
    strategies = ("perfect", "random", "dft_only", "qaware", "qaware[direct]")
    unit = bench.run_fold(track, table, name, pool, 0, settings, strategies)
    assert unit["budget"] == 12 and unit["n_top_ok"] == 16
    positive = np.array(unit["positive"])
    rows = np.flatnonzero(pool)
    ok = np.isfinite(table.e_form["TOP"][rows])
    assert not positive[~ok].any() and 0 < positive.sum() < ok.sum()
    for strategy, c in unit["campaigns"].items():
        assert len(c["picked"]) == len(set(c["picked"])) == 12, strategy
        assert c["hits"] == positive[c["picked"]].tolist(), strategy
        assert c["cost"] == 24 * 1.0 + 12 * 2.0, strategy  # gated calls are paid for too
    assert sum(unit["campaigns"]["perfect"]["hits"]) == min(12, int(positive.sum()))


def test_missing_levels_and_small_families_are_clear_stops(bench, data_file, tmp_path):
    with pytest.raises(SystemExit, match=r"has no level \['PBE_def2_SVP'"):
        bench.main(["--data", str(data_file), "--output", str(tmp_path / "x.json")])
    small = bench.load_table(data_file, LEVELS)
    small.tags[np.flatnonzero(small.tags == "dioxide")[:10]] = "cluster"
    assert [name for name, _ in bench.folds(small, "lofo")] == ["monoxide"]


def test_feasible_strategies_learn_a_formulas_gate_from_its_first_refusals(bench, table):
    """Pd and Pt molecules are all gated: with '+feasible', a formula refused once is ranked
    down, so random+feasible spends fewer calls on refused formulas than random."""
    name, pool = bench.folds(table, "monoxide")[0]
    settings = bench.Settings(epochs=1, refit_epochs=1, budget_fraction=0.5, n_cycles=6)
    track = bench.MarginTrack("t", LEVELS, (1.0, 1.0), margin=0.5)
    strategies = ("random", "random+feasible")
    unit = bench.run_fold(track, table, name, pool, 0, settings, strategies)
    rows = np.flatnonzero(pool)
    gated = np.isnan(table.e_form["TOP"][rows])
    spent = {s: int(gated[c["picked"]].sum()) for s, c in unit["campaigns"].items()}
    assert unit["campaigns"]["random+feasible"]["strategy"] == "random+feasible"
    assert spent["random+feasible"] < spent["random"], spent
