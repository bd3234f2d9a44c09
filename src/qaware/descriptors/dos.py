"""Density of states on fixed bins, band gap and the energy reference (DESIGN.md §4, descriptor q).

Every function takes plain arrays of one-electron energies, so a molecule (PySCF MO energies,
shape ``(n_orbitals,)``), a spin-polarised molecule ``(2, n_orbitals)`` and a k-sampled crystal
``(n_spin, n_k, n_bands)`` go through the same code. Energies are eV.

Conventions (fixed here so that molecules and crystals give comparable vectors):

* **occupations** are fractional fillings in [0, 1] of each spin orbital / Bloch state (PySCF's
  ``mo_occ`` divided by 2 for a restricted calculation; GPAW's ``raw`` occupations).
* **band gap** = CBM − VBM, with a state *occupied* when its filling is > 0.5, pooled over spins
  and k-points (the fundamental gap of the whole system). It is 0 for a metal: either some
  occupied state lies at or above some empty one, or the number of occupied states changes from
  one k-point to another within a spin channel (a band crosses the Fermi level). The second test
  matters: on a coarse k-mesh a metal's sampled levels can leave an apparent gap (fcc Al on a
  6×6×6 mesh shows 0.2 eV between its highest occupied and lowest empty sampled level).
* **reference energy** = the Fermi level for a metal, the VBM–CBM (HOMO–LUMO) midpoint otherwise.
* **DOS** = Gaussian-smeared state count per bin, divided by the bin width and the atom count:
  states / eV / atom. Bins are *edges* relative to the reference; the default 101 edges give
  100 bins of 0.2 eV on [−10, 10] eV. Each Gaussian is integrated exactly over each bin (error
  functions), so ``sum(dos * diff(bins)) * n_atoms`` is the smeared number of states inside the
  window for any σ (no sampling error when σ is small against the bins).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from scipy.special import erf

__all__ = [
    "DEFAULT_DOS_BINS",
    "DEFAULT_DOS_SIGMA_EV",
    "band_edges",
    "band_gap",
    "dos_vector",
    "is_metal",
    "reference_energy",
]

DEFAULT_DOS_BINS: Final[np.ndarray] = np.linspace(-10.0, 10.0, 101)
"""Bin edges (eV, relative to the reference): 100 bins of 0.2 eV."""
DEFAULT_DOS_SIGMA_EV: Final[float] = 0.2
"""Gaussian smearing width σ (eV): one bin, enough to hide a coarse k-mesh's sampling noise."""

_OCCUPIED: Final[float] = 0.5  # filling above which a state counts as occupied


