"""Shrinking Δ-learning corrections toward the composition-linear offsets, level by level.

With ``residual_levels`` level f is the level below, plus the per-element offsets μ_f − μ_{f−1}
(fitted by least squares before training), plus a learned correction. Learned from a few dozen
top-level labels, that correction can cost accuracy: on Track M the offsets alone predict D
better (``validator_track_m.json``, ``lsq_D``). :func:`shrink_corrections` therefore scales each
upper level's learned correction by one factor α_f ∈ [0, 1], fitted by least squares of the
per-atom energies on held-out structures (α = 0: offsets only; α = 1: the correction as
trained), and keeps it in the model's ``correction_factor`` buffer, so checkpoints carry it.
Training resets the factor to 1 (``train``), so a warm start trains the full correction again.

Fitted on the validation split that early stopping also watches: mildly optimistic, like the
spread calibration that follows it; one parameter per level keeps that small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from qaware.validator.model import MFENNP
from qaware.validator.train import Sample
from qaware.validator.uncertainty import held_out_errors

__all__ = ["CorrectionShrinkage", "shrink_corrections", "shrink_pooled"]


@dataclass(frozen=True)
class CorrectionShrinkage:
    """One upper level: the factor kept, held-out per-atom MAE (eV/atom) with the correction
    as trained, with none, and with the factor, and the number of held-out structures."""

    level: str
    factor: float
    mae_trained: float
    mae_offsets_only: float
    mae_shrunk: float
    n: int


def shrink_corrections(
    model: MFENNP, samples: Sequence[Sample], *, min_samples: int = 5
) -> dict[str, CorrectionShrinkage]:
    """Fit ``model.correction_factor`` of every upper level (bottom up) on held-out ``samples``.

    A level with fewer than ``min_samples`` labelled samples keeps factor 1; a model without
    ``residual_levels`` is left as it is ({} returned). Returns what was fitted per level.
    """
    return shrink_pooled([(model, samples)], min_samples=min_samples)


def shrink_pooled(
    pairs: Sequence[tuple[MFENNP, Sequence[Sample]]], *, min_samples: int = 5
) -> dict[str, CorrectionShrinkage]:
    """:func:`shrink_corrections` with one factor per level shared by several models, each
    with its own held-out samples, fitted on their pooled errors and set in every model: the
    cross-family variant, where K models each predict families they never saw
    (:mod:`.cross_calibration`). The models must share their levels."""
    if not pairs or not pairs[0][0].config.residual_levels:
        return {}
    levels = pairs[0][0].config.levels
    if any(m.config.levels != levels or not m.config.residual_levels for m, _ in pairs):
        raise ValueError("shrink_pooled: the models differ in levels or head kind")
    out: dict[str, CorrectionShrinkage] = {}
    for f in range(1, len(levels)):
        trained = _pooled_errors(pairs, f, 1.0)
        if trained.size < min_samples:
            _set_factor(pairs, f, 1.0)
            continue
        offsets_only = _pooled_errors(pairs, f, 0.0)
        correction = trained - offsets_only  # per atom, what the learned part adds
        norm = float(correction @ correction)
        factor = 1.0 if norm == 0.0 else float(np.clip(-(offsets_only @ correction) / norm, 0, 1))
        _set_factor(pairs, f, factor)
        shrunk = offsets_only + factor * correction
        out[levels[f]] = CorrectionShrinkage(
            levels[f],
            factor,
            float(np.abs(trained).mean()),
            float(np.abs(offsets_only).mean()),
            float(np.abs(shrunk).mean()),
            int(correction.size),
        )
    return out


def _set_factor(pairs: Sequence[tuple[MFENNP, Sequence[Sample]]], f: int, value: float) -> None:
    with torch.no_grad():
        for model, _ in pairs:
            model.correction_factor[f] = value


def _pooled_errors(
    pairs: Sequence[tuple[MFENNP, Sequence[Sample]]], f: int, factor: float
) -> np.ndarray:
    """Level ``f``'s per-atom signed errors of every pair, with its correction factor set to
    ``factor`` in every model (it stays set)."""
    _set_factor(pairs, f, factor)
    parts = [held_out_errors(model, samples).get(f) for model, samples in pairs]
    return np.concatenate([p[0] for p in parts if p is not None] or [np.zeros(0)])
