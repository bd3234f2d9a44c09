"""Generation metrics: golden checks on the CDVAE test splits and hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.metrics.generation import (
    close_packed_share,
    compositional_validity,
    coverage,
    csp_match,
    density_distance,
    element_count_distance,
    novelty,
    p1_share,
    structural_validity,
    uniqueness,
)


def _perturbed(atoms: Atoms, scale: float, seed: int = 0) -> Atoms:
    copy = atoms.copy()
    copy.positions += np.random.default_rng(seed).normal(scale=scale, size=copy.positions.shape)
    return copy


def test_self_match_has_zero_rmse_and_a_perturbed_copy_still_matches(perov_test) -> None:
    targets = perov_test[:40]
    exact = csp_match([targets], targets)
    assert exact.match_rate == pytest.approx(
        np.mean([compositional_validity(a) for a in targets])
    )  # invalid targets cannot be matched at k = 1 (DiffCSP)
    assert exact.rmse == pytest.approx(0.0, abs=1e-6)
    shaken = [_perturbed(a, 0.05, i) for i, a in enumerate(targets)]
    moved = csp_match([shaken], targets)
    assert moved.match_rate == exact.match_rate
    assert 0.001 < moved.rmse < 0.05


def test_best_of_k_and_failed_or_invalid_predictions(perov_test) -> None:
    targets = [a for a in perov_test[:30] if compositional_validity(a)][:10]
    far = [_perturbed(a, 1.5, 1) for a in targets]
    near = [_perturbed(a, 0.02, 2) for a in targets]
    single = csp_match([far], targets)
    assert single.match_rate < 0.5
    both = csp_match([far, near], targets)
    assert both.k == 2 and both.match_rate == 1.0
    assert both.rmse == pytest.approx(csp_match([near], targets).rmse)
    collapsed = [a.copy() for a in targets]
    for a in collapsed:
        a.positions[1] = a.positions[0] + 0.1
    assert csp_match([collapsed], targets).match_rate == 0.0
    none = csp_match([[None] * len(targets)], targets)
    assert none.match_rate == 0.0 and math.isnan(none.rmse)
    assert all(r is None for r in none.rms)


def test_structural_validity_rules() -> None:
    good = bulk("Cu", "fcc", a=3.6)
    assert structural_validity(good)
    close = Atoms("Cu2", positions=[[0, 0, 0], [0.4, 0, 0]], cell=np.eye(3) * 5, pbc=True)
    assert not structural_validity(close)
    assert structural_validity(close, min_distance=0.3)
    tiny = Atoms("H", cell=np.eye(3) * 0.4, pbc=True)
    assert not structural_validity(tiny)
    broken = good.copy()
    broken.positions[0, 0] = np.nan
    assert not structural_validity(broken)


def test_compositional_validity_smact_rules_and_golden_share(perov_test) -> None:
    def atoms(formula: str) -> Atoms:
        return Atoms(formula, cell=np.eye(3) * 5, pbc=True)

    assert compositional_validity(atoms("SrTiO3"))
    assert compositional_validity(atoms("Fe2O3"))
    assert compositional_validity(atoms("C8"))  # one element
    assert compositional_validity(atoms("CuZn"))  # alloy of metals
    assert not compositional_validity(atoms("NaCl2"))  # no neutral combination
    assert not compositional_validity(atoms("NaF2"))
    # golden: share of compositionally valid structures in the first 300 perov_5 test rows with
    # the pinned smact14 oxidation states (98.6 % = 3732 of 3785 on the whole split)
    assert sum(compositional_validity(a) for a in perov_test) == 297


def test_coverage_of_a_set_by_itself_and_by_another_family(perov_test, carbon_test) -> None:
    refs = perov_test[:5]
    assert coverage(refs, refs, struct_cutoff=0.2, comp_cutoff=4.0) == (1.0, 1.0)
    recall, precision = coverage(carbon_test[:2], refs, struct_cutoff=0.2, comp_cutoff=4.0)
    assert recall == 0.0 and precision == 0.0


def test_property_distances(perov_test, carbon_test) -> None:
    valid = [a for a in perov_test[:50] if compositional_validity(a)]  # samples: valid only
    assert density_distance(valid, valid) == pytest.approx(0.0)
    assert density_distance(perov_test[:50], perov_test[:50]) > 0.0
    assert density_distance(carbon_test[:30], perov_test[:50]) > 1.0
    assert element_count_distance(valid, valid) == 0.0
    # carbon has one element: W1 to a point mass at 1 is the mean excess
    excess = np.mean([len(set(a.numbers)) - 1 for a in perov_test[:50]])
    assert element_count_distance(carbon_test[:30], perov_test[:50]) == pytest.approx(excess)


def test_uniqueness_novelty_and_p1_share(carbon_test, perov_test) -> None:
    sample = carbon_test[:10]
    assert uniqueness(sample + sample) == pytest.approx(uniqueness(sample) / 2)
    assert novelty(sample, carbon_test[:20]) == 0.0
    assert novelty(sample, perov_test[:20]) == 1.0
    cubic = bulk("Cu", "fcc", a=3.6)
    assert p1_share([cubic]) == 0.0
    rng = np.random.default_rng(0)
    random = Atoms(
        "C3", scaled_positions=rng.random((3, 3)), cell=np.diag([3.1, 4.3, 5.7]) + 0.3, pbc=True
    )
    assert p1_share([random, cubic]) == 0.5


def test_close_packed_share_finds_fcc_bcc_hcp_and_ordered_decorations(perov_test) -> None:
    metals = [bulk("Cu", "fcc", a=3.6), bulk("Fe", "bcc", a=2.87), bulk("Mg", "hcp", a=3.2, c=5.2)]
    assert close_packed_share(metals) == 1.0
    l12 = bulk("Cu", "fcc", a=3.7, cubic=True)
    l12.numbers[0] = 79  # Cu3Au: an ordered fcc decoration still sits on an fcc framework
    assert close_packed_share([l12]) == 1.0
    diamond = bulk("C", "diamond", a=3.57)
    assert close_packed_share([diamond, *perov_test[:3]]) == 0.0
