"""Smoke test of benchmarks/campaign_track_x.py on a tiny Track-X-shaped data set (EMT labels; a
synthetic top level, fine inside a unit test): hull values, folds and the campaign bookkeeping."""

from __future__ import annotations

from collections import Counter

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from qaware.structures import structure_hash

METALS = ("Cu", "Ag", "Au", "Ni", "Pd", "Pt")
LEVELS = ("LOW", "TOP")


def _frame(atoms: Atoms, tag: str, shift_per_o: float) -> Atoms:
    atoms.calc = EMT()
    low = atoms.get_potential_energy()
    counts = Counter(atoms.get_chemical_symbols())
    top = low + shift_per_o * counts["O"] - 0.3 * counts["Pt"]  # the synthetic upper level
    atoms.calc = None
    atoms.info.update(
        tag=tag, structure_hash=structure_hash(atoms), formula=atoms.get_chemical_formula()
    )
    for key, energy in zip(LEVELS, (low, top), strict=True):
        atoms.info.update({f"status_{key}": "ok", f"energy_{key}": energy,
                           f"settings_hash_{key}": f"hash-{key}"})  # fmt: skip
    return atoms


def _perovskite(a: str, b: str, anions: str, rng) -> Atoms:
    frac = np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    frac = frac + rng.normal(0, 0.01, frac.shape)
    return Atoms([a, b, *anions], scaled_positions=frac, cell=np.eye(3) * 3.9, pbc=True)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    frames = [_frame(bulk(m, "fcc", a=3.9), "ref:element", -0.1) for m in METALS]
    for gas in ("O", "N"):
        mol = Atoms(f"{gas}2", positions=[[0, 0, 0], [0, 0, 1.2]], cell=np.eye(3) * 10, pbc=True)
        frames.append(_frame(mol, "ref:element", -0.1))
    frames.append(_frame(bulk("NiO", "rocksalt", a=4.2), "ref:oxide", -0.1))
    for anions, tag in (("OOO", "X3=O3"), ("OON", "X3=O2N")):
        for a in METALS:
            for b in METALS:
                if a != b:
                    shift = rng.choice([-0.8, 0.0])  # some cells much stabler at the top level
                    frames.append(_frame(_perovskite(a, b, anions, rng), tag, shift))
    path = tmp_path_factory.mktemp("track_x") / "track_x.extxyz"
    ase.io.write(path, frames, format="extxyz")
    return path


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("campaign_track_x")


@pytest.fixture(scope="module")
def table(bench, data_file):
    return bench.load_table(LEVELS, data_file)


def test_hull_values_are_zero_for_elements_and_never_below_the_known_phases(bench, table):
    for level in LEVELS:
        e_hull = table.e_hull(level)
        elements = table.tags == bench.TAG_ELEMENT
        np.testing.assert_allclose(e_hull[elements], 0.0, atol=1e-9)
        assert (e_hull[table.tags == bench.TAG_OXIDE] >= -1e-9).all()
        assert (table.hull_energy[level] <= 1e-9).all()  # a hull never lies above the elements
    assert table.candidate.sum() == 60 and table.known_phase.sum() == 9


def test_hit_rules(bench):
    track = bench.HullTrack("t", LEVELS, (1.0, 30.0))
    missed = bench.HullTrack("t", LEVELS, (1.0, 30.0), hit_rule="missed")
    low, top = np.array([0.2, -0.1, 0.3, -0.2]), np.array([-0.1, -0.2, 0.1, 0.0])
    assert track.hit(low, top).tolist() == [True, True, False, True]
    assert missed.hit(low, top).tolist() == [True, False, False, False]


def test_a_fold_spends_its_budget_once_per_strategy_and_counts_true_hits(bench, table):
    (name, pool), other = bench.folds(table, "lofo")
    assert {name, other[0]} == {"X3=O2N", "X3=O3"} and pool.sum() == 30
    settings = bench.Settings(epochs=2, refit_epochs=1, budget_fraction=0.3, n_cycles=3)
    track = bench.HullTrack("t", LEVELS, (1.0, 30.0), hit_rule="missed")
    strategies = ("perfect", "random", "dft_only", "qaware", "qaware[low_only]")
    unit = bench.run_fold(track, table, name, pool, 0, settings, strategies)
    assert unit["budget"] == 9 and unit["n_pool"] == 30
    positive = np.array(unit["positive"])
    truth = {lv: table.e_hull(lv)[pool] for lv in LEVELS}
    np.testing.assert_array_equal(positive, track.hit(truth["LOW"], truth["TOP"]))
    assert 0 < positive.sum() < 30
    for strategy, c in unit["campaigns"].items():
        assert len(c["picked"]) == len(set(c["picked"])) == 9, strategy
        assert c["hits"] == positive[c["picked"]].tolist(), strategy
        assert c["cost"] == 30 * 1.0 + 9 * 30.0, strategy
    perfect = unit["campaigns"]["perfect"]
    assert sum(perfect["hits"]) == min(9, int(positive.sum()))


def test_missing_levels_and_too_few_cells_are_clear_stops(bench, data_file, table, tmp_path):
    out = ["--output", str(tmp_path / "x.json")]
    with pytest.raises(SystemExit, match=r"has no level \['PBE', 'HSE06_at_PBE'\]"):
        bench.main(["--ladder", "dft", "--data", str(data_file), *out])
    assert bench.folds(table, "X3=O3")  # 30 cells
    tags = table.tags.copy()
    tags[np.flatnonzero(tags == "X3=O3")[:15]] = "X3=ON2"  # two families of 15: too small
    few = bench.Table(**{**vars(table), "tags": tags})
    assert [f for f, _ in bench.folds(few, "lofo")] == ["X3=O2N"]
