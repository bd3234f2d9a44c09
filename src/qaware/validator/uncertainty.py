"""Calibrating a model's ensemble spread on held-out structures, level by level.

Errors and spreads are per atom (eV/atom); σ is the std over the K heads of a level. The fitted
factor is stored in the model's ``std_scale`` buffer, so it travels with checkpoints and every
later ``energy_std`` is calibrated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from qaware.validator.calibration import fit_std_scale, regression_ece, reliability_diagram
from qaware.validator.data import collate_labels
from qaware.validator.graph import collate
from qaware.validator.model import MFENNP
from qaware.validator.train import Sample

__all__ = ["LevelCalibration", "calibrate_model", "held_out_errors"]


@dataclass(frozen=True)
class LevelCalibration:
    """One level: factor, ECE before/after, reliability diagram after, number of structures."""

    level: str
    scale: float
    ece_before: float
    ece_after: float
    expected: tuple[float, ...]
    observed: tuple[float, ...]
    n: int


def held_out_errors(
    model: MFENNP, samples: Sequence[Sample], *, batch_size: int = 32
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """level -> (signed errors, raw σ) per atom over the samples labelled at that level.

    σ is the heads' std *without* the current calibration factor.
    """
    out: dict[int, tuple[list[float], list[float]]] = {}
    model.eval()
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            part = samples[start : start + batch_size]
            graph = collate([s.graph for s in part], model.dtype)
            labels = collate_labels([s.labels for s in part], graph.n_atoms.tolist())
            pred = model(graph)
            n = graph.n_atoms.to(pred.energy.dtype)[:, None]
            err = ((pred.energy - labels.energy.to(pred.energy.dtype)) / n).numpy()
            std = (pred.energy_std / model.std_scale / n).numpy()
            for f in range(model.config.n_levels):
                mask = labels.energy_mask[:, f].numpy()
                e, s = out.setdefault(f, ([], []))
                e += err[mask, f].tolist()
                s += std[mask, f].tolist()
    return {f: (np.array(e), np.array(s)) for f, (e, s) in out.items() if e}


def calibrate_model(
    model: MFENNP, samples: Sequence[Sample], *, method: Literal["nll", "ece"] = "ece"
) -> dict[str, LevelCalibration]:
    """Fit ``model.std_scale`` per level on held-out ``samples``; levels without labels there
    keep their factor. Returns what was fitted, with ECE before (factor 1) and after."""
    result = {}
    for f, (errors, std) in held_out_errors(model, samples).items():
        scale = fit_std_scale(errors, std, method=method)
        expected, observed = reliability_diagram(errors, scale * std)
        level = model.config.levels[f]
        result[level] = LevelCalibration(
            level,
            scale,
            regression_ece(errors, std),
            regression_ece(errors, scale * std),
            tuple(expected.tolist()),
            tuple(observed.tolist()),
            int(errors.size),
        )
        with torch.no_grad():
            model.std_scale[f] = scale
    return result
