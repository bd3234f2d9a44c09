"""CSPNet-style invariant denoiser over the full per-cell graph (pure PyTorch, dense padding).

Every pair of atoms in a primitive cell is an edge (as DiffCSP's "fully connected" mode). An edge
sees only invariants: Fourier features of the wrapped fractional difference ``f_j − f_i``, a
radial basis of the minimum-image distance, and the lattice through its inner products
``L Lᵀ`` (log lengths and angle cosines). Nodes carry the species vector, the time and the
optional descriptor condition. So the outputs do not change under a rotation of the cell, a
periodic translation of the fractional coordinates, or a permutation of the atoms (which
permutes the per-atom outputs), and padding never leaks between structures.

Outputs per structure: a fractional-coordinate score per atom (normalised as DiffCSP: unit
root-mean-square), the noise of the 6 lattice coefficients, species logits per atom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

__all__ = ["CSPDenoiser", "DenoiserConfig", "DenoiserOutput", "lattice_invariants"]

N_SPECIES = 100
"""Species vocabulary: atomic numbers 1..100 at indices 0..99."""


@dataclass(frozen=True)
class DenoiserConfig:
    """Sizes of the denoiser. DiffCSP uses 512 hidden / 6 layers on a GPU; these CPU defaults
    are smaller. ``cond_dim`` 0 means no descriptor conditioning."""

    hidden: int = 128
    layers: int = 4
    n_frequencies: int = 10
    n_rbf: int = 16
    rbf_cutoff: float = 8.0
    time_dim: int = 64
    cond_dim: int = 0
    n_species: int = N_SPECIES


class DenoiserOutput(NamedTuple):
    """atom_score: (B, N, 3) normalised score; lattice_eps: (B, 6); atom_logits: (B, N, V)."""

    atom_score: torch.Tensor
    lattice_eps: torch.Tensor
    atom_logits: torch.Tensor


def lattice_invariants(lattice: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) lattice rows (Å) -> (B, 6) [ln a, ln b, ln c, cos α, cos β, cos γ] from L Lᵀ."""
    metric = lattice @ lattice.transpose(-1, -2)
    lengths = torch.sqrt(torch.diagonal(metric, dim1=-2, dim2=-1))
    pairs = ((1, 2), (0, 2), (0, 1))
    cosines = [metric[:, i, j] / (lengths[:, i] * lengths[:, j]) for i, j in pairs]
    return torch.cat([torch.log(lengths), torch.stack(cosines, -1)], dim=-1)


