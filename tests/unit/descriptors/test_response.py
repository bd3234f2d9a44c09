"""Finite-field polarisability and the Clausius-Mossotti map, against analytic results."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.descriptors import (
    AU_POLARISABILITY_A3,
    clausius_mossotti_polarisability,
    finite_field_polarisability,
    isotropic_polarisability,
    lorentz_dielectric_constant,
)


def test_central_differences_recover_alpha_exactly_despite_hyperpolarisability():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 3))
    alpha = a @ a.T + 5 * np.eye(3)  # symmetric positive definite, bohr^3
    beta = rng.normal(size=(3, 3, 3)) * 50  # a large first hyperpolarisability
    mu0 = np.array([0.3, -0.1, 0.7])

    def dipole(f):
        return mu0 + alpha @ f + 0.5 * np.einsum("ijk,j,k->i", beta, f, f)

    got = finite_field_polarisability(dipole, field=1e-2)
    np.testing.assert_allclose(got, alpha, atol=1e-10)  # even terms cancel exactly
    assert isotropic_polarisability(got) == pytest.approx(np.trace(alpha) / 3)


def test_finite_field_error_from_a_second_hyperpolarisability_is_order_field_squared():
    gamma = 1e4

    def dipole(f):
        return 10.0 * f + gamma / 6 * f**3  # isotropic alpha 10, cubic response

    for field in (1e-2, 1e-3):
        err = isotropic_polarisability(finite_field_polarisability(dipole, field)) - 10.0
        assert err == pytest.approx(gamma * field**2 / 6, rel=1e-6)


def test_atomic_unit_of_polarisability_in_cubic_angstrom():
    assert abs(AU_POLARISABILITY_A3 - 0.148185) < 1e-6


def test_clausius_mossotti_dilute_limit_metal_limit_and_round_trip():
    v = 1.0e4  # Å^3 per atom: a dilute gas, eps - 1 = 4 pi alpha / v to first order
    alpha = clausius_mossotti_polarisability(1.0 + 4 * np.pi * 1.0 / v, v)
    assert alpha == pytest.approx(1.0, rel=1e-3)
    # A metal polarises like a conducting Wigner-Seitz sphere: alpha = r_ws^3.
    r_ws = 1.7
    v_ws = 4 * np.pi / 3 * r_ws**3
    assert clausius_mossotti_polarisability(np.inf, v_ws) == pytest.approx(r_ws**3)
    for eps in (1.0, 2.95, 11.9, 80.0):
        a = clausius_mossotti_polarisability(eps, 20.0)
        assert lorentz_dielectric_constant(a, 20.0) == pytest.approx(eps)


def test_silicon_experiment_gives_the_known_polarisability_per_atom():
    # eps_inf(Si) = 11.9, a = 5.431 Å (8 atoms per cubic cell): alpha ~ 3.75 Å^3 per atom,
    # close to the free Si atom's 5.4 Å^3 reduced by bonding, as expected.
    alpha = clausius_mossotti_polarisability(11.9, 5.431**3 / 8)
    assert alpha == pytest.approx(3.75, abs=0.02)


def test_unphysical_inputs_are_rejected():
    with pytest.raises(ValueError, match="eps_inf"):
        clausius_mossotti_polarisability(0.5, 10.0)
    with pytest.raises(ValueError, match="volume"):
        clausius_mossotti_polarisability(2.0, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        isotropic_polarisability(np.eye(2))
