"""Campaign metrics (DESIGN.md §3 "Campaign metrics"), pure functions of arrays.

Calls are counted at the top level; a failed call counts as a spent call, never as a hit.
Where the truth of every pool member is known (replay benchmarks), precision, recall, F1 and the
discovery acceleration factor (DAF = precision / prevalence, as Matbench Discovery defines it)
compare the selected set with the true positives of the whole pool. The two validator checks
on the evaluated candidates are the R² of the predicted divergence against the true low-level
error and the regression ECE of the predicted top-level σ (DESIGN.md §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Classification",
    "classification",
    "cumulative_discoveries",
    "discoveries_per_call",
    "divergence_r2",
    "hit_rate_per_cycle",
    "top_level_ece",
]


def discoveries_per_call(n_discoveries: int, n_calls: int) -> float:
    """Discoveries per top-level call (0 when nothing was called)."""
    if n_calls < 0 or n_discoveries < 0:
        raise ValueError("discoveries_per_call: counts must be >= 0")
    return n_discoveries / n_calls if n_calls else 0.0


def cumulative_discoveries(is_discovery: Sequence[bool] | np.ndarray) -> np.ndarray:
    """(n_calls,) discoveries after each call, calls in the order they were made."""
    return np.cumsum(np.asarray(is_discovery, dtype=int))


def hit_rate_per_cycle(
    hits: Sequence[int] | np.ndarray, calls: Sequence[int] | np.ndarray
) -> np.ndarray:
    """(n_cycles,) hits / top-level calls per cycle; NaN for a cycle that made no call."""
    h, c = np.asarray(hits, dtype=float), np.asarray(calls, dtype=float)
    if h.shape != c.shape:
        raise ValueError(f"hit_rate_per_cycle: {h.shape} hits vs {c.shape} calls")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, h / np.where(c > 0, c, 1.0), np.nan)


@dataclass(frozen=True)
class Classification:
    """Selected set vs the pool's true positives (replay benchmarks)."""

    n_selected: int
    n_true_positive: int
    n_positive: int
    n_pool: int
    precision: float
    recall: float
    f1: float
    prevalence: float
    daf: float


def classification(
    selected: Sequence[bool] | np.ndarray, positive: Sequence[bool] | np.ndarray
) -> Classification:
    """Precision, recall, F1, prevalence and DAF of boolean masks over the same pool."""
    sel, pos = np.asarray(selected, dtype=bool), np.asarray(positive, dtype=bool)
    if sel.shape != pos.shape:
        raise ValueError(f"classification: masks of shapes {sel.shape} and {pos.shape}")
    tp, n_sel, n_pos, n = int((sel & pos).sum()), int(sel.sum()), int(pos.sum()), sel.size
    precision = tp / n_sel if n_sel else 0.0
    recall = tp / n_pos if n_pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    prevalence = n_pos / n if n else 0.0
    daf = precision / prevalence if prevalence else 0.0
    return Classification(n_sel, tp, n_pos, n, precision, recall, f1, prevalence, daf)


def divergence_r2(predicted: np.ndarray, true_error: np.ndarray) -> float:
    """R² of the predicted divergence against the true low-level error: the squared Pearson
    correlation (as DESIGN.md §5 quotes r and R² = r²). NaN with fewer than 3 finite pairs or
    a constant input."""
    p, t = np.asarray(predicted, dtype=float), np.asarray(true_error, dtype=float)
    ok = np.isfinite(p) & np.isfinite(t)
    if ok.sum() < 3 or np.std(p[ok]) == 0 or np.std(t[ok]) == 0:
        return float("nan")
    r = np.corrcoef(p[ok], t[ok])[0, 1]
    return float(r * r)


def top_level_ece(
    predicted: np.ndarray, observed: np.ndarray, sigma: np.ndarray, *, min_count: int = 3
) -> float:
    """Regression ECE (DESIGN.md §3) of the predicted top-level values against the top-level
    results of the evaluated candidates, with the predicted σ as the Gaussian spread: 0 is
    calibrated, 0.5 the worst. Rows with a non-finite value or a negative σ are left out; NaN
    with fewer than ``min_count`` rows left (an ECE of two errors says nothing)."""
    from qaware.validator.calibration import regression_ece

    p, o, s = (np.asarray(x, dtype=float) for x in (predicted, observed, sigma))
    if not p.shape == o.shape == s.shape:
        raise ValueError(f"top_level_ece: shapes {p.shape}, {o.shape} and {s.shape} differ")
    ok = np.isfinite(p) & np.isfinite(o) & np.isfinite(s) & (s >= 0)
    if ok.sum() < max(min_count, 1):
        return float("nan")
    return regression_ece(p[ok] - o[ok], s[ok])
