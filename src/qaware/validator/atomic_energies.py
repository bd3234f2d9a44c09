"""Per-level per-element reference energies μ_f(Z) and energy scales, fitted before training.

Least squares on ``E(x, f) ≈ Σ_Z n_Z(x) μ_f(Z)`` over the structures labelled at level f. The
network then only learns the (small, smooth) remainder, per level on its own zero: raw energies
of two levels are never mixed. These μ are a model's internal offsets, *not* the elemental
references of formation energies (those come from :mod:`qaware.thermo`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "anchor_level",
    "composition_matrix",
    "fit_energy_scales",
    "fit_reference_energies",
]


def composition_matrix(species_per_structure: list[np.ndarray], n_species: int) -> np.ndarray:
    """(n_structures, n_species) atom counts from each structure's species indices."""
    return np.stack([np.bincount(s, minlength=n_species) for s in species_per_structure]).astype(
        float
    )


def anchor_level(energy: np.ndarray) -> int:
    """The level with the most labelled structures (the lowest index of a tie): the one whose
    μ the least squares fix best, and the others' prior is built on."""
    counts = np.isfinite(np.asarray(energy, dtype=float)).sum(axis=0)
    return int(np.argmax(counts))


def fit_reference_energies(
    composition: np.ndarray,
    energy: np.ndarray,
    *,
    shifts: np.ndarray | None = None,
    rcond: float | None = None,
    difference: bool = False,
) -> np.ndarray:
    """μ: (L, n_species) eV/atom, least squares per level.

    composition: (n, n_species) atom counts.   energy: (n, L) total energies, NaN = unlabelled.
    Exact when the energies are linear in the counts. Where a level's compositions do not fix
    every μ (an element never labelled at that level, or collinear compositions, such as a few
    oxides that all hold O), the minimum-norm solution is taken relative to a prior:

    * with ``shifts`` (L, n_species) eV/atom — how much each element's energy per atom moves
      from level to level, e.g. its elemental reference energy at each level; NaN = unknown —
      the prior of a level f is the anchor level's μ (:func:`anchor_level`, fitted first) plus
      ``shifts[f] − shifts[anchor]`` (an unknown shift: the mean of the known ones). A sparsely
      labelled level (HSE06 on a few oxides) then inherits what the abundant level learned,
      moved by the physics of the elements, in the directions its labels leave free, instead
      of the level's average (``benchmarks/validator_sparse_top.py``). Where the labels fix
      every μ the prior changes nothing.
    * otherwise the level's average energy per atom, so an unseen element at level f gets that
      rather than 0.

    difference: fit each other level's μ as the anchor's plus a least-squares fit of the
    level-to-anchor energy difference on the structures labelled at both (the prior's shift
    where those leave it free); a level sharing no structure with the anchor is fitted on its
    own energies as above. The form that matches Δ-learning heads
    (``ModelConfig.residual_levels``), which learn the same difference.
    """
    composition = np.asarray(composition, dtype=float)
    energy = np.asarray(energy, dtype=float)
    n_structures, n_species = composition.shape
    if energy.ndim != 2 or energy.shape[0] != n_structures:
        raise ValueError(f"energy must be (n, L) with n = {n_structures}, got {energy.shape}")
    n_levels = energy.shape[1]
    if shifts is not None and np.shape(shifts) != (n_levels, n_species):
        raise ValueError(f"shifts must be (L, n_species) = {(n_levels, n_species)}")
    mu = np.zeros((n_levels, n_species))
    anchor = anchor_level(energy)
    order = [anchor, *(f for f in range(n_levels) if f != anchor)]
    for f in order:
        rows = np.isfinite(energy[:, f])
        if not rows.any():
            continue
        A, y = composition[rows], energy[rows, f]
        prior = _prior(mu[anchor], shifts, f, anchor) if f != anchor else None
        shared = rows & np.isfinite(energy[:, anchor])
        if difference and f != anchor and shared.any():
            A, y = composition[shared], energy[shared, f] - energy[shared, anchor]
            base = mu[anchor]
            prior = (prior - base) if prior is not None else np.full(n_species, y.sum() / A.sum())
        else:
            base = np.zeros(n_species)
            if prior is None:
                prior = np.full(n_species, y.sum() / A.sum())  # average energy per atom
        solution, *_ = np.linalg.lstsq(A, y - A @ prior, rcond=rcond)
        mu[f] = base + solution + prior
    return mu


def _prior(
    mu_anchor: np.ndarray, shifts: np.ndarray | None, level: int, anchor: int
) -> np.ndarray | None:
    """μ_anchor + shifts[level] − shifts[anchor] (unknown entries: the mean known shift), or
    None without any known shift."""
    if shifts is None:
        return None
    delta = np.asarray(shifts[level], dtype=float) - np.asarray(shifts[anchor], dtype=float)
    known = np.isfinite(delta)
    if not known.any():
        return None
    return mu_anchor + np.where(known, delta, delta[known].mean())


def fit_energy_scales(
    composition: np.ndarray,
    energy: np.ndarray,
    mu: np.ndarray,
    *,
    force_rms: np.ndarray | None = None,
    floor: float = 1e-2,
    residual: bool = False,
) -> np.ndarray:
    """(L,) eV: the scale of each level's per-atom network output.

    The RMS force component of the level (eV/Å, times 1 Å) where forces are labelled (the
    NequIP convention), else the RMS per-atom energy residual after the references; at least
    ``floor``; 1.0 for a level without labels. Every level then trains on O(1) targets.
    force_rms: (L,) with NaN where a level has no forces.
    residual: Δ-learning (``ModelConfig.residual_levels``): a level above the lowest scales its
    correction to the level below, so its energy residual is taken relative to that level's on
    the structures labelled at both (``force_rms`` should then hold the RMS force *difference*),
    and a level without labels gets ``floor`` (its head starts silent instead of adding O(1)
    noise to every level above it).
    """
    scales = np.ones(energy.shape[1])
    n_atoms = composition.sum(axis=1)
    residuals = (energy - composition @ mu.T) / n_atoms[:, None]
    for f in range(energy.shape[1]):
        rows = np.isfinite(energy[:, f])
        target = residuals[:, f]
        if residual and f > 0:
            if not rows.any():
                scales[f] = floor
                continue
            if (rows & np.isfinite(energy[:, f - 1])).any():
                rows = rows & np.isfinite(energy[:, f - 1])
                target = residuals[:, f] - residuals[:, f - 1]
        if force_rms is not None and np.isfinite(force_rms[f]) and force_rms[f] > 0:
            scales[f] = max(float(force_rms[f]), floor)
        elif rows.any():
            scales[f] = max(float(np.sqrt(np.mean(target[rows] ** 2))), floor)
    return scales
