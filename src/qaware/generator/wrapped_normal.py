"""Wrapped normal distribution on the unit torus [0, 1)^d and the σ schedule of its noise.

Fractional coordinates live on a torus, so DiffCSP noises them with a *wrapped* normal: a
normal of width σ whose images under integer shifts are summed,
``p_σ(x) = Σ_k N(x + k; 0, σ²)`` per coordinate (the sum truncated at ``|k| ≤ n_images``).
The diffusion model learns the score ``∇_x log p_σ(x − x₀)`` of the noise that moved a clean
coordinate ``x₀`` to ``x``; the score is periodic and odd, and for σ ≪ 1 it tends to the plain
normal score ``−x/σ²``. All functions act element-wise on tensors of any shape; ``x`` is a
displacement in fractional units (any real value: it is wrapped here) and ``sigma`` broadcasts
against it. Coordinates are independent, so the density of a vector is the product over its
components and its score is the vector of component scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "DEFAULT_N_IMAGES",
    "SigmaSchedule",
    "sample_wrapped_normal",
    "wrapped_normal_log_density",
    "wrapped_normal_score",
    "wrapped_normal_score_norm",
]

DEFAULT_N_IMAGES = 5
"""Images summed on each side: with σ ≤ 0.5 the first omitted term is below exp(−50)."""


def _images(
    x: torch.Tensor, sigma: torch.Tensor, n_images: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x + k) for k = −n..n on a new last axis, and the Gaussian exponents −(x + k)²/(2σ²)."""
    x = x - torch.floor(x + 0.5)  # wrap into [−0.5, 0.5): the density is periodic
    k = torch.arange(-n_images, n_images + 1, dtype=x.dtype, device=x.device)
    shifted = x.unsqueeze(-1) + k
    exponent = -(shifted**2) / (2.0 * sigma.unsqueeze(-1) ** 2)
    return shifted, exponent


def wrapped_normal_log_density(
    x: torch.Tensor, sigma: torch.Tensor | float, *, n_images: int = DEFAULT_N_IMAGES
) -> torch.Tensor:
    """log p_σ(x) per element, normalised on one period (∫₀¹ p_σ = 1); same shape as ``x``."""
    sigma_t = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand_as(x)
    _, exponent = _images(x, sigma_t, n_images)
    return torch.logsumexp(exponent, dim=-1) - torch.log(sigma_t * math.sqrt(2.0 * math.pi))


def wrapped_normal_score(
    x: torch.Tensor, sigma: torch.Tensor | float, *, n_images: int = DEFAULT_N_IMAGES
) -> torch.Tensor:
    """d/dx log p_σ(x) per element (fractional units⁻¹); same shape as ``x``.

    The image weights are a softmax of the exponents, which stays finite for σ down to 1e-4.
    """
    sigma_t = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand_as(x)
    shifted, exponent = _images(x, sigma_t, n_images)
    weights = torch.softmax(exponent, dim=-1)
    return -(weights * shifted).sum(-1) / sigma_t**2


def wrapped_normal_score_norm(
    sigma: torch.Tensor | float, *, n_points: int = 4001, n_images: int = DEFAULT_N_IMAGES
) -> torch.Tensor:
    """E_{x~p_σ}[score(x)²] per coordinate, by quadrature; same shape as ``sigma``.

    DiffCSP divides the score target by its root-mean-square so that the network's output has
    unit scale at every noise level; this is that scale squared. For small σ it equals 1/σ².
    The grid covers ±min(10σ, 0.5), where all the mass of one period lies.
    """
    sigma_t = torch.as_tensor(sigma, dtype=torch.float64)
    flat = sigma_t.reshape(-1, 1)
    half = torch.clamp(10.0 * flat, max=0.5)
    u = torch.linspace(-1.0, 1.0, n_points, dtype=torch.float64)
    x = half * u  # (m, n_points)
    density = torch.exp(wrapped_normal_log_density(x, flat, n_images=n_images))
    score = wrapped_normal_score(x, flat, n_images=n_images)
    integral = torch.trapezoid(density * score**2, x, dim=-1)
    return integral.reshape(sigma_t.shape)


def sample_wrapped_normal(
    shape: tuple[int, ...] | torch.Size,
    sigma: torch.Tensor | float,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Displacements ``σ·ε mod 1`` in [0, 1) with ε standard normal; ``sigma`` broadcasts."""
    eps = torch.randn(shape, generator=generator, dtype=dtype)
    return torch.remainder(torch.as_tensor(sigma, dtype=dtype) * eps, 1.0)


@dataclass(frozen=True)
class SigmaSchedule:
    """Exponential (geometric) noise levels ``σ(t) = σ_min^(1−t) σ_max^t`` for t in [0, 1].

    DiffCSP's values: σ_min = 0.005 (a few mÅ on a 5 Å cell: the clean limit) and σ_max = 0.5
    (half a period: the wrapped normal is then nearly uniform, the sampling prior).
    """

    sigma_min: float = 0.005
    sigma_max: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.sigma_min < self.sigma_max:
            raise ValueError(
                f"SigmaSchedule needs 0 < sigma_min < sigma_max, got {self.sigma_min}, "
                f"{self.sigma_max}"
            )

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        """σ at times ``t`` (any shape, values in [0, 1])."""
        log_min, log_max = math.log(self.sigma_min), math.log(self.sigma_max)
        return torch.exp(log_min + t * (log_max - log_min))
