"""DOS, band gap and reference energy: exact counts, free-electron DOS, metals vs insulators."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.descriptors import band_edges, band_gap, dos_vector, is_metal, reference_energy


def test_dos_counts_every_state_and_puts_it_in_the_right_bin():
    bins = np.linspace(-10, 10, 101)
    dos = dos_vector(np.array([1.05]), 2.0, 0.0, bins=bins, sigma=0.05, n_atoms=2)
    assert dos.shape == (100,)
    assert np.sum(dos * np.diff(bins)) == pytest.approx(1.0, abs=1e-12)  # 2 states / 2 atoms
    assert np.argmax(dos) == np.searchsorted(bins, 1.05) - 1


def test_dos_is_exact_in_each_bin_even_for_sigma_much_smaller_than_the_bins():
    # A sampled Gaussian would miss a 0.01 eV-wide peak between grid points; the binned
    # integral must not.
    bins = np.linspace(-1, 1, 5)
    dos = dos_vector(np.array([0.25, 0.25]), 1.0, 0.0, bins=bins, sigma=0.01)
    assert np.sum(dos * np.diff(bins)) == pytest.approx(2.0)
    assert dos[2] * 0.5 == pytest.approx(2.0)


def test_dos_is_relative_to_the_reference():
    bins = np.linspace(-5, 5, 51)
    a = dos_vector(np.array([3.0, 4.0]), 1.0, 3.5, bins=bins)
    b = dos_vector(np.array([-0.5, 0.5]), 1.0, 0.0, bins=bins)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_free_electron_dos_matches_the_analytic_sqrt_law():
    # Free electrons, E = k^2 (hbar^2/2m = 1): g(E) = sqrt(E) / (2 pi^2) states per volume,
    # spin included. Sample a cube of k-space on a fine grid; each k carries 2 dk^3/(2 pi)^3.
    kmax, n = 3.0, 91
    k1 = np.linspace(-kmax, kmax, n)
    dk = k1[1] - k1[0]
    kx, ky, kz = np.meshgrid(k1, k1, k1, indexing="ij")
    energies = (kx**2 + ky**2 + kz**2).ravel()
    energies = energies[energies < 8.6]  # the rest lies > 6 sigma above the last bin
    weight = 2 * dk**3 / (2 * np.pi) ** 3
    bins = np.linspace(1.0, 8.0, 36)  # inside the fully sampled sphere E < kmax^2 = 9
    dos = dos_vector(energies, weight, 0.0, bins=bins, sigma=0.1)
    centres = 0.5 * (bins[1:] + bins[:-1])
    analytic = np.sqrt(centres) / (2 * np.pi**2)
    np.testing.assert_allclose(dos[2:-2], analytic[2:-2], rtol=0.03)


def test_gap_and_reference_of_a_k_sampled_insulator():
    eig = np.array([[[-3.0, -1.0, 2.0, 4.0], [-2.5, -0.5, 1.5, 3.0]]])  # (1 spin, 2 k, 4 bands)
    occ = np.array([[[1, 1, 0, 0], [1, 1, 0, 0]]], dtype=float)
    assert band_edges(eig, occ) == (-0.5, 1.5)
    assert band_gap(eig, occ) == pytest.approx(2.0)
    assert reference_energy(eig, occ, fermi_level=0.9) == pytest.approx(0.5)  # midpoint, not E_F
    assert not is_metal(eig, occ)


def test_overlapping_bands_make_a_metal_with_the_fermi_level_as_reference():
    eig = np.array([[[-1.0, 0.3], [-0.2, 1.0]]])
    occ = np.array([[[1.0, 0.0], [1.0, 0.0]]])
    eig[0, 1, 0] = 0.5  # occupied level above the other k-point's empty one
    assert band_gap(eig, occ) == 0.0
    assert reference_energy(eig, occ, fermi_level=0.4) == 0.4


def test_a_band_crossing_the_fermi_level_is_a_metal_even_with_an_apparent_sampled_gap():
    # Band 1 is occupied at k0 and empty at k1; the sampled levels leave a 0.2 eV "gap".
    eig = np.array([[[-2.0, -0.1], [-1.5, 0.1]]])
    occ = np.array([[[1.0, 1.0], [1.0, 0.0]]])
    assert band_edges(eig, occ) == (-0.1, 0.1)
    assert is_metal(eig, occ)
    assert band_gap(eig, occ) == 0.0


def test_spin_channels_are_pooled_for_the_fundamental_gap():
    # Spin up gap 1 eV above a VBM at 0, spin down CBM at 0.4 eV: the system gap is 0.4 eV.
    eig = np.array([[-1.0, 0.0, 1.0], [-1.0, 0.4, 2.0]])
    occ = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert band_gap(eig, occ) == pytest.approx(0.4)


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        band_gap(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        band_gap(np.array([0.0, 1.0]), np.array([2.0, 0.0]))
    with pytest.raises(ValueError, match="empty"):
        band_gap(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="increasing"):
        dos_vector(np.zeros(2), 1.0, 0.0, bins=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="sigma"):
        dos_vector(np.zeros(2), 1.0, 0.0, sigma=0.0)
