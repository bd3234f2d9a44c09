"""ELF limits (uniform gas 1/2, one-orbital systems 1) and the density-weighted histogram."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.descriptors import elf_from_spin_densities, elf_histogram
from qaware.descriptors.elf import C_F


def test_uniform_electron_gas_has_elf_one_half():
    rho = np.array([0.01, 0.1, 1.0, 3.0])
    tau = C_F * rho ** (5 / 3)  # Thomas-Fermi kinetic energy density, no gradient
    elf = elf_from_spin_densities(rho[None], np.zeros((1, 4)), tau)
    np.testing.assert_allclose(elf, 0.5, rtol=1e-12)


def _one_orbital(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hydrogen 1s orbital phi = exp(-r)/sqrt(pi): density, |grad density|^2, 1/2 |grad phi|^2."""
    phi = np.exp(-r) / np.sqrt(np.pi)
    rho = phi**2
    return rho, (2 * rho) ** 2, 0.5 * phi**2  # d rho/dr = -2 rho, |d phi/dr| = phi


def test_single_orbital_systems_have_elf_one():
    r = np.linspace(0.1, 6.0, 50)
    rho, g2, tau = _one_orbital(r)
    # H atom: one alpha electron, no beta density
    h = elf_from_spin_densities(np.array([rho, 0 * rho]), np.array([g2, 0 * g2]), tau)
    np.testing.assert_allclose(h, 1.0, atol=1e-10)
    # He-like closed shell: the same orbital doubly occupied (total density 2 rho)
    he = elf_from_spin_densities((2 * rho)[None], (4 * g2)[None], 2 * tau)
    np.testing.assert_allclose(he, 1.0, atol=1e-10)


def test_spin_resolved_formula_reduces_to_the_closed_shell_one():
    rng = np.random.default_rng(0)
    rho = rng.uniform(0.01, 1.0, 20)
    g2 = rng.uniform(0.0, 0.5, 20)
    tau = g2 / (8 * rho) + rng.uniform(0.0, 2.0, 20)
    closed = elf_from_spin_densities(rho[None], g2[None], tau)
    split = elf_from_spin_densities(np.array([rho, rho]) / 2, np.array([g2, g2]) / 4, tau)
    np.testing.assert_allclose(closed, split, rtol=1e-12)
    assert np.all((closed >= 0) & (closed <= 1))


def test_histogram_is_density_weighted_and_sums_to_one():
    elf = np.array([0.05, 0.55, 0.95, 0.95])
    rho = np.array([1.0, 1.0, 2.0, 0.0])  # the last point has no electrons: it must not count
    hist = elf_histogram(elf, rho, bins=10)
    assert hist.shape == (10,)
    assert hist.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(hist[[0, 5, 9]], [0.25, 0.25, 0.5])


def test_quadrature_weights_enter_like_volume_elements():
    elf = np.array([0.1, 0.9])
    rho = np.array([1.0, 1.0])
    hist = elf_histogram(elf, rho, bins=2, grid_weights=np.array([3.0, 1.0]))
    np.testing.assert_allclose(hist, [0.75, 0.25])


def test_histogram_rejects_mismatched_or_empty_input():
    with pytest.raises(ValueError, match="differ"):
        elf_histogram(np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="zero"):
        elf_histogram(np.zeros(3), np.zeros(3))
