"""Cross-family calibration: σ's factor fitted on the errors of K models on families they never saw.

Why: :func:`~qaware.validator.workflow.train_on_frames` calibrates on its validation families,
which says how wrong the model is on *those* families. With few families, or a top level that
is labelled on a handful of them, that factor does not transfer: on Track M a fold's validation
family held 0–4 CCSD(T) labels and the top-level ECE on the test families was 0.39. Here the
families are dealt into K folds; K models, each trained without one fold, predict it, and the
pooled out-of-family errors (with the raw head spread) fit one factor per level (cross-conformal
calibration, in the spirit of Vovk 2015 and Barber et al.'s CV+, 2021). The model that is
calibrated is trained on more data than the K fold models, so its factor is, if anything,
slightly conservative. Costs K extra trainings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from ase import Atoms

from qaware.errors import ConfigError
from qaware.fidelity import FidelityLadder
from qaware.thermo.references import ElementalReferences
from qaware.validator.calibration import fit_std_scale, regression_ece, reliability_diagram
from qaware.validator.config import ModelConfig
from qaware.validator.correction_shrinkage import CorrectionShrinkage, shrink_pooled
from qaware.validator.mf_validator import MFValidator
from qaware.validator.model import MFENNP
from qaware.validator.train import Sample, TrainConfig, prepare_samples
from qaware.validator.uncertainty import LevelCalibration, held_out_errors

__all__ = [
    "MIN_LEVEL_LABELS",
    "CrossCalibration",
    "cross_calibrate",
    "family_folds",
    "fit_level_scales",
    "fold_frames",
    "out_of_family_models",
    "pooled_errors",
]

log = logging.getLogger(__name__)

MIN_LEVEL_LABELS = 20
"""A level with fewer out-of-family labels takes the factor fitted on every level's errors
together: an ECE on a dozen points is mostly noise (its resolution is 1/n)."""

Errors = dict[str, tuple[np.ndarray, np.ndarray]]
"""level -> (signed errors, raw head spread), eV/atom."""


@dataclass(frozen=True)
class CrossCalibration:
    """What :func:`cross_calibrate` fitted: a factor per level, the number of out-of-family
    labels behind it, which levels took the all-level factor, the ECE on the out-of-family
    errors with the raw spread and with the factor (the latter in-sample: the fit's own data),
    and the folds of families; with ``shrink``, the Δ-correction factors fitted on the same
    out-of-family predictions."""

    scales: dict[str, float]
    n: dict[str, int]
    pooled: tuple[str, ...]
    ece_before: dict[str, float]
    ece_after: dict[str, float]
    folds: tuple[tuple[str, ...], ...]
    shrinkage: dict[str, CorrectionShrinkage] = field(default_factory=dict)
    models: tuple[tuple[MFENNP, list[Sample]], ...] = field(default=(), repr=False, compare=False)
    """The K fold models with their held-out samples (not saved): ``fold_models`` of a later
    :func:`cross_calibrate` on the same data, so a variant costs no training."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "shrinkage": {k: vars(v) for k, v in self.shrinkage.items()},
            "method": "cross_family",
            "scales": dict(self.scales),
            "n": dict(self.n),
            "pooled": list(self.pooled),
            "ece_before": dict(self.ece_before),
            "ece_after": dict(self.ece_after),
            "folds": [list(f) for f in self.folds],
        }


def family_folds(
    groups: Sequence[str], k: int, *, seed: int = 0, always_train: Sequence[str] = ()
) -> list[list[str]]:
    """The distinct ``groups`` (minus ``always_train``) dealt into ``k`` folds in a seeded
    order; fewer folds when there are fewer families."""
    if k < 2:
        raise ConfigError(f"cross-family calibration needs at least 2 folds, got {k}")
    families = sorted(set(groups) - set(always_train))
    if len(families) < 2:
        raise ConfigError(
            f"cross-family calibration needs at least 2 families to hold out, got {families}"
        )
    order = np.random.default_rng(seed).permutation(len(families))
    folds = [[families[i] for i in order[j::k]] for j in range(min(k, len(families)))]
    return [sorted(f) for f in folds]


