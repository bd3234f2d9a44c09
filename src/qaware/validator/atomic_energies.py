"""Per-level per-element reference energies μ_f(Z) and energy scales, fitted before training.

Least squares on ``E(x, f) ≈ Σ_Z n_Z(x) μ_f(Z)`` over the structures labelled at level f. The
network then only learns the (small, smooth) remainder, per level on its own zero: raw energies
of two levels are never mixed. These μ are a model's internal offsets, *not* the elemental
references of formation energies (those come from :mod:`qaware.thermo`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["composition_matrix", "fit_energy_scales", "fit_reference_energies"]


def composition_matrix(species_per_structure: list[np.ndarray], n_species: int) -> np.ndarray:
    """(n_structures, n_species) atom counts from each structure's species indices."""
    return np.stack([np.bincount(s, minlength=n_species) for s in species_per_structure]).astype(
        float
    )


def fit_reference_energies(
    composition: np.ndarray, energy: np.ndarray, *, rcond: float | None = None
) -> np.ndarray:
    """μ: (L, n_species) eV/atom, least squares per level.

    composition: (n, n_species) atom counts.   energy: (n, L) total energies, NaN = unlabelled.
    Exact when the energies are linear in the counts. Where a level's compositions do not fix
    every μ (an element never labelled at that level, or collinear compositions), the
    minimum-norm solution is taken relative to the all-level mean per atom, so an unseen
    element at level f gets that level's average energy per atom rather than 0.
    """
    composition = np.asarray(composition, dtype=float)
    energy = np.asarray(energy, dtype=float)
    n_structures, n_species = composition.shape
    if energy.ndim != 2 or energy.shape[0] != n_structures:
        raise ValueError(f"energy must be (n, L) with n = {n_structures}, got {energy.shape}")
    mu = np.zeros((energy.shape[1], n_species))
    for f in range(energy.shape[1]):
        rows = np.isfinite(energy[:, f])
        if not rows.any():
            continue
        A, y = composition[rows], energy[rows, f]
        baseline = y.sum() / A.sum()  # average energy per atom at this level
        solution, *_ = np.linalg.lstsq(A, y - A.sum(axis=1) * baseline, rcond=rcond)
        mu[f] = solution + baseline
    return mu


def fit_energy_scales(
    composition: np.ndarray,
    energy: np.ndarray,
    mu: np.ndarray,
    *,
    force_rms: np.ndarray | None = None,
    floor: float = 1e-2,
) -> np.ndarray:
    """(L,) eV: the scale of each level's per-atom network output.

    The RMS force component of the level (eV/Å, times 1 Å) where forces are labelled (the
    NequIP convention), else the RMS per-atom energy residual after the references; at least
    ``floor``; 1.0 for a level without labels. Every level then trains on O(1) targets.
    force_rms: (L,) with NaN where a level has no forces.
    """
    scales = np.ones(energy.shape[1])
    n_atoms = composition.sum(axis=1)
    for f in range(energy.shape[1]):
        rows = np.isfinite(energy[:, f])
        if force_rms is not None and np.isfinite(force_rms[f]) and force_rms[f] > 0:
            scales[f] = max(float(force_rms[f]), floor)
        elif rows.any():
            residual = (energy[rows, f] - composition[rows] @ mu[f]) / n_atoms[rows]
            scales[f] = max(float(np.sqrt(np.mean(residual**2))), floor)
    return scales
