"""Labels from Atoms (both layouts, masks) and least-squares reference energies."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from qaware.errors import InvalidStructureError
from qaware.validator.atomic_energies import (
    anchor_level,
    fit_energy_scales,
    fit_reference_energies,
)
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


def test_residual_scales_measure_the_correction_to_the_level_below():
    """Δ-learning: level 1's scale is the RMS of its residual minus level 0's on shared rows;
    an unlabelled level gets the floor so its head starts silent."""
    comp = np.array([[1.0], [1.0], [1.0]])
    energy = np.array([[-1.0, -1.1, np.nan], [-2.0, -2.1, np.nan], [-3.0, np.nan, np.nan]])
    mu = np.array([[-2.0], [-1.6], [-1.0]])
    plain = fit_energy_scales(comp, energy, mu)
    residual = fit_energy_scales(comp, energy, mu, residual=True)
    assert plain[1] == pytest.approx(0.5)  # residuals ±0.5 about μ_1
    # level 1 − level 0 residuals: (0.5 − 1.0, −0.5 − 0.0) → RMS 0.5; level 2 unlabelled
    assert residual[0] == pytest.approx(plain[0])
    assert residual[1] == pytest.approx(np.sqrt((0.5**2 + 0.5**2) / 2))
    assert plain[2] == 1.0 and residual[2] == pytest.approx(1e-2)


def test_a_sparse_level_inherits_the_anchor_shifted_by_the_element_references():
    """Top level labelled on two structures only: its μ is the anchor's plus each element's
    reference shift in the directions the two labels leave free; exact when that holds."""
    rng = np.random.default_rng(1)
    mu_low = rng.normal(-4, 2, 4)
    shift = np.array([-1.5, -0.3, -2.0, -0.8])  # per element, top minus low
    comp = rng.integers(0, 5, (30, 4)).astype(float)
    comp[comp.sum(1) == 0, 0] = 1
    energy = np.stack([comp @ mu_low, comp @ (mu_low + shift)], axis=1)
    energy[2:, 1] = np.nan  # the top level: two labels
    references = np.stack([np.zeros(4), shift])  # the elements' energies per level
    mu = fit_reference_energies(comp, energy, shifts=references)
    np.testing.assert_allclose(mu, np.stack([mu_low, mu_low + shift]), atol=1e-9)
    without = fit_reference_energies(comp, energy)  # the level average: far off
    assert np.abs(without[1] - (mu_low + shift)).max() > 0.5


def test_where_the_labels_fix_every_mu_the_prior_changes_nothing():
    rng = np.random.default_rng(2)
    comp = rng.integers(0, 5, (40, 4)).astype(float)
    comp[comp.sum(1) == 0, 0] = 1
    energy = comp @ rng.normal(-4, 2, (4, 2)) + rng.normal(0, 0.3, (40, 2))
    references = rng.normal(-3, 1, (2, 4))
    np.testing.assert_allclose(
        fit_reference_energies(comp, energy, shifts=references),
        fit_reference_energies(comp, energy),
        atol=1e-9,
    )


def test_an_element_without_a_reference_shift_gets_the_mean_shift():
    comp = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    energy = np.array([[-2.0, np.nan], [-3.0, np.nan], [-5.0, np.nan]])
    energy[0, 1] = -3.0  # top: one structure of element 0 only
    references = np.array([[-1.0, np.nan], [-2.0, np.nan]])  # shift of element 0: -1
    mu = fit_reference_energies(comp, energy, shifts=references)
    np.testing.assert_allclose(mu[0], [-2.0, -3.0])
    np.testing.assert_allclose(mu[1], [-3.0, -4.0])  # element 1: the mean known shift


def test_anchor_level_is_the_best_labelled_one():
    energy = np.array([[np.nan, 1.0, 1.0], [np.nan, 1.0, np.nan], [1.0, 1.0, 1.0]])
    assert anchor_level(energy) == 1


def test_difference_fit_recovers_the_shift_where_the_direct_fit_overfits():
    """Top level on 5 structures of 4 elements with structure-dependent noise that both levels
    share (a smooth level-to-level difference): fitting the difference recovers μ_low + shift
    exactly; fitting the top energies alone absorbs the shared noise into μ."""
    rng = np.random.default_rng(3)
    mu_low = rng.normal(-4, 2, 4)
    shift = np.array([-1.5, -0.3, -2.0, -0.8])
    comp = rng.integers(1, 5, (30, 4)).astype(float)
    interaction = rng.normal(0, 1.0, 30)  # what μ cannot hold, the same at both levels
    energy = np.stack([comp @ mu_low, comp @ (mu_low + shift)], axis=1) + interaction[:, None]
    energy[5:, 1] = np.nan
    references = np.stack([np.zeros(4), shift])
    mu_diff = fit_reference_energies(comp, energy, shifts=references, difference=True)
    np.testing.assert_allclose(mu_diff[1] - mu_diff[0], shift, atol=1e-9)
    mu_direct = fit_reference_energies(comp, energy, shifts=references)
    assert np.abs((mu_direct[1] - mu_direct[0]) - shift).max() > 0.05
    # the anchor level is fitted the same way either way
    np.testing.assert_allclose(mu_diff[0], mu_direct[0], atol=1e-12)


def test_difference_fit_without_shared_structures_falls_back_to_the_direct_fit():
    comp = np.array([[1.0, 1.0], [2.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
    energy = np.array([[-5.0, np.nan], [-8.0, np.nan], [np.nan, -7.0], [np.nan, -9.5]])
    np.testing.assert_allclose(
        fit_reference_energies(comp, energy, difference=True), fit_reference_energies(comp, energy)
    )
