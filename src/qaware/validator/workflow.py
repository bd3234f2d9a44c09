"""Train, calibrate and measure an MF-ENNP on a labelled extxyz data set, with a family split.

The recipe shared by ``qaware train-validator``, ``scripts/train_quickstart_validator.py`` and
``benchmarks/validator.py``:

1. read frames (labels in the data-set builder's layout, :mod:`qaware.validator.data`);
2. split by *structure family* (``info[group_key]``): the ``test_groups`` are held out entirely
   (never seen in training, early stopping or calibration), whole other families go to the
   validation split (early stopping and calibration of σ), the rest trains;
3. :func:`~qaware.validator.train.initialise_model` (least-squares references), train,
   calibrate σ on the validation split;
4. :func:`held_out_report`: MAE per level, ECE before/after calibration, and the divergence
   D = e_form(low) − e_form(top) predicted vs true on the test families.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms

from qaware.errors import ConfigError, InvalidStructureError
from qaware.fidelity import FidelityLadder
from qaware.thermo.references import ElementalReferences
from qaware.validator.calibration import calibrated_std, regression_ece, reliability_diagram
from qaware.validator.config import ModelConfig
from qaware.validator.correction_shrinkage import shrink_corrections as _shrink
from qaware.validator.mf_validator import MFValidator
from qaware.validator.train import (
    EpochLog,
    Sample,
    TrainConfig,
    TrainResult,
    initialise_model,
    prepare_samples,
    train,
)
from qaware.validator.uncertainty import calibrate_model, held_out_errors

__all__ = [
    "FamilySplit",
    "HeldOutReport",
    "TrainedValidator",
    "check_element_coverage",
    "family_split",
    "held_out_report",
    "load_references",
    "read_frames",
    "train_on_frames",
]


def read_frames(paths: Sequence[str | Path]) -> list[Atoms]:
    """Every frame of the extxyz files ``paths``, in order (``info["source"]`` = file name).

    Raises InvalidStructureError naming the file when it is missing or unreadable.
    """
    from qaware.structures.extxyz import read_extxyz_file

    frames: list[Atoms] = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise InvalidStructureError("file not found", source=str(path))
        try:
            items = read_extxyz_file(path)
        except Exception as exc:  # ase raises many types for a malformed file
            raise InvalidStructureError(f"cannot read extxyz: {exc}", source=str(path)) from None
        for atoms in items:
            atoms.info.setdefault("source", str(path))
            frames.append(atoms)
    if not frames:
        raise InvalidStructureError("no frames", source=", ".join(map(str, paths)))
    return frames


def load_references(path: str | Path, levels: Sequence[str]) -> dict[str, ElementalReferences]:
    """``{level: ElementalReferences}`` from a JSON file ``{level: ElementalReferences.to_dict()}``.

    Raises ConfigError naming the file and the level that is missing.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: references file not found") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read references JSON ({exc})") from None
    missing = [level for level in levels if level not in raw]
    if missing:
        raise ConfigError(f"{path}: no references for levels {missing} (has {sorted(raw)})")
    return {level: ElementalReferences.from_dict(raw[level]) for level in levels}


@dataclass(frozen=True)
class FamilySplit:
    """Indices into the frame list: train / validation (early stopping, calibration) / test."""

    train: list[int]
    validation: list[int]
    test: list[int]


def family_split(
    groups: Sequence[str],
    *,
    test_groups: Sequence[str] = (),
    validation_fraction: float = 0.1,
    validation_groups: Sequence[str] | None = None,
    seed: int = 0,
) -> FamilySplit:
    """Split by family: ``test_groups`` entirely to test; ``validation_groups`` (when given) to
    validation, else whole families drawn in a seeded order until validation holds
    ≥ ``validation_fraction`` of the rest; the others train."""
    if validation_groups is not None:
        overlap = sorted(set(validation_groups) & set(test_groups))
        if overlap:
            raise ConfigError(f"families {overlap} are both test and validation groups")
        test_groups = list(test_groups)
    unknown = sorted(set(test_groups) - set(groups))
    if validation_groups is not None:
        unknown += sorted(set(validation_groups) - set(groups))
    if unknown:
        raise ConfigError(
            f"test_groups {unknown} match no structure (groups: {sorted(set(groups))})"
        )
    test = [i for i, g in enumerate(groups) if g in set(test_groups)]
    rest = [i for i, g in enumerate(groups) if g not in set(test_groups)]
    families = sorted({groups[i] for i in rest})
    rng = np.random.default_rng(seed)
    validation: list[int] = []
    if validation_groups is not None:
        validation = [i for i in rest if groups[i] in set(validation_groups)]
    elif validation_fraction > 0 and len(families) > 1:
        for k in rng.permutation(len(families)):
            if len(validation) >= validation_fraction * len(rest):
                break
            validation += [i for i in rest if groups[i] == families[k]]
    chosen = set(validation)
    return FamilySplit([i for i in rest if i not in chosen], sorted(validation), test)


