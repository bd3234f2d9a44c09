"""Calibration of Gaussian uncertainties for regression (pure functions, DESIGN.md §3).

For each confidence level p in 0.05 … 0.95 the predicted central p-interval of a Gaussian with
standard deviation σ_i is ``|e_i| ≤ z_p σ_i`` with ``z_p = Φ⁻¹((1 + p) / 2)``; the observed
fraction of errors inside it, against p, is the reliability diagram, and
``ECE = mean_p |observed(p) − p|``. A calibrated model lies on the diagonal (ECE 0); an
over-confident one below it. Post-hoc calibration multiplies every σ by one factor c per level,
fitted on held-out data (:func:`fit_std_scale`, the default); :func:`fit_std_affine` can add a
floor f (eV/atom), ``sqrt((c·σ)² + f²)``, for a shared-backbone ensemble whose heads agree on
structures they all get wrong (the usual failure on a new structure family).
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Literal

import numpy as np

__all__ = [
    "CONFIDENCE_LEVELS",
    "FLOOR_MIN_GAIN",
    "calibrated_std",
    "fit_std_affine",
    "fit_std_scale",
    "interval_coverage",
    "regression_ece",
    "reliability_diagram",
]

CONFIDENCE_LEVELS = np.round(np.arange(0.05, 0.951, 0.05), 2)
"""(19,) p = 0.05, 0.10, …, 0.95."""


def _inputs(errors: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e = np.abs(np.asarray(errors, dtype=float)).ravel()
    s = np.asarray(std, dtype=float).ravel()
    if e.shape != s.shape or e.size == 0:
        raise ValueError(f"errors {e.shape} and std {s.shape} must be equal, non-empty")
    if np.any(~np.isfinite(e)) or np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError("errors and std must be finite and std >= 0")
    return e, s


def interval_coverage(errors: np.ndarray, std: np.ndarray, p: float) -> float:
    """Fraction of |errors| inside the central ``p``-interval ``z_p σ`` (σ = 0: only e = 0)."""
    e, s = _inputs(errors, std)
    z = NormalDist().inv_cdf(0.5 + 0.5 * p)
    return float(np.mean(e <= z * s))


def reliability_diagram(
    errors: np.ndarray, std: np.ndarray, levels: np.ndarray = CONFIDENCE_LEVELS
) -> tuple[np.ndarray, np.ndarray]:
    """(expected p, observed fraction) for every confidence level: the diagram's points."""
    e, s = _inputs(errors, std)
    levels = np.asarray(levels, dtype=float)
    z = np.array([NormalDist().inv_cdf(0.5 + 0.5 * p) for p in levels])
    observed = (e[None, :] <= z[:, None] * s[None, :]).mean(axis=1)
    return levels, observed


def regression_ece(
    errors: np.ndarray, std: np.ndarray, levels: np.ndarray = CONFIDENCE_LEVELS
) -> float:
    """ECE = mean over p of |observed(p) − p| (0 is perfect, 0.5 is the worst possible)."""
    expected, observed = reliability_diagram(errors, std, levels)
    return float(np.mean(np.abs(observed - expected)))


def fit_std_scale(
    errors: np.ndarray,
    std: np.ndarray,
    *,
    method: Literal["nll", "ece"] = "ece",
    bounds: tuple[float, float] = (1e-3, 1e3),
) -> float:
    """One factor c so that c·σ is calibrated on these (held-out) errors.

    ``"nll"``: the Gaussian maximum-likelihood factor ``sqrt(mean((e/σ)²))`` (σ = 0 rows
    ignored). ``"ece"``: the factor minimising the ECE itself (searched on a fine log grid,
    starting from the NLL factor); a tie keeps the one closest to the NLL factor.
    """
    e, s = _inputs(errors, std)
    ok = s > 0
    if not ok.any():
        return 1.0
    nll = float(np.sqrt(np.mean((e[ok] / s[ok]) ** 2)))
    nll = float(np.clip(nll if nll > 0 else 1.0, *bounds))
    if method == "nll":
        return nll
    if method != "ece":
        raise ValueError(f"method must be 'nll' or 'ece', got {method!r}")
    grid = np.exp(np.linspace(np.log(bounds[0]), np.log(bounds[1]), 1201))
    grid = np.append(grid, nll)
    eces = np.array([regression_ece(e, c * s) for c in grid])
    best = eces.min()
    candidates = grid[eces <= best + 1e-12]
    return float(candidates[np.argmin(np.abs(np.log(candidates / nll)))])


def calibrated_std(std: np.ndarray, scale: float, floor: float = 0.0) -> np.ndarray:
    """``sqrt((scale·σ)² + floor²)``: the calibrated spread."""
    s = np.asarray(std, dtype=float)
    return np.sqrt((scale * s) ** 2 + floor**2)


FLOOR_MIN_GAIN = 0.01
"""A floor is fitted only if it lowers the held-out ECE by this much (the ECE's sampling noise on
a few hundred structures): two parameters fitted to noise would only look better."""


def fit_std_affine(
    errors: np.ndarray,
    std: np.ndarray,
    *,
    n_floors: int = 40,
    n_scales: int = 1201,
    min_gain: float = FLOOR_MIN_GAIN,
) -> tuple[float, float]:
    """(c, f) minimising the ECE of ``sqrt((c·σ)² + f²)`` on these (held-out) errors.

    Grid search: f = 0 and ``n_floors`` values from 10⁻³ to 1 times the median |error|, and for
    each, c on a log grid of 10⁻³…10³ plus the NLL factor. Of equal ECEs the smallest floor wins
    (f = 0, the one-factor calibration, unless a floor lowers the ECE by ``min_gain``), then the
    c closest to the NLL factor.
    """
    e, s = _inputs(errors, std)
    ok = s > 0
    nll = float(np.sqrt(np.mean((e[ok] / s[ok]) ** 2))) if ok.any() else 1.0
    nll = float(np.clip(nll if nll > 0 else 1.0, 1e-3, 1e3))
    scales = np.append(np.exp(np.linspace(np.log(1e-3), np.log(1e3), n_scales)), nll)
    median = float(np.median(e)) or 1.0
    floors = np.concatenate([[0.0], median * np.geomspace(1e-3, 1.0, n_floors)])
    z = np.array([NormalDist().inv_cdf(0.5 + 0.5 * p) for p in CONFIDENCE_LEVELS])
    candidates = []  # (ECE, floor, |log c/nll|, c): the smallest wins, in that order
    for f in floors:
        sigma = np.sqrt((scales[:, None] * s[None, :]) ** 2 + f**2)  # (scales, n)
        inside = e[None, None, :] <= z[:, None, None] * sigma[None, :, :]
        eces = np.abs(inside.mean(axis=2) - CONFIDENCE_LEVELS[:, None]).mean(axis=0)
        for k in np.flatnonzero(eces <= eces.min() + 1e-12):
            ratio = abs(float(np.log(scales[k] / nll)))
            candidates.append((round(float(eces[k]), 10), float(f), ratio, float(scales[k])))
    best = min(candidates)
    one_factor = min(c for c in candidates if c[1] == 0.0)
    if one_factor[0] - best[0] < min_gain:
        best = one_factor
    return best[3], best[1]
