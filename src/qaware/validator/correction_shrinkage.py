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

__all__ = ["CorrectionShrinkage", "shrink_corrections"]


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
    if not model.config.residual_levels:
        return {}
    out: dict[str, CorrectionShrinkage] = {}
    for f in range(1, model.config.n_levels):
        with torch.no_grad():
            model.correction_factor[f] = 1.0
        trained = held_out_errors(model, samples).get(f)
        if trained is None or trained[0].size < min_samples:
            continue
        with torch.no_grad():
            model.correction_factor[f] = 0.0
        offsets_only = held_out_errors(model, samples)[f][0]
        correction = trained[0] - offsets_only  # per atom, what the learned part adds
        norm = float(correction @ correction)
        factor = 1.0 if norm == 0.0 else float(np.clip(-(offsets_only @ correction) / norm, 0, 1))
        with torch.no_grad():
            model.correction_factor[f] = factor
        shrunk = offsets_only + factor * correction
        level = model.config.levels[f]
        out[level] = CorrectionShrinkage(
            level,
            factor,
            float(np.abs(trained[0]).mean()),
            float(np.abs(offsets_only).mean()),
            float(np.abs(shrunk).mean()),
            int(correction.size),
        )
    return out
