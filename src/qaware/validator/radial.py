"""Radial basis of the edge lengths: Bessel functions times a smooth polynomial cutoff.

``B_n(r) = sqrt(2 / r_c) · sin(nπ r / r_c) / r`` (n = 1..n_basis) as in DimeNet/NequIP, multiplied
by the envelope ``u(x) = 1 − (p+1)(p+2)/2 x^p + p(p+2) x^{p+1} − p(p+1)/2 x^{p+2}``, x = r / r_c,
and zero beyond r_c. u(1) = u'(1) = u''(1) = 0, so energies and forces stay continuous while a
neighbour crosses the cutoff sphere (the neighbour list drops it exactly where it contributes 0).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["BesselBasis", "PolynomialCutoff", "RadialEmbedding"]


class PolynomialCutoff(nn.Module):
    """Envelope u(r / r_c) of order ``p`` (NequIP uses p = 6); (E,) Å -> (E,)."""

    def __init__(self, cutoff: float, p: int = 6) -> None:
        super().__init__()
        if not cutoff > 0 or p < 2:
            raise ValueError(f"need cutoff > 0 and p >= 2, got {cutoff}, {p}")
        self.cutoff = float(cutoff)
        self.p = int(p)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        p = self.p
        x = r / self.cutoff
        u = (
            1.0
            - 0.5 * (p + 1) * (p + 2) * x.pow(p)
            + p * (p + 2) * x.pow(p + 1)
            - 0.5 * p * (p + 1) * x.pow(p + 2)
        )
        return u * (x < 1.0)


class BesselBasis(nn.Module):
    """``n_basis`` Bessel functions of r (Å): (E,) -> (E, n_basis); frequencies may be learned."""

    def __init__(self, cutoff: float, n_basis: int = 8, *, trainable: bool = False) -> None:
        super().__init__()
        self.cutoff = float(cutoff)
        self.prefactor = math.sqrt(2.0 / cutoff)
        freqs = torch.arange(1, n_basis + 1, dtype=torch.get_default_dtype()) * math.pi / cutoff
        if trainable:
            self.frequencies = nn.Parameter(freqs)
        else:
            self.register_buffer("frequencies", freqs)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        r = r.unsqueeze(-1)
        return self.prefactor * torch.sin(self.frequencies * r) / r


class RadialEmbedding(nn.Module):
    """Bessel basis times envelope: (E,) Å -> (E, n_basis), smooth and zero at r >= r_c."""

    def __init__(self, cutoff: float, n_basis: int = 8, p: int = 6) -> None:
        super().__init__()
        self.basis = BesselBasis(cutoff, n_basis)
        self.envelope = PolynomialCutoff(cutoff, p)

    @property
    def n_basis(self) -> int:
        return int(self.basis.frequencies.shape[0])

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.basis(r) * self.envelope(r).unsqueeze(-1)