def fold_frames(
    frames: Sequence[Atoms], groups: Sequence[str], held_out: set[str]
) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices whose elements all occur in training) of a
    leave-families-out fold: an element never trained on has no learned energy, so a held-out
    frame with one cannot be scored."""
    train = [i for i, g in enumerate(groups) if g not in held_out]
    seen = {s for i in train for s in frames[i].get_chemical_symbols()}
    test = [
        i
        for i, g in enumerate(groups)
        if g in held_out and set(frames[i].get_chemical_symbols()) <= seen
    ]
    return train, test


def _validation_groups(
    frames: Sequence[Atoms],
    groups: Sequence[str],
    train: Sequence[int],
    fraction: float,
    seed: int,
    always_train: Sequence[str],
) -> list[str]:
    """Whole training families, drawn in a seeded order, until they hold ≥ ``fraction`` of the
    training frames; a family is skipped if taking it would leave one of its elements
    untrained (and ``always_train`` families, e.g. the formation-energy references, never go)."""
    families = sorted({groups[i] for i in train} - set(always_train))
    chosen: list[str] = []
    size = 0
    for k in np.random.default_rng(seed).permutation(len(families)):
        if size >= fraction * len(train):
            break
        family = families[k]
        rest = [i for i in train if groups[i] != family and groups[i] not in chosen]
        seen = {s for i in rest for s in frames[i].get_chemical_symbols()}
        members = [i for i in train if groups[i] == family]
        if all(set(frames[i].get_chemical_symbols()) <= seen for i in members):
            chosen.append(family)
            size += len(members)
    return chosen


def out_of_family_models(
    frames: Sequence[Atoms],
    ladder: FidelityLadder,
    references: Mapping[str, ElementalReferences],
    model_config: ModelConfig,
    train_config: TrainConfig,
    folds: Sequence[Sequence[str]],
    *,
    group_key: str = "tag",
    validation_fraction: float = 0.1,
    always_train: Sequence[str] = (),
    progress: Callable[[int, int, list[str]], Any] | None = None,
) -> list[tuple[MFENNP, list[Sample]]]:
    """Train one model per fold without that fold's families: (model, samples of the fold's
    frames) per fold. Held-out frames with an element no training frame has are skipped
    (their element energy would be fitted to nothing)."""
    from qaware.validator.workflow import train_on_frames

    groups = [str(a.info.get(group_key, "")) for a in frames]
    out: list[tuple[MFENNP, list[Sample]]] = []
    for j, fold in enumerate(folds):
        if progress is not None:
            progress(j, len(folds), list(fold))
        train_idx, test_idx = fold_frames(frames, groups, set(fold))
        if not test_idx:
            log.warning("cross-calibration fold %d: no held-out frame is covered; skipped", j)
            continue
        subset = [frames[i] for i in train_idx + test_idx]
        held = sorted({groups[i] for i in test_idx})
        validation = _validation_groups(
            frames, groups, train_idx, validation_fraction, train_config.seed + j, always_train
        )
        trained = train_on_frames(
            subset,
            ladder,
            references,
            model_config,
            train_config,
            group_key=group_key,
            test_groups=held,
            validation_groups=validation,
            domain=False,  # a throw-away model: only its held-out errors are kept
        )
        model = trained.validator._require_model()
        test = [subset[i] for i in trained.split.test]
        out.append((model, prepare_samples(test, model.config)))
    return out


def pooled_errors(pairs: Sequence[tuple[MFENNP, Sequence[Sample]]]) -> Errors:
    """level -> (signed error, raw spread) per atom of each model on its samples, pooled."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for model, samples in pairs:
        for f, (e, s) in held_out_errors(model, samples).items():
            errors, spread = out.setdefault(model.config.levels[f], ([], []))
            errors += e.tolist()
            spread += s.tolist()
    return {x: (np.array(e), np.array(s)) for x, (e, s) in out.items() if e}


