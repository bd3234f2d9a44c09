"""Lattice ↔ 6 coefficients of the log of its symmetric (rotation-free) form (DiffCSP++).

A lattice ``L`` (rows are lattice vectors, Å, as in ASE) is known up to a rotation by its metric
``G = L Lᵀ``. Its rotation-free form is the symmetric positive matrix ``S = G^½`` (polar
decomposition ``L = S Q``, Q orthogonal), and ``log S`` is any symmetric matrix, written here
on six fixed symmetric basis matrices B₁…B₆:

====  ==========================  ======================================================
k     B                           what it changes
====  ==========================  ======================================================
k₁    sym(e₁e₂ᵀ)                  a·b (γ)
k₂    sym(e₁e₃ᵀ)                  a·c (β)
k₃    sym(e₂e₃ᵀ)                  b·c (α)
k₄    diag(1, −1, 0)              a versus b
k₅    diag(1, 1, −2)              a, b versus c
k₆    diag(1, 1, 1)               overall scale: k₆ = ln(V)/3
====  ==========================  ======================================================

Each crystal family (conventional setting, unique axis b for monoclinic, hexagonal axes for
trigonal) fixes some coefficients: cubic keeps k₆; tetragonal k₅, k₆; hexagonal and trigonal
k₅, k₆ with k₁ pinned to −ln(3)/4 (γ = 120°, for any a and c); orthorhombic k₄–k₆; monoclinic
k₂, k₄–k₆; triclinic all six. ``expm(Σ kᵢBᵢ)`` with the masked and biased coefficients is then a
lattice of that family whatever the free values are: a hard constraint the diffusion keeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = [
    "FAMILIES",
    "HEXAGONAL_K1",
    "LATTICE_BASIS",
    "CrystalFamily",
    "LatticeNormalizer",
    "coefficients_to_lattice",
    "crystal_family",
    "family_bias",
    "family_mask",
    "lattice_to_coefficients",
    "project_coefficients",
]

CrystalFamily = Literal[
    "triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"
]
FAMILIES: tuple[CrystalFamily, ...] = (
    "triclinic",
    "monoclinic",
    "orthorhombic",
    "tetragonal",
    "trigonal",
    "hexagonal",
    "cubic",
)

HEXAGONAL_K1 = -math.log(3.0) / 4.0
"""k₁ of any lattice with a = b, γ = 120°, α = β = 90° (the ratio of the ab-block eigenvalues)."""


def _basis() -> torch.Tensor:
    basis = torch.zeros(6, 3, 3, dtype=torch.float64)
    for n, (i, j) in enumerate([(0, 1), (0, 2), (1, 2)]):
        basis[n, i, j] = basis[n, j, i] = 1.0
    basis[3] = torch.diag(torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64))
    basis[4] = torch.diag(torch.tensor([1.0, 1.0, -2.0], dtype=torch.float64))
    basis[5] = torch.eye(3, dtype=torch.float64)
    return basis


LATTICE_BASIS = _basis()
"""(6, 3, 3) the symmetric basis B₁…B₆, mutually orthogonal under the Frobenius product."""
_BASIS_NORM2 = (LATTICE_BASIS**2).sum(dim=(1, 2))

_FREE: dict[str, tuple[int, ...]] = {
    "triclinic": (0, 1, 2, 3, 4, 5),
    "monoclinic": (1, 3, 4, 5),
    "orthorhombic": (3, 4, 5),
    "tetragonal": (4, 5),
    "trigonal": (4, 5),
    "hexagonal": (4, 5),
    "cubic": (5,),
}


def crystal_family(space_group: int) -> CrystalFamily:
    """The crystal family of an international space-group number (1–230)."""
    if not 1 <= space_group <= 230:
        raise ValueError(f"space group number must be 1..230, got {space_group}")
    for last, family in zip((2, 15, 74, 142, 167, 194, 230), FAMILIES, strict=True):
        if space_group <= last:
            return family
    raise AssertionError("unreachable")


def family_mask(family: str) -> torch.Tensor:
    """(6,) bool: which coefficients the family leaves free."""
    if family not in _FREE:
        raise ValueError(f"unknown crystal family {family!r}; choose one of {FAMILIES}")
    mask = torch.zeros(6, dtype=torch.bool)
    mask[list(_FREE[family])] = True
    return mask


def family_bias(family: str) -> torch.Tensor:
    """(6,) float64: the fixed values of the coefficients the family does not leave free."""
    bias = torch.zeros(6, dtype=torch.float64)
    if family in ("hexagonal", "trigonal"):
        bias[0] = HEXAGONAL_K1
    family_mask(family)  # validates the name
    return bias


def project_coefficients(k: torch.Tensor, family: str) -> torch.Tensor:
    """Coefficients (..., 6) with the family's fixed ones set to their bias."""
    mask = family_mask(family).to(k.device)
    return torch.where(mask, k, family_bias(family).to(k))


def lattice_to_coefficients(lattice: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) lattices (rows = vectors, Å) -> (..., 6) coefficients of log S, S = (L Lᵀ)^½.

    Invariant to rotating the lattice (L -> L Rᵀ); ``ln Å`` units (k₆ = ln V / 3).
    """
    lattice = lattice.to(torch.float64)
    metric = lattice @ lattice.transpose(-1, -2)
    eigval, eigvec = torch.linalg.eigh(metric)
    log_s = eigvec @ torch.diag_embed(0.5 * torch.log(eigval)) @ eigvec.transpose(-1, -2)
    return torch.einsum("...ij,nij->...n", log_s, LATTICE_BASIS.to(log_s)) / _BASIS_NORM2.to(log_s)


def coefficients_to_lattice(k: torch.Tensor) -> torch.Tensor:
    """(..., 6) coefficients -> (..., 3, 3) symmetric lattice S = expm(Σ kᵢBᵢ) (rows, Å)."""
    log_s = torch.einsum("...n,nij->...ij", k, LATTICE_BASIS.to(k))
    return torch.linalg.matrix_exp(log_s)


@dataclass(frozen=True)
class LatticeNormalizer:
    """Per-coefficient standardisation ``z = (k − mean) / std`` of the free coefficients.

    The lattice DDPM runs on ``z`` so that its N(0, 1) prior has the training set's spread.
    Fit from training coefficients (n, 6) and the (n, 6) masks of their families; a coefficient
    free in no training structure keeps mean 0, std 1. ``std`` is floored at ``min_std``.
    """

    mean: tuple[float, ...] = (0.0,) * 6
    std: tuple[float, ...] = (1.0,) * 6

    @classmethod
    def fit(
        cls, k: torch.Tensor, mask: torch.Tensor, *, min_std: float = 0.05
    ) -> LatticeNormalizer:
        mean, std = [], []
        for n in range(6):
            values = k[mask[:, n], n].to(torch.float64)
            if values.numel() == 0:
                mean.append(0.0)
                std.append(1.0)
                continue
            mean.append(float(values.mean()))
            spread = float(values.std()) if values.numel() > 1 else 0.0
            std.append(max(spread, min_std))
        return cls(tuple(mean), tuple(std))

    def encode(self, k: torch.Tensor) -> torch.Tensor:
        """(..., 6) coefficients -> standardised values."""
        return (k - torch.tensor(self.mean, dtype=torch.float64).to(k)) / torch.tensor(
            self.std, dtype=torch.float64
        ).to(k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(..., 6) standardised values -> coefficients."""
        return z * torch.tensor(self.std, dtype=torch.float64).to(z) + torch.tensor(
            self.mean, dtype=torch.float64
        ).to(z)
