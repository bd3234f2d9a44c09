"""Static linear response: the isotropic polarisability per atom (DESIGN.md §4, descriptor q).

One quantity for molecules and crystals, the isotropic static electronic polarisability per
atom in Å^3 (volume units: α/(4πε₀)), so that both kinds of structure share a descriptor axis.

* **Molecules**: α_ij = ∂μ_i/∂F_j by central finite differences of the SCF dipole in a uniform
  field ±F along x, y, z (:func:`finite_field_polarisability`; quadratic terms cancel, the error
  is O(F²)·γ). Isotropic α = trace/3 (:func:`isotropic_polarisability`).
* **Crystals**: a uniform field is not periodic, so the finite-field route is closed. We use the
  macroscopic electronic dielectric constant ε∞ (RPA with local fields, computed by GPAW's
  linear-response code on the SCF k-mesh; see :mod:`qaware.descriptors.from_gpaw`) and turn it
  into a polarisability per atom with the Clausius–Mossotti relation
  α = (3Ω / 4πN) (ε∞ − 1)/(ε∞ + 2) (:func:`clausius_mossotti_polarisability`). Why this choice:
  ε∞ is the crystal's own static electronic response (the same physics as the molecular α, and
  CM is exact for a lattice of point dipoles on cubic sites); it costs one non-self-consistent
  band calculation plus a q→0 response step (≈1–3 s for a 2-atom cell here), far less than a
  Berry-phase finite-field or a supercell sawtooth calculation; and it stays finite for metals:
  ε∞ → ∞ gives α = 3Ω/(4πN) = r_WS³, the polarisability of a conducting Wigner–Seitz sphere.
  A DOS-only estimate (Penn model) was rejected: it needs an "average gap" that the Kohn–Sham
  gap is not, and it gives no number for metals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from ase.units import Bohr

__all__ = [
    "AU_POLARISABILITY_A3",
    "DEFAULT_FIELD_AU",
    "clausius_mossotti_polarisability",
    "finite_field_polarisability",
    "isotropic_polarisability",
    "lorentz_dielectric_constant",
    "polarisability_from_dipoles",
]

AU_POLARISABILITY_A3: Final[float] = float(Bohr**3)
"""Å^3 per atomic unit of polarisability (bohr^3): 0.148185."""
DEFAULT_FIELD_AU: Final[float] = 1e-3
"""Finite-field strength, au (5.14e8 V/m): α stays linear, SCF noise stays small."""


def polarisability_from_dipoles(
    dipoles_plus: np.ndarray, dipoles_minus: np.ndarray, field: float
) -> np.ndarray:
    """Polarisability tensor by central differences, in the units of dipole / field.

    dipoles_plus:  (3, 3) row j = dipole vector (x, y, z) computed in the field +F ê_j.
    dipoles_minus: (3, 3) row j = dipole vector in the field −F ê_j.
    field:         F (> 0), same unit system as the dipoles (atomic units give bohr^3).
    Returns (3, 3) α with α[i, j] = ∂μ_i/∂F_j.
    """
    plus = np.asarray(dipoles_plus, dtype=float)
    minus = np.asarray(dipoles_minus, dtype=float)
    if plus.shape != (3, 3) or minus.shape != (3, 3):
        raise ValueError(f"dipoles must be (3, 3) arrays, got {plus.shape} and {minus.shape}")
    if not field > 0:
        raise ValueError(f"field must be > 0, got {field}")
    return (plus - minus).T / (2.0 * field)


def finite_field_polarisability(
    dipole_fn: Callable[[np.ndarray], np.ndarray], field: float = DEFAULT_FIELD_AU
) -> np.ndarray:
    """(3, 3) static polarisability α_ij = ∂μ_i/∂F_j from six calls of ``dipole_fn``.

    dipole_fn: maps a field vector (3,) to the dipole (3,) computed self-consistently in it
               (atomic units in, atomic units out gives α in bohr^3).
    field:     finite-field strength F > 0.
    """
    eye = np.eye(3)
    plus = np.array([np.asarray(dipole_fn(field * e), dtype=float) for e in eye])
    minus = np.array([np.asarray(dipole_fn(-field * e), dtype=float) for e in eye])
    return polarisability_from_dipoles(plus, minus, field)


def isotropic_polarisability(alpha: np.ndarray) -> float:
    """Isotropic polarisability trace(α)/3 of a (3, 3) tensor (any unit, returned unchanged)."""
    a = np.asarray(alpha, dtype=float)
    if a.shape != (3, 3):
        raise ValueError(f"alpha must be (3, 3), got {a.shape}")
    return float(np.trace(a) / 3.0)


def clausius_mossotti_polarisability(eps_inf: float, volume_per_atom: float) -> float:
    """Polarisability per atom (units of ``volume_per_atom``, e.g. Å^3) from ε∞.

    α = (3 v / 4π) (ε − 1)/(ε + 2) with v = Ω/N the volume per atom. ε = ∞ (a metal) gives
    the conducting-sphere limit 3v/4π = r_WS³. Raises ValueError for ε < 1 (not a physical
    static electronic response) or v ≤ 0.
    """
    if not volume_per_atom > 0:
        raise ValueError(f"volume_per_atom must be > 0, got {volume_per_atom}")
    if np.isnan(eps_inf) or eps_inf < 1.0:
        raise ValueError(f"eps_inf must be >= 1 (or inf for a metal), got {eps_inf}")
    factor = 1.0 if np.isinf(eps_inf) else (eps_inf - 1.0) / (eps_inf + 2.0)
    return 3.0 * volume_per_atom / (4.0 * np.pi) * factor


def lorentz_dielectric_constant(alpha_per_atom: float, volume_per_atom: float) -> float:
    """Inverse of :func:`clausius_mossotti_polarisability`: ε = (1 + 2x)/(1 − x), x = 4πα/3v.

    Returns inf at and beyond the polarisation catastrophe (x ≥ 1).
    """
    x = 4.0 * np.pi * alpha_per_atom / (3.0 * volume_per_atom)
    return float("inf") if x >= 1.0 else (1.0 + 2.0 * x) / (1.0 - x)