def fit_level_scales(
    errors: Errors, *, min_labels: int = MIN_LEVEL_LABELS
) -> tuple[dict[str, float], tuple[str, ...]]:
    """One factor per level (:func:`fit_std_scale`, by ECE); a level with fewer than
    ``min_labels`` errors takes the factor fitted on all levels' errors together. Returns the
    factors and the levels that took the all-level one."""
    if not errors:
        raise ValueError("no out-of-family errors to fit a factor on")
    every = (
        np.concatenate([e for e, _ in errors.values()]),
        np.concatenate([s for _, s in errors.values()]),
    )
    shared = fit_std_scale(*every)
    scales, pooled = {}, []
    for level, (e, s) in errors.items():
        if len(e) >= min_labels:
            scales[level] = fit_std_scale(e, s)
        else:
            scales[level] = shared
            pooled.append(level)
    return scales, tuple(pooled)


def cross_calibrate(
    validator: MFValidator,
    frames: Sequence[Atoms],
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    folds: int = 4,
    group_key: str = "tag",
    always_train: Sequence[str] = (),
    validation_fraction: float = 0.1,
    min_labels: int = MIN_LEVEL_LABELS,
    progress: Callable[[int, int, list[str]], Any] | None = None,
    shrink: bool = False,
    fold_models: Sequence[tuple[MFENNP, list[Sample]]] | None = None,
) -> CrossCalibration:
    """Fit ``validator``'s σ factors on out-of-family errors (floor 0) and return what was fitted.

    ``frames`` should be the data ``validator`` was trained and validated on (never its test
    families); ``model_config`` and ``train_config`` as for that training, so the K fold
    models are the same kind of model. Levels without out-of-family labels keep their factor.
    ``validator.calibration`` gets a :class:`LevelCalibration` per refitted level (saved with
    the checkpoint). ``shrink`` (Δ heads): first fit the correction factors on the same
    out-of-family predictions (:func:`~qaware.validator.correction_shrinkage.shrink_pooled`),
    set them in ``validator`` (``validator.shrinkage``), then fit σ on the shrunk errors.
    ``fold_models``: the ``models`` of an earlier call on the same frames and settings, used
    instead of training K new ones (their correction factors are refitted or reset to 1).
    """
    model = validator._require_model()
    groups = []
    for i, atoms in enumerate(frames):
        if group_key not in atoms.info:
            raise ConfigError(f"frame {i}: no info['{group_key}'] (the split's group key)")
        groups.append(str(atoms.info[group_key]))
    chosen = family_folds(groups, folds, seed=train_config.seed, always_train=always_train)
    pairs = (
        list(fold_models)
        if fold_models is not None
        else out_of_family_models(
            frames,
            validator.ladder,
            validator.references,
            replace(model_config, levels=validator.ladder.names),
            train_config,
            chosen,
            group_key=group_key,
            validation_fraction=validation_fraction,
            always_train=always_train,
            progress=progress,
        )
    )
    if fold_models is not None:  # as trained: no factor of an earlier shrink stays
        for fold_model, _ in pairs:
            with torch.no_grad():
                fold_model.correction_factor.fill_(1.0)
    shrinkage = shrink_pooled(pairs) if shrink else {}
    with torch.no_grad():
        for level, shrunk in shrinkage.items():
            model.correction_factor[validator.ladder.names.index(level)] = shrunk.factor
    validator.shrinkage.update(shrinkage)
    errors = pooled_errors(pairs)
    if not errors:
        raise ConfigError(
            "cross-family calibration: no held-out family could be predicted (each fold's "
            "elements are missing from its training families); use method: validation"
        )
    scales, pooled = fit_level_scales(errors, min_labels=min_labels)
    names = validator.ladder.names
    with torch.no_grad():
        for level, scale in scales.items():
            model.std_scale[names.index(level)] = scale
            model.std_floor[names.index(level)] = 0.0
    fitted = {}
    for level, (e, s) in errors.items():
        expected, observed = reliability_diagram(e, scales[level] * s)
        fitted[level] = LevelCalibration(
            level,
            scales[level],
            regression_ece(e, s),
            regression_ece(e, scales[level] * s),
            tuple(expected.tolist()),
            tuple(observed.tolist()),
            len(e),
            method="cross_family (all levels)" if level in pooled else "cross_family",
        )
    validator.calibration.update(fitted)
    return CrossCalibration(
        scales,
        {x: c.n for x, c in fitted.items()},
        pooled,
        {x: c.ece_before for x, c in fitted.items()},
        {x: c.ece_after for x, c in fitted.items()},
        tuple(tuple(f) for f in chosen),
        shrinkage,
        tuple(pairs),
    )
