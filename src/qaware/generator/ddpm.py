"""Variance-preserving (DDPM) noise schedule in continuous time and its ancestral step.

The lattice coefficients and the species vectors are Euclidean, so they are noised as in DDPM:
``x_t = √ᾱ(t) x₀ + √(1 − ᾱ(t)) ε``. ᾱ follows the cosine schedule of Nichol & Dhariwal (also
DiffCSP's choice), written for t in [0, 1] so that sampling may use any number of steps; ᾱ is
clamped to ``[alpha_bar_min, 1]`` so the prior end stays invertible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["CosineSchedule", "ddpm_step", "predict_x0"]


@dataclass(frozen=True)
class CosineSchedule:
    """ᾱ(t) = cos²(π/2 · (t + s)/(1 + s)) / cos²(π/2 · s/(1 + s)), clamped below."""

    s: float = 0.008
    alpha_bar_min: float = 1e-4

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        """ᾱ at times ``t`` (any shape, values in [0, 1])."""
        f = torch.cos(0.5 * math.pi * (t + self.s) / (1.0 + self.s)) ** 2
        f0 = math.cos(0.5 * math.pi * self.s / (1.0 + self.s)) ** 2
        return torch.clamp(f / f0, min=self.alpha_bar_min, max=1.0)

    def noise(self, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t from x₀ and ε; ``t`` broadcasts against x₀ (give it trailing singleton axes)."""
        a = self.alpha_bar(t)
        return torch.sqrt(a) * x0 + torch.sqrt(1.0 - a) * eps


def predict_x0(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
    """x₀ implied by a noise prediction: (x_t − √(1 − ᾱ) ε) / √ᾱ."""
    return (x_t - torch.sqrt(1.0 - alpha_bar_t) * eps) / torch.sqrt(alpha_bar_t)


def ddpm_step(
    x_t: torch.Tensor,
    x0: torch.Tensor,
    alpha_bar_t: torch.Tensor,
    alpha_bar_s: torch.Tensor,
    noise: torch.Tensor,
) -> torch.Tensor:
    """One ancestral step from time t to an earlier time s: a draw of q(x_s | x_t, x₀).

    ``x0`` is the network's estimate of the clean value (from ε with :func:`predict_x0`, or
    a softmax of logits for species); ``noise`` is standard normal, shaped like ``x_t``. With
    ᾱ_s = 1 (s = 0) the step returns x₀ exactly.
    """
    alpha_ts = alpha_bar_t / alpha_bar_s
    beta_ts = 1.0 - alpha_ts
    denom = 1.0 - alpha_bar_t
    mean = (torch.sqrt(alpha_bar_s) * beta_ts / denom) * x0 + (
        torch.sqrt(alpha_ts) * (1.0 - alpha_bar_s) / denom
    ) * x_t
    var = torch.clamp(beta_ts * (1.0 - alpha_bar_s) / denom, min=0.0)
    return mean + torch.sqrt(var) * noise