def _time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half).to(t) / half)
    angles = 1000.0 * t.unsqueeze(-1) * freqs
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def _images(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    r = torch.tensor([-1.0, 0.0, 1.0], dtype=dtype, device=device)
    return torch.cartesian_prod(r, r, r)  # (27, 3)


class _Layer(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.src = nn.Linear(hidden, hidden)
        self.dst = nn.Linear(hidden, hidden, bias=False)
        self.lattice = nn.Linear(6, hidden, bias=False)
        self.message = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.update = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )

    def forward(
        self, h: torch.Tensor, edges: torch.Tensor, lat: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        x = self.norm(h)
        pre = (
            self.src(x).unsqueeze(2)
            + self.dst(x).unsqueeze(1)
            + edges
            + self.lattice(lat)[:, None, None, :]
        )
        messages = self.message(pre) * mask[:, None, :, None]  # (B, N_i, N_j, H), j masked
        agg = messages.sum(2) / mask.sum(1).clamp(min=1)[:, None, None]
        return h + self.update(torch.cat([x, agg], dim=-1))


class CSPDenoiser(nn.Module):
    """The network: see the module docstring. Float32 by default; ``.double()`` works."""

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or DenoiserConfig()
        edge_dim = 6 * cfg.n_frequencies + cfg.n_rbf
        self.type_in = nn.Linear(cfg.n_species, cfg.hidden)
        self.time_in = nn.Sequential(
            nn.Linear(2 * cfg.time_dim, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, cfg.hidden)
        )
        if cfg.cond_dim > 0:
            self.cond_in = nn.Sequential(
                nn.Linear(cfg.cond_dim, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, cfg.hidden)
            )
            self.cond_null = nn.Parameter(torch.zeros(cfg.hidden))
        self.edge_in = nn.Sequential(nn.Linear(edge_dim, cfg.hidden), nn.SiLU())
        self.layers = nn.ModuleList(_Layer(cfg.hidden) for _ in range(cfg.layers))
        self.norm_out = nn.LayerNorm(cfg.hidden)
        self.coord_out = nn.Linear(cfg.hidden, 3)
        self.lattice_out = nn.Sequential(
            nn.Linear(cfg.hidden, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, 6)
        )
        self.species_out = nn.Linear(cfg.hidden, cfg.n_species)

    def edge_features(self, frac: torch.Tensor, lattice: torch.Tensor) -> torch.Tensor:
        """(B, N, N, 6K + n_rbf): Fourier features of wrapped f_j − f_i and RBF of the
        minimum-image distance (over the 27 neighbouring cells)."""
        cfg = self.config
        d = frac.unsqueeze(1) - frac.unsqueeze(2)  # [b, i, j] = f_j - f_i
        d = d - torch.floor(d + 0.5)
        k = 2.0 * math.pi * torch.arange(1, cfg.n_frequencies + 1).to(frac)
        angles = (d.unsqueeze(-1) * k).flatten(-2)
        parts = [torch.sin(angles), torch.cos(angles)]
        if cfg.n_rbf > 0:
            shifted = d.unsqueeze(-2) + _images(frac.dtype, frac.device)  # (B, N, N, 27, 3)
            cart = torch.einsum("bijkc,bcx->bijkx", shifted, lattice)
            dist = torch.linalg.vector_norm(cart, dim=-1).amin(-1)
            centres = torch.linspace(0.0, cfg.rbf_cutoff, cfg.n_rbf).to(frac)
            width = cfg.rbf_cutoff / cfg.n_rbf
            parts.append(torch.exp(-(((dist.unsqueeze(-1) - centres) / width) ** 2)))
        return torch.cat(parts, dim=-1)

    def forward(
        self,
        types: torch.Tensor,
        frac: torch.Tensor,
        lattice: torch.Tensor,
        atom_mask: torch.Tensor,
        t: torch.Tensor,
        t_types: torch.Tensor,
        cond: torch.Tensor | None = None,
        cond_keep: torch.Tensor | None = None,
    ) -> DenoiserOutput:
        """types (B, N, V) species vectors (one-hot or noisy); frac (B, N, 3); lattice (B, 3, 3)
        primitive rows, Å; atom_mask (B, N) bool; t, t_types (B,) in [0, 1] (t_types 0: the
        species are clean); cond (B, cond_dim) descriptors; cond_keep (B,) bool, False uses the
        learned null condition (classifier-free guidance). Missing cond means all null."""
        cfg = self.config
        mask = atom_mask.to(frac)
        times = torch.cat(
            [_time_embedding(t, cfg.time_dim), _time_embedding(t_types, cfg.time_dim)], -1
        )
        h = self.type_in(types) + self.time_in(times).unsqueeze(1)
        if cfg.cond_dim > 0:
            null = self.cond_null.expand(frac.shape[0], -1)
            if cond is None:
                c = null
            else:
                keep = (
                    torch.ones(frac.shape[0], dtype=torch.bool, device=frac.device)
                    if cond_keep is None
                    else cond_keep
                )
                c = torch.where(keep.unsqueeze(-1), self.cond_in(cond.to(frac)), null)
            h = h + c.unsqueeze(1)
        edges = self.edge_in(self.edge_features(frac, lattice))  # shared by all layers
        lat = lattice_invariants(lattice)
        for layer in self.layers:
            h = layer(h, edges, lat, mask)
        h = self.norm_out(h) * mask.unsqueeze(-1)
        pooled = h.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return DenoiserOutput(
            self.coord_out(h) * mask.unsqueeze(-1),
            self.lattice_out(pooled),
            self.species_out(h) * mask.unsqueeze(-1),
        )