@dataclass
class HeldOutReport:
    """Metrics on held-out structures (per atom; levels by name).

    energy_mae:  eV/atom per level.      force_mae: eV/Å per level (where labelled).
    ece / ece_uncalibrated: regression ECE of the σ with / without the calibration factor.
    reliability: level -> (expected p, observed fraction) with calibration.
    divergence:  D = e_form(low) − e_form(top) (eV/atom): r2 (coefficient of determination of
                 predicted vs true), pearson_r2, mae, n, low, top — structures labelled at both.
    """

    n: int
    energy_mae: dict[str, float]
    force_mae: dict[str, float] = field(default_factory=dict)
    ece: dict[str, float] = field(default_factory=dict)
    ece_uncalibrated: dict[str, float] = field(default_factory=dict)
    reliability: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    divergence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()}


def _force_mae(model: Any, samples: Sequence[Sample], batch_size: int = 32) -> dict[str, float]:
    from qaware.validator.data import collate_labels
    from qaware.validator.graph import collate

    levels = model.config.levels
    errors: dict[str, list[float]] = {}
    for start in range(0, len(samples), batch_size):
        part = samples[start : start + batch_size]
        graph = collate([s.graph for s in part], model.dtype, model.device)
        labels = collate_labels(
            [s.labels for s in part], graph.n_atoms.tolist(), device=model.device
        )
        with torch.enable_grad():
            out, pos, strain = model.strained_forward(graph)
            for f, level in enumerate(levels):
                mask = labels.force_mask[:, f]
                if not mask.any():
                    continue
                forces, _ = model.derivatives(out, graph, pos, strain, f, create_graph=False)
                diff = (forces.detach()[mask] - labels.forces[mask, f].to(forces.dtype)).abs()
                errors.setdefault(level, []).extend(diff.flatten().tolist())
    return {level: float(np.mean(v)) for level, v in errors.items()}


def held_out_report(
    validator: MFValidator,
    frames: Sequence[Atoms],
    samples: Sequence[Sample],
    *,
    forces: bool = True,
) -> HeldOutReport:
    """Metrics of ``validator`` on held-out ``frames`` (and their prepared ``samples``)."""
    model = validator._require_model()
    names = validator.ladder.names
    scale, floor = model.std_scale.detach().clone(), model.std_floor.detach().clone()
    errs = held_out_errors(model, samples)
    report = HeldOutReport(len(samples), {})
    for f, (e, s) in errs.items():
        level = names[f]
        report.energy_mae[level] = float(np.mean(np.abs(e)))
        report.ece_uncalibrated[level] = regression_ece(e, s)
        calibrated = calibrated_std(s, float(scale[f]), float(floor[f]))
        report.ece[level] = regression_ece(e, calibrated)
        p, obs = reliability_diagram(e, calibrated)
        report.reliability[level] = (p.tolist(), obs.tolist())
    if forces:
        report.force_mae = _force_mae(model, samples)
    if len(names) >= 2:
        report.divergence = divergence_metrics(validator, frames, samples)
    return report


