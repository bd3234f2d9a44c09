"""Electron localisation function (ELF) and its density-weighted histogram (DESIGN.md §4).

ELF (Becke & Edgecombe, JCP 92, 5397 (1990)), spin-resolved form of Kohout & Savin, IJQC 60,
875 (1996), eq. 9, in atomic units (density bohr^-3, τ hartree bohr^-3):

    D   = τ − Σ_σ |∇ρ_σ|² / (8 ρ_σ)           (τ = ½ Σ_i |∇φ_i|², summed over spins)
    D_h = 2^(2/3) c_F Σ_σ ρ_σ^(5/3),  c_F = (3/10)(3π²)^(2/3)
    ELF = 1 / (1 + (D / D_h)²)

For a closed shell (ρ_α = ρ_β = ρ/2) this is the textbook D = τ − |∇ρ|²/(8ρ),
D_h = c_F ρ^(5/3). ELF is 1 for a localised pair (or one electron), ½ for the uniform electron gas.
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = ["C_F", "DEFAULT_ELF_BINS", "elf_from_spin_densities", "elf_histogram"]

C_F: Final[float] = 0.3 * (3.0 * np.pi**2) ** (2.0 / 3.0)
"""Thomas–Fermi kinetic-energy constant (hartree bohr^2), D_h = c_F ρ^(5/3) per closed shell."""
DEFAULT_ELF_BINS: Final[int] = 20
"""Equal-width ELF bins on [0, 1]."""
_RHO_FLOOR: Final[float] = 1e-12  # bohr^-3: below this a spin density counts as empty


def elf_from_spin_densities(rho_s: np.ndarray, grad2_s: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """ELF on grid points from spin densities, atomic units.

    rho_s:   (n_spin, n_points) spin densities ρ_σ, bohr^-3 (n_spin 1 means closed shell:
             pass the *total* density, it is split evenly).
    grad2_s: (n_spin, n_points) |∇ρ_σ|², bohr^-8.
    tau:     (n_points,) total positive-definite kinetic energy density ½ Σ|∇φ|², Ha bohr^-3.
    Returns (n_points,) ELF in [0, 1]; points with no density get 0.
    """
    rho = np.asarray(rho_s, dtype=float)
    g2 = np.asarray(grad2_s, dtype=float)
    if rho.ndim == 1:
        rho, g2 = rho[None], g2[None]
    if rho.shape[0] == 1:  # closed shell: ρ_σ = ρ/2, |∇ρ_σ|² = |∇ρ|²/4
        rho = np.concatenate([rho, rho]) / 2.0
        g2 = np.concatenate([g2, g2]) / 4.0
    if rho.shape != g2.shape or rho.shape[0] != 2:
        raise ValueError(f"rho_s {rho.shape} / grad2_s {g2.shape}: need (1 or 2, n_points)")
    safe = np.maximum(rho, _RHO_FLOOR)
    weizsacker = np.where(rho > _RHO_FLOOR, g2 / (8.0 * safe), 0.0).sum(axis=0)
    d = np.maximum(np.asarray(tau, dtype=float) - weizsacker, 0.0)  # D ≥ 0 analytically
    d_h = 2.0 ** (2.0 / 3.0) * C_F * (safe ** (5.0 / 3.0)).sum(axis=0)
    out = 1.0 / (1.0 + (d / d_h) ** 2)
    out[rho.sum(axis=0) <= 2 * _RHO_FLOOR] = 0.0
    return out


def elf_histogram(
    elf_grid: np.ndarray,
    density_grid: np.ndarray,
    *,
    bins: int = DEFAULT_ELF_BINS,
    grid_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Density-weighted histogram of ELF values on ``bins`` equal bins of [0, 1], summing to 1.

    Bin b holds ∫ρ(r) [ELF(r) ∈ bin b] dr / ∫ρ(r) dr: the share of the *electrons* sitting where
    the ELF has that value, so vacuum and low-density regions (where ELF is noisy) count little.

    elf_grid:     ELF values, any shape (a uniform 3-D grid or a list of quadrature points).
    density_grid: electron density on the same points (any positive unit; it cancels).
    grid_weights: quadrature weights (volume elements) of non-uniform grids (e.g. PySCF's DFT
                  grid); None means a uniform grid (all points equal).
    Returns (bins,) non-negative floats summing to 1.
    """
    elf = np.asarray(elf_grid, dtype=float).ravel()
    rho = np.asarray(density_grid, dtype=float).ravel()
    if elf.shape != rho.shape:
        raise ValueError(f"elf_grid ({elf.size} points) and density_grid ({rho.size}) differ")
    w = np.clip(rho, 0.0, None)
    if grid_weights is not None:
        gw = np.asarray(grid_weights, dtype=float).ravel()
        if gw.shape != w.shape:
            raise ValueError(f"grid_weights ({gw.size} points) and density ({w.size}) differ")
        w = w * np.clip(gw, 0.0, None)
    total = w.sum()
    if not total > 0 or not np.isfinite(total):
        raise ValueError("elf_histogram: the density integrates to zero or non-finite")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    hist, _ = np.histogram(np.clip(elf, 0.0, 1.0), bins=bins, range=(0.0, 1.0), weights=w)
    return hist / total