def _as_pair(eigenvalues: np.ndarray, occupations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    eig = np.asarray(eigenvalues, dtype=float)
    occ = np.asarray(occupations, dtype=float)
    if eig.shape != occ.shape:
        raise ValueError(f"eigenvalues {eig.shape} and occupations {occ.shape} differ in shape")
    if eig.size == 0 or not np.all(np.isfinite(eig)):
        raise ValueError("eigenvalues: need at least one finite value, got empty or non-finite")
    if np.any(occ < -1e-8) or np.any(occ > 1 + 1e-8):
        raise ValueError(
            f"occupations must be fillings in [0, 1] (got {occ.min():.3g}..{occ.max():.3g}); "
            "divide restricted (doubly occupied) occupations by 2"
        )
    return eig.ravel(), occ.ravel()


def band_edges(eigenvalues: np.ndarray, occupations: np.ndarray) -> tuple[float, float]:
    """(VBM, CBM) in eV: highest occupied and lowest empty level, pooled over spins and k.

    eigenvalues, occupations: any equal shapes, e.g. (n_spin, n_k, n_bands); fillings in [0, 1].
    VBM is −inf when nothing is occupied and CBM +inf when every state is filled.
    """
    eig, occ = _as_pair(eigenvalues, occupations)
    filled = occ > _OCCUPIED
    vbm = float(eig[filled].max()) if filled.any() else -np.inf
    cbm = float(eig[~filled].min()) if (~filled).any() else np.inf
    return vbm, cbm


def is_metal(eigenvalues: np.ndarray, occupations: np.ndarray) -> bool:
    """True when the levels describe a metal (see the module docstring for the two tests).

    eigenvalues, occupations: (n_levels,), (n_spin, n_levels) or (n_spin, n_k, n_bands).
    """
    vbm, cbm = band_edges(eigenvalues, occupations)
    if cbm <= vbm:
        return True
    occ = np.asarray(occupations, dtype=float)
    if occ.ndim == 3:  # (spin, k, band): occupied count per k must not vary within a spin
        counts = (occ > _OCCUPIED).sum(axis=2)
        return bool(np.any(counts != counts[:, :1]))
    return False


def band_gap(eigenvalues: np.ndarray, occupations: np.ndarray) -> float:
    """Fundamental gap CBM − VBM in eV (0 for a metal); see the module docstring.

    eigenvalues, occupations: (n_levels,), (n_spin, n_levels) or (n_spin, n_k, n_bands);
    fillings in [0, 1]. Raises ValueError when the system has no occupied or no empty state
    (no gap can be defined; add empty bands).
    """
    vbm, cbm = band_edges(eigenvalues, occupations)
    if not (np.isfinite(vbm) and np.isfinite(cbm)):
        raise ValueError("band_gap: need both occupied and empty states (add empty bands)")
    return 0.0 if is_metal(eigenvalues, occupations) else cbm - vbm


def reference_energy(
    eigenvalues: np.ndarray, occupations: np.ndarray, fermi_level: float | None = None
) -> float:
    """Energy zero of the DOS, eV: the Fermi level for a metal, the gap midpoint otherwise.

    ``fermi_level`` (eV) is used only for metals; without it a metal's reference is the midpoint
    of its (overlapping) VBM and CBM, which lies within the smearing width of the Fermi level.
    """
    vbm, cbm = band_edges(eigenvalues, occupations)
    if not (np.isfinite(vbm) and np.isfinite(cbm)):
        raise ValueError("reference_energy: need both occupied and empty states")
    if fermi_level is not None and is_metal(eigenvalues, occupations):
        return float(fermi_level)
    return 0.5 * (vbm + cbm)


def dos_vector(
    eigenvalues_ev: np.ndarray,
    weights: np.ndarray | float,
    reference_ev: float,
    *,
    bins: np.ndarray = DEFAULT_DOS_BINS,
    sigma: float = DEFAULT_DOS_SIGMA_EV,
    n_atoms: int = 1,
) -> np.ndarray:
    """Gaussian-smeared density of states on fixed bins, states / eV / atom.

    eigenvalues_ev: one-electron energies, eV, any shape ((n_orb,), (n_spin, n_k, n_bands)...).
    weights:        states carried by each eigenvalue, broadcastable to ``eigenvalues_ev``:
                    k-point weight (summing to 1) × spin degeneracy (2 restricted, 1 per spin
                    channel). Pass fillings × degeneracy instead to get the occupied DOS.
    reference_ev:   energy zero (see :func:`reference_energy`), eV.
    bins:           (n_bins + 1,) increasing bin edges relative to the reference, eV.
    sigma:          Gaussian width, eV (> 0).
    n_atoms:        atoms in the cell / molecule; the DOS is divided by it.
    Returns (n_bins,) states / eV / atom.
    """
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be at least two strictly increasing edges (eV)")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 eV, got {sigma}")
    if n_atoms < 1:
        raise ValueError(f"n_atoms must be >= 1, got {n_atoms}")
    eig = np.asarray(eigenvalues_ev, dtype=float)
    w = np.broadcast_to(np.asarray(weights, dtype=float), eig.shape).ravel()
    x = eig.ravel() - float(reference_ev)
    # Fraction of each Gaussian inside each bin: Φ(edge_hi) − Φ(edge_lo), exactly.
    cdf = 0.5 * (1.0 + erf((edges[None, :] - x[:, None]) / (np.sqrt(2.0) * sigma)))
    counts = w @ np.diff(cdf, axis=1)
    return counts / np.diff(edges) / n_atoms
