"""MF-ENNP obeys the symmetries of physics (float64, random weights, tolerance 1e-9)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from qaware.testing import (
    assert_energy_invariant,
    assert_equivariant_forces,
    assert_forces_match_finite_differences,
    assert_stress_matches_finite_strain,
)

from .conftest import (
    cluster,
    energy_and_forces,
    energy_and_stress,
    graph_of,
    make_model,
    skewed_cell,
)


@pytest.mark.parametrize("structure", [skewed_cell, cluster], ids=["skewed-cell", "cluster"])
@pytest.mark.parametrize("level", [0, 2])
def test_rotation_and_reflection_equivariance(model, structure, level):
    for seed in range(2):
        assert_equivariant_forces(energy_and_forces(model, level), structure(seed), seed=seed)
        assert_equivariant_forces(
            energy_and_forces(model, level), structure(seed), seed=seed, reflect=False
        )


def test_equivariance_with_l_max_2_and_all_blocks_conditioned():
    model = make_model(l_max=2, n_conditioned_blocks=2)
    assert_equivariant_forces(energy_and_forces(model, 1), skewed_cell(3), seed=3)
    assert_equivariant_forces(energy_and_forces(model, 1), cluster(3), seed=4)


@pytest.mark.parametrize("structure", [skewed_cell, cluster], ids=["skewed-cell", "cluster"])
def test_energy_invariant_to_translation_permutation_wrapping(model, structure):
    energy = lambda atoms: energy_and_forces(model)(atoms)[0]  # noqa: E731
    assert_energy_invariant(energy, structure(1), atol=1e-9)


def test_forces_permute_with_atoms(model):
    atoms = skewed_cell(2)
    perm = np.array([2, 0, 3, 1])
    e0, f0 = energy_and_forces(model)(atoms)
    e1, f1 = energy_and_forces(model)(atoms[perm])
    assert abs(e0 - e1) < 1e-9
    np.testing.assert_allclose(f1, f0[perm], atol=1e-9)


def test_wrapped_and_unwrapped_positions_agree(model):
    atoms = skewed_cell(4)
    far = atoms.copy()
    far.positions += np.array([[3, -2, 1], [-1, 0, 4], [2, 2, -3], [0, -5, 1]]) @ atoms.cell.array
    e0, f0 = energy_and_forces(model)(atoms)
    e1, f1 = energy_and_forces(model)(far)
    assert abs(e0 - e1) < 1e-9
    np.testing.assert_allclose(f1, f0, atol=1e-9)


def test_supercell_is_extensive(model):
    atoms = skewed_cell(5)
    e1, f1 = energy_and_forces(model)(atoms)
    e2, f2 = energy_and_forces(model)(atoms * (2, 1, 2))
    assert abs(e2 - 4 * e1) < 1e-8
    np.testing.assert_allclose(f2, np.tile(f1, (4, 1)), atol=1e-9)


@pytest.mark.parametrize("structure", [skewed_cell, cluster], ids=["skewed-cell", "cluster"])
def test_forces_are_minus_the_energy_gradient(model, structure):
    assert_forces_match_finite_differences(
        energy_and_forces(model, 0), structure(0), delta=1e-5, atol=1e-7
    )


def test_stress_matches_finite_strain(model):
    energy, stress = energy_and_stress(model, 1)
    assert_stress_matches_finite_strain(energy, stress, skewed_cell(6), delta=1e-5, atol=1e-8)


def test_stress_of_a_molecule_is_zero(model):
    out = model.compute(graph_of(model, [cluster(1)]), forces=False, stress=True)
    assert out.stress is not None and torch.all(out.stress == 0)


def test_net_force_vanishes(model):
    for atoms in (skewed_cell(7), cluster(7), bulk("MgO", "rocksalt", a=4.2)):
        _, forces = energy_and_forces(model)(atoms)
        assert np.abs(forces.sum(axis=0)).max() < 1e-10
