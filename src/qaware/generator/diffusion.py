"""The joint diffusion model: denoiser + schedules + normalisers, and its training loss.

State of a structure with template batch ``batch`` (see :mod:`qaware.generator.batch`):

- anchors ``xyz`` (B, O, 3): wrapped normal noise of width σ(t) on the free coordinates only
  (VE, DiffCSP); target = the wrapped-normal score of the noise over its RMS (unit scale);
- lattice ``z`` (B, 6): standardised log-symmetric coefficients, DDPM (cosine ᾱ(t)) on the
  family's free coefficients; target = the noise ε;
- species (B, O, V): one-hot per orbit, DDPM with the same ᾱ at time ``t_types``; the network
  predicts the clean species (cross-entropy on the orbit-averaged logits). For a share
  ``csp_fraction`` of training structures the species are given clean (t_types = 0): one
  network serves crystal structure prediction and de novo generation.

Descriptor conditions (B, cond_dim) are standardised and dropped with probability
``cond_dropout`` (classifier-free guidance, DESIGN.md §3); rows with NaN are always dropped.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as nnf

from qaware.generator.batch import (
    TemplateBatch,
    expand,
    lattice_from_coefficients,
    orbit_broadcast,
    orbit_mean,
    pull_back,
)
from qaware.generator.ddpm import CosineSchedule
from qaware.generator.denoiser import CSPDenoiser, DenoiserConfig
from qaware.generator.lattice import LatticeNormalizer
from qaware.generator.wrapped_normal import (
    SigmaSchedule,
    wrapped_normal_score,
    wrapped_normal_score_norm,
)

_NORM_GRID = 128


@lru_cache(maxsize=8)
def _log_scale_table(sigma_min: float, sigma_max: float) -> torch.Tensor:
    """log √E[score²] on ``_NORM_GRID`` noise levels log-spaced over [σ_min, σ_max]."""
    grid = torch.linspace(math.log(sigma_min), math.log(sigma_max), _NORM_GRID).double()
    return 0.5 * torch.log(wrapped_normal_score_norm(torch.exp(grid), n_points=2001))


__all__ = ["CrystalDiffusion", "DiffusionConfig", "LossParts", "OrbitPrediction"]


@dataclass(frozen=True)
class DiffusionConfig:
    """Model hyper-parameters (saved with the weights)."""

    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    sigma_min: float = 0.005
    sigma_max: float = 0.5
    t_min: float = 1e-3
    csp_fraction: float = 0.5
    cond_dropout: float = 0.15
    weight_coords: float = 1.0
    weight_lattice: float = 1.0
    weight_species: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiffusionConfig:
        return cls(**{**data, "denoiser": DenoiserConfig(**data["denoiser"])})


class OrbitPrediction(NamedTuple):
    """score: (B, O, 3) normalised anchor score; lattice_eps: (B, 6); logits: (B, O, V)."""

    score: torch.Tensor
    lattice_eps: torch.Tensor
    logits: torch.Tensor


class LossParts(NamedTuple):
    total: torch.Tensor
    coords: torch.Tensor
    lattice: torch.Tensor
    species: torch.Tensor


class CrystalDiffusion(nn.Module):
    """Denoiser plus everything needed to noise, denoise and decode a template batch."""

    def __init__(
        self,
        config: DiffusionConfig | None = None,
        *,
        lattice_norm: LatticeNormalizer | None = None,
        cond_mean: torch.Tensor | None = None,
        cond_std: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = cfg = config or DiffusionConfig()
        self.denoiser = CSPDenoiser(cfg.denoiser)
        self.sigmas = SigmaSchedule(cfg.sigma_min, cfg.sigma_max)
        self.alphas = CosineSchedule()
        self.lattice_norm = lattice_norm or LatticeNormalizer()
        d = cfg.denoiser.cond_dim
        self.register_buffer(
            "cond_mean", torch.zeros(d) if cond_mean is None else cond_mean.float()
        )
        self.register_buffer("cond_std", torch.ones(d) if cond_std is None else cond_std.float())
        table = _log_scale_table(cfg.sigma_min, cfg.sigma_max)
        self.register_buffer("_log_norm", table.clone(), persistent=False)
        self._log_norm: torch.Tensor
        self.cond_mean: torch.Tensor
        self.cond_std: torch.Tensor

    @property
    def dtype(self) -> torch.dtype:
        return self.denoiser.coord_out.weight.dtype

    @property
    def device(self) -> torch.device:
        """Where the weights are; :meth:`loss` and the sampler move their inputs there."""
        return self.denoiser.coord_out.weight.device

    def _draw(self, tensor: torch.Tensor) -> torch.Tensor:
        """Random numbers are drawn on the CPU (seeded ``torch.Generator``s are per device)
        and moved to the model: the same seed gives the same draws on every device."""
        return tensor.to(self.device)

    def score_scale(self, sigma: torch.Tensor) -> torch.Tensor:
        """√E[score²] at σ (interpolated in log σ from a table made at construction): the
        factor between the network output and the true score."""
        cfg = self.config
        lo, hi = math.log(cfg.sigma_min), math.log(cfg.sigma_max)
        pos = ((torch.log(sigma.double()) - lo) / (hi - lo) * (_NORM_GRID - 1)).clamp(
            0, _NORM_GRID - 1
        )
        i = pos.floor().long().clamp(max=_NORM_GRID - 2)
        w = pos - i
        log_scale = (1 - w) * self._log_norm[i] + w * self._log_norm[i + 1]
        return torch.exp(log_scale).to(self.dtype)

    def decode_lattice(self, batch: TemplateBatch, z: torch.Tensor) -> torch.Tensor:
        """(B, 6) standardised coefficients -> (B, 3, 3) primitive lattice rows (Å)."""
        return lattice_from_coefficients(batch, self.lattice_norm.decode(z))

    def forward(
        self,
        batch: TemplateBatch,
        xyz: torch.Tensor,
        z: torch.Tensor,
        species: torch.Tensor,
        t: torch.Tensor,
        t_types: torch.Tensor,
        cond: torch.Tensor | None = None,
        cond_keep: torch.Tensor | None = None,
    ) -> OrbitPrediction:
        """Denoise a state: anchors (B, O, 3), lattice z (B, 6), species vectors (B, O, V)."""
        frac = expand(batch, xyz)
        lattice = self.decode_lattice(batch, z)
        types = orbit_broadcast(batch, species)
        if cond is not None:
            cond = (cond.to(self.dtype) - self.cond_mean) / self.cond_std
        out = self.denoiser(types, frac, lattice, batch.atom_mask, t, t_types, cond, cond_keep)
        return OrbitPrediction(
            pull_back(batch, out.atom_score),
            out.lattice_eps * batch.lattice_mask.to(out.lattice_eps),
            orbit_mean(batch, out.atom_logits),
        )

    def loss(
        self,
        batch: TemplateBatch,
        xyz0: torch.Tensor,
        k0: torch.Tensor,
        cond: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> LossParts:
        """Denoising loss of clean anchors ``xyz0`` (B, O, 3) and coefficients ``k0`` (B, 6),
        on the model's device (inputs are moved there; ``generator`` is a CPU generator)."""
        cfg, dtype, draw = self.config, self.dtype, self._draw
        batch, xyz0, k0 = batch.to(self.device), xyz0.to(self.device), k0.to(self.device)
        cond = None if cond is None else cond.to(self.device)
        B = len(batch)
        t = cfg.t_min + (1 - cfg.t_min) * draw(torch.rand(B, generator=generator, dtype=dtype))
        free = batch.orbit_free.to(dtype) * batch.orbit_mask.unsqueeze(-1).to(dtype)
        sigma = self.sigmas(t).to(dtype)[:, None, None]
        noise = sigma * draw(torch.randn(xyz0.shape, generator=generator, dtype=dtype)) * free
        xyz = torch.remainder(xyz0.to(dtype) + noise, 1.0)
        target = wrapped_normal_score(noise, sigma) / self.score_scale(sigma) * free

        lmask = batch.lattice_mask.to(dtype)
        alpha = self.alphas.alpha_bar(t).to(dtype)[:, None]
        eps = draw(torch.randn(B, 6, generator=generator, dtype=dtype)) * lmask
        z0 = self.lattice_norm.encode(k0.to(dtype)) * lmask
        z = torch.sqrt(alpha) * z0 + torch.sqrt(1 - alpha) * eps

        n_species = cfg.denoiser.n_species
        onehot = nnf.one_hot((batch.species - 1).clamp(min=0), n_species).to(dtype)
        generate = draw(torch.rand(B, generator=generator)) >= cfg.csp_fraction
        t_types = torch.where(generate, t, torch.zeros_like(t))
        a_types = self.alphas.alpha_bar(t_types).to(dtype)[:, None, None]
        type_noise = draw(torch.randn(onehot.shape, generator=generator, dtype=dtype))
        types = torch.sqrt(a_types) * onehot + torch.sqrt(1 - a_types) * type_noise

        keep = None
        if cond is not None:
            keep = draw(torch.rand(B, generator=generator)) >= cfg.cond_dropout
            keep &= ~torch.isnan(cond).any(-1)
            cond = torch.nan_to_num(cond)
        pred = self(batch, xyz, z, types, t, t_types, cond, keep)

        coords = ((pred.score - target) ** 2 * free).sum() / free.sum().clamp(min=1)
        lattice = ((pred.lattice_eps - eps) ** 2).sum() / lmask.sum().clamp(min=1)
        orbit_gen = batch.orbit_mask & generate.unsqueeze(-1)
        if orbit_gen.any():
            ce = nnf.cross_entropy(
                pred.logits[orbit_gen], (batch.species[orbit_gen] - 1).clamp(min=0)
            )
        else:
            ce = pred.logits.sum() * 0.0
        total = cfg.weight_coords * coords + cfg.weight_lattice * lattice + cfg.weight_species * ce
        return LossParts(total, coords.detach(), lattice.detach(), ce.detach())
