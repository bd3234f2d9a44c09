"""Labels from Atoms (both layouts, masks) and least-squares reference energies."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from qaware.errors import InvalidStructureError
from qaware.validator.atomic_energies import fit_energy_scales, fit_reference_energies
from qaware.validator.data import collate_labels, read_labels


def test_exported_layout_with_level_keys_and_gates():
    atoms = Atoms("H2O", positions=np.eye(3))
    atoms.info.update({"energy_CCSD_T": -5.0, "energy_PBE": -4.0, "e_ok_PBE": False})
    atoms.info["stress_r2SCAN_at_SevenNet_MF_0"] = np.arange(6.0)
    atoms.arrays["forces_CCSD_T"] = np.ones((3, 3))
    labels = read_labels(atoms, ["PBE", "r2SCAN@SevenNet-MF-0", "CCSD(T)"])
    assert np.isnan(labels.energy[0]), "a gated result is not a label"
    assert np.isnan(labels.energy[1]) and labels.energy[2] == -5.0
    np.testing.assert_array_equal(labels.stress[1], [[0, 5, 4], [5, 1, 3], [4, 3, 2]])
    assert labels.forces[0] is None and labels.forces[2] is not None
    assert np.all(np.isnan(labels.stress[2]))


def test_in_memory_mapping_layout():
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]])
    atoms.info["energy"] = {"A": -1.0, "B": None}
    labels = read_labels(atoms, ["A", "B"])
    assert labels.energy[0] == -1.0 and np.isnan(labels.energy[1])


def test_wrong_label_shape_names_frame_and_key():
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]])
    atoms.info["energy_A"] = -1.0
    atoms.info["stress_A"] = np.zeros(5)
    with pytest.raises(InvalidStructureError, match=r"frame 4, field 'stress_A'"):
        read_labels(atoms, ["A"], index=4)


def test_collate_masks_follow_labels():
    a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]])
    b = Atoms("H3", positions=np.eye(3))
    a.info["energy_A"] = -1.0
    a.arrays["forces_A"] = np.ones((2, 3))
    b.info["energy_B"] = -2.0
    batch = collate_labels([read_labels(a, ["A", "B"]), read_labels(b, ["A", "B"])], [2, 3])
    assert batch.energy_mask.tolist() == [[True, False], [False, True]]
    assert batch.force_mask[:, 0].tolist() == [True, True, False, False, False]
    assert not batch.force_mask[:, 1].any() and not batch.stress_mask.any()


def test_reference_energies_exact_on_a_linear_case():
    rng = np.random.default_rng(0)
    mu_true = rng.normal(-4, 2, (3, 5))  # 3 levels, 5 elements
    comp = rng.integers(0, 6, (40, 5)).astype(float)
    comp[comp.sum(1) == 0, 0] = 1
    energy = comp @ mu_true.T
    energy[rng.random((40, 3)) < 0.3] = np.nan  # missing labels
    mu = fit_reference_energies(comp, energy)
    np.testing.assert_allclose(mu, mu_true, atol=1e-10)
    scales = fit_energy_scales(comp, energy, mu)
    np.testing.assert_allclose(scales, 1e-2)  # nothing left to learn: the floor


def test_unseen_element_gets_the_level_average_not_zero():
    comp = np.array([[2.0, 0.0], [4.0, 0.0]])
    energy = np.array([[-6.0], [-12.0]])
    mu = fit_reference_energies(comp, energy)
    assert mu[0, 0] == pytest.approx(-3.0) and mu[0, 1] == pytest.approx(-3.0)


def test_energy_scale_prefers_forces():
    comp = np.array([[1.0], [2.0]])
    energy = np.array([[-1.0, -1.2], [-2.2, np.nan]])
    mu = fit_reference_energies(comp, energy)
    scales = fit_energy_scales(comp, energy, mu, force_rms=np.array([0.7, np.nan]))
    assert scales[0] == pytest.approx(0.7)
    assert scales[1] == pytest.approx(1e-2)  # one structure: residual 0