def divergence_metrics(
    validator: MFValidator, frames: Sequence[Atoms], samples: Sequence[Sample]
) -> dict[str, Any]:
    """Predicted vs true D = e_form(low) − e_form(top) in eV/atom (frames labelled at both)."""
    from qaware.thermo.formation import formation_energies_per_atom

    names = validator.ladder.names
    low, top = names[0], names[-1]
    energy = np.stack([s.labels.energy for s in samples])
    both = np.isfinite(energy[:, 0]) & np.isfinite(energy[:, -1])
    if both.sum() < 2:
        return {"n": int(both.sum()), "low": low, "top": top}
    chosen = [frames[i] for i in np.flatnonzero(both)]
    pred = validator.predict(chosen)
    elements = sorted({s for a in chosen for s in a.get_chemical_symbols()})
    comp = np.array([[a.get_chemical_symbols().count(e) for e in elements] for a in chosen])
    true = {
        name: formation_energies_per_atom(
            energy[both, k], comp, elements, validator.references[name], level=name
        )
        for k, name in ((0, low), (-1, top))
    }
    d_true = true[low] - true[top]
    d_pred = pred.e_form_per_atom[low] - pred.e_form_per_atom[top]
    ss_tot = float(np.sum((d_true - d_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum((d_pred - d_true) ** 2)) / ss_tot if ss_tot > 0 else math.nan
    pearson = float(np.corrcoef(d_pred, d_true)[0, 1]) if ss_tot > 0 else math.nan
    return {
        "low": low,
        "top": top,
        "n": int(both.sum()),
        "r2": r2,
        "pearson_r2": pearson**2,
        "mae": float(np.mean(np.abs(d_pred - d_true))),
        "true_mean": float(d_true.mean()),
        "true_std": float(d_true.std()),
        "abs_r2": _r2(np.abs(d_pred), np.abs(d_true)),
    }


def _r2(pred: np.ndarray, true: np.ndarray) -> float:
    ss_tot = float(np.sum((true - true.mean()) ** 2))
    return 1.0 - float(np.sum((pred - true) ** 2)) / ss_tot if ss_tot > 0 else math.nan


def check_element_coverage(
    frames: Sequence[Atoms], split: FamilySplit, group_key: str = "tag"
) -> None:
    """Raise ConfigError when an element occurs only in held-out families: its reference
    energy would be fitted to nothing (least squares gives 0) and every prediction on it wrong.
    """
    seen = {s for i in split.train for s in frames[i].get_chemical_symbols()}
    for name, indices in (("validation", split.validation), ("test", split.test)):
        missing = sorted({s for i in indices for s in frames[i].get_chemical_symbols()} - seen)
        if missing:
            groups = sorted({str(frames[i].info.get(group_key, "?")) for i in indices})
            raise ConfigError(
                f"elements {missing} occur only in the {name} families {groups}: hold out "
                "families whose elements the training families also contain"
            )


@dataclass
class TrainedValidator:
    """A trained, calibrated validator and what happened on the way."""

    validator: MFValidator
    split: FamilySplit
    result: TrainResult
    calibration: dict[str, Any]
    test: HeldOutReport | None
    train_seconds: float
    n_train: int


def train_on_frames(
    frames: Sequence[Atoms],
    ladder: FidelityLadder,
    references: Mapping[str, ElementalReferences],
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    group_key: str = "tag",
    test_groups: Sequence[str] = (),
    validation_fraction: float = 0.1,
    validation_groups: Sequence[str] | None = None,
    log: Callable[[EpochLog], Any] | None = None,
    checkpoint: str | Path | None = None,
    partial_checkpoint: str | Path | None = None,
    domain: bool = True,
    shrink_corrections: bool = False,
) -> TrainedValidator:
    """Split by family, initialise, train, calibrate on validation, report on test families.

    model_config's ``levels`` are replaced by the ladder's. ``train_config.validation_fraction``
    is ignored (the family split decides). checkpoint: where the calibrated validator is saved;
    partial_checkpoint: the best raw model so far, written during training (crash insurance,
    :func:`~qaware.validator.load_checkpoint` reads it); domain: fit the applicability domain
    on the training frames (off for throw-away models, e.g. cross-calibration folds);
    shrink_corrections: shrink the Δ corrections on the validation frames before σ is
    calibrated there (:mod:`.correction_shrinkage`). Raises ConfigError when a frame lacks
    ``info[group_key]``.
    """
    from dataclasses import replace

    groups = []
    for i, atoms in enumerate(frames):
        if group_key not in atoms.info:
            raise ConfigError(f"frame {i}: no info['{group_key}'] (the split's group key)")
        groups.append(str(atoms.info[group_key]))
    split = family_split(
        groups,
        test_groups=test_groups,
        validation_fraction=validation_fraction,
        validation_groups=validation_groups,
        seed=train_config.seed,
    )
    check_element_coverage(frames, split, group_key)
    config = replace(model_config, levels=ladder.names)
    samples = prepare_samples(frames, config)
    training = [samples[i] for i in split.train]
    validation = [samples[i] for i in split.validation]
    model = initialise_model(config, training, {lv: dict(r.mu) for lv, r in references.items()})
    start = time.perf_counter()
    result = train(
        model,
        training,
        ladder,
        train_config,
        validation=validation,
        log=log,
        checkpoint=partial_checkpoint,
    )
    seconds = time.perf_counter() - start
    result.train_indices, result.val_indices = list(split.train), list(split.validation)
    shrinkage = _shrink(model, validation) if shrink_corrections and validation else {}
    calibration = calibrate_model(model, validation) if validation else {}
    validator = MFValidator(ladder, references, model=model, train_config=train_config,
                            shrink_corrections=shrink_corrections)  # fmt: skip
    validator.calibration, validator.shrinkage = calibration, shrinkage
    validator.last_fit = result
    if domain:
        validator.fit_domain([frames[i] for i in split.train])
    if checkpoint is not None:
        validator.save(checkpoint)
    test = None
    if split.test:
        test = held_out_report(
            validator, [frames[i] for i in split.test], [samples[i] for i in split.test]
        )
    return TrainedValidator(
        validator,
        split,
        result,
        {k: vars(v) for k, v in calibration.items()},
        test,
        seconds,
        len(training),
    )
