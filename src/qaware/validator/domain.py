"""Applicability domain: how far a structure's embedding lies from every training structure's.

Why: a head ensemble on one backbone agrees with itself on structures unlike anything it was
trained on (fcc Au scored by the perovskite-trained quick-start model: e_form +15 eV/atom with
σ 0.2), so σ alone cannot say "I have never seen this". The distance to the nearest training
embedding can. Embeddings are standardised per channel on the training set; the distance is
reported in units of ``radius``, the ``quantile`` (0.99) of the training structures' own
nearest-neighbour distances (leave-one-out), so 1 is the edge of the training cloud and a
structure at 3 is three such radii away from anything trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ApplicabilityDomain", "fit_domain"]

_CHUNK = 4096


def _nearest(x: np.ndarray, points: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    """Euclidean distance from each row of ``x`` to its nearest row of ``points`` (chunked)."""
    out = np.empty(len(x))
    p2 = np.einsum("ij,ij->i", points, points)
    for start in range(0, len(x), _CHUNK):
        part = x[start : start + _CHUNK]
        d2 = np.einsum("ij,ij->i", part, part)[:, None] + p2[None, :] - 2.0 * part @ points.T
        if exclude_self:
            rows = np.arange(len(part))
            d2[rows, start + rows] = np.inf
        out[start : start + _CHUNK] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


@dataclass(frozen=True)
class ApplicabilityDomain:
    """Training embeddings (standardised, up to ``max_points`` of them) and the radius that
    makes :meth:`distance` 1 at the edge of their cloud."""

    center: np.ndarray
    scale: np.ndarray
    points: np.ndarray
    radius: float
    quantile: float
    n_train: int

    def distance(self, embedding: np.ndarray) -> np.ndarray:
        """(n,) nearest-training-structure distance in units of ``radius`` (> 1: outside)."""
        x = np.asarray(embedding, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.center.shape[0]:
            raise ValueError(f"embedding of shape {x.shape}: expected (n, {self.center.shape[0]})")
        return _nearest((x - self.center) / self.scale, self.points) / self.radius

    def to_dict(self) -> dict[str, Any]:
        return {
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
            "points": np.round(self.points, 6).tolist(),
            "radius": self.radius,
            "quantile": self.quantile,
            "n_train": self.n_train,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApplicabilityDomain:
        return cls(
            np.asarray(data["center"], dtype=float),
            np.asarray(data["scale"], dtype=float),
            np.asarray(data["points"], dtype=float),
            float(data["radius"]),
            float(data["quantile"]),
            int(data["n_train"]),
        )


def fit_domain(
    embeddings: np.ndarray, *, quantile: float = 0.99, max_points: int = 2000, seed: int = 0
) -> ApplicabilityDomain:
    """The domain of these training embeddings (n ≥ 2). Above ``max_points`` a seeded random
    subset is kept (the checkpoint stays small; distances to a subset are slightly larger)."""
    x = np.asarray(embeddings, dtype=float)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need at least 2 training embeddings, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("training embeddings contain NaN or inf")
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    center = x.mean(axis=0)
    std = x.std(axis=0)
    scale = np.where(std > 1e-8 * max(float(std.max()), 1e-300), std, 1.0)
    z = (x - center) / scale
    if len(z) > max_points:
        z = z[np.sort(np.random.default_rng(seed).choice(len(z), max_points, replace=False))]
    loo = _nearest(z, z, exclude_self=True)
    radius = float(np.quantile(loo, quantile))
    if radius <= 0.0:  # duplicates only: any positive distance is then outside
        radius = 1e-6
    return ApplicabilityDomain(center, scale, z, radius, quantile, len(x))
