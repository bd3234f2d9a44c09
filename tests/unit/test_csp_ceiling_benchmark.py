"""benchmarks/csp_ceiling.py: recurring compositions are counted, and φ and the ceiling follow."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("csp_ceiling")


def _perovskite(a_site: str, b_site: str, a: float = 3.9) -> Structure:
    coords = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Structure(Lattice.cubic(a), [a_site, b_site, "O", "O", "O"], coords)


def test_swapped_cations_recur_as_a_different_structure(bench):
    test = [_perovskite("Sr", "Ti"), _perovskite("Ba", "Zr"), _perovskite("Ca", "Mn")]
    val = [_perovskite("Ti", "Sr"), _perovskite("Ba", "Zr", a=3.95), _perovskite("K", "Nb")]
    stats = bench.pair_statistics(test, val)
    assert stats["test_with_composition_in_val"] == 2  # SrTiO3 and BaZrO3
    assert stats["of_those_matching_a_val_crystal"] == 1  # only BaZrO3 is the same structure
    assert stats["test_with_composition_twice_in_test"] == 0
    assert stats["test_compositions_by_multiplicity"] == {1: 3}


def test_ceiling_from_recurrence_rates(bench):
    # every composition has two structures (φ = 1): the other one lands in val with
    # probability n_val / (N − 1); a composition-only guess is then right half the time
    n_total, n_val, n_test = 101, 20, 20
    stats = {
        "n_test": n_test,
        "n_val": n_val,
        "test_with_composition_in_val": n_test * n_val / (n_total - 1),
        "test_with_composition_twice_in_test": n_test * (n_test - 1) / (n_total - 1),
    }
    out = bench.ceiling(stats, n_total)
    assert out["phi_share_with_two_structures_from_val"] == pytest.approx(1.0)
    assert out["phi_share_with_two_structures_from_test"] == pytest.approx(1.0)
    assert out["k1_ceiling_composition_only_from_val"] == pytest.approx(0.5)
    stats["test_with_composition_in_val"] = 0
    assert bench.ceiling(stats, n_total)["k1_ceiling_composition_only_from_val"] == 1.0
