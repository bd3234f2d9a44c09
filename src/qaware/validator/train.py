"""Training: data preparation, initial fits, the epoch loop with early stopping, warm starts.

A training run from scratch: :func:`initialise_model` (neighbour statistics, least-squares
reference energies and scales per level) then :func:`train`. A warm start calls :func:`train`
on an existing model with the enlarged data set: nothing is re-initialised, the references stay,
training resumes from the current weights (the campaign retrains every cycle in minutes).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms

from qaware._device import resolve_device
from qaware.errors import ConfigError, TrainingError
from qaware.fidelity import FidelityLadder
from qaware.validator.atomic_energies import (
    composition_matrix,
    fit_energy_scales,
    fit_reference_energies,
)
from qaware.validator.checkpoint import plain_metadata, save_checkpoint
from qaware.validator.config import ModelConfig
from qaware.validator.data import Labels, collate_labels, read_labels
from qaware.validator.graph import StructureGraph, collate, structure_graph
from qaware.validator.loss import LossWeights, multi_fidelity_loss
from qaware.validator.model import MFENNP
from qaware.validator.splits import split_indices

log_ = logging.getLogger(__name__)

__all__ = [
    "WARM_START",
    "EpochLog",
    "Sample",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "initialise_model",
    "prepare_samples",
    "split_indices",
    "train",
]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the architecture is :class:`~qaware.validator.config.ModelConfig`).

    validation_fraction: share of structures held out for early stopping (0: none); samples
                 with a ``group`` (see :func:`prepare_samples`) are held out by whole groups.
    patience:    epochs without a better validation loss before stopping.
    bootstrap:   per-structure Poisson(1) weights per head, so heads see different data.
    max_seconds: wall-clock budget of the run (None: epochs only).
    device:      where to train (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``; None: where
                 the model already is). The model stays there afterwards.
    """

    epochs: int = 200
    batch_size: int = 8
    learning_rate: float = 3e-3
    loss: LossWeights = field(default_factory=LossWeights)
    validation_fraction: float = 0.1
    patience: int = 25
    bootstrap: bool = True
    max_grad_norm: float | None = 10.0
    max_seconds: float | None = None
    seed: int = 0
    device: str | None = None


WARM_START = TrainConfig(
    epochs=30,
    batch_size=16,
    learning_rate=1e-3,
    patience=10,
    max_seconds=20.0,
    validation_fraction=0.2,
)
"""The campaign's per-cycle retraining: ``MFValidator.load(path, train_config=WARM_START,
min_calibration=20)`` then ``fit(all_structures, all_labels, warm_start=True)``: at most ~20 s
plus one epoch (measured 3 s for 50 and 15 s for 200 five-atom cells on one core)."""


@dataclass(frozen=True)
class Sample:
    """One training structure: its graph (cached neighbour list), labels and split group."""

    graph: StructureGraph
    labels: Labels
    group: str | None = None


@dataclass
class EpochLog:
    """One epoch: losses, and validation MAE per level (energy eV/atom, forces eV/Å)."""

    epoch: int
    train_loss: float
    val_loss: float
    energy_mae: dict[str, float]
    force_mae: dict[str, float]
    learning_rate: float
    seconds: float


@dataclass
class TrainResult:
    history: list[EpochLog]
    best_epoch: int
    best_val_loss: float
    train_indices: list[int]
    val_indices: list[int]
    checkpoint_sha256: str | None = None


def prepare_samples(
    structures: Sequence[Atoms],
    config: ModelConfig,
    labels: Sequence[Labels] | None = None,
    *,
    group_key: str | None = None,
) -> list[Sample]:
    """Neighbour lists and labels (read from the Atoms when ``labels`` is None).

    group_key: ``atoms.info`` key naming each structure's group (family) for the split.
    """
    index = {s: k for k, s in enumerate(config.species)}
    if labels is not None and len(labels) != len(structures):
        raise ConfigError(f"{len(labels)} label sets for {len(structures)} structures")
    out = []
    for k, atoms in enumerate(structures):
        lab = labels[k] if labels is not None else read_labels(atoms, config.levels, index=k)
        group = None
        if group_key is not None:
            if group_key not in atoms.info:
                raise ConfigError(f"group key '{group_key}': structure {k} has no info entry")
            group = str(atoms.info[group_key])
        out.append(Sample(structure_graph(atoms, config.cutoff, index, index=k), lab, group))
    return out


def initialise_model(
    config: ModelConfig,
    samples: Sequence[Sample],
    references: Mapping[str, Mapping[str, float]] | None = None,
) -> MFENNP:
    """A fresh model whose message normalisation, references μ_f(Z) and per-level scales are
    fitted to ``samples`` (least squares, before any gradient step).

    references: ``{level: {element: eV/atom}}``, e.g. the elemental reference energies of
    each level (:class:`~qaware.thermo.ElementalReferences` ``.mu``): how an element's energy
    moves between levels, the prior of a sparsely labelled level's μ
    (:func:`~qaware.validator.atomic_energies.fit_reference_energies`)."""
    if not samples:
        raise ConfigError("cannot initialise a model without training structures")
    n_edges = sum(len(s.graph.edges) for s in samples)
    n_atoms = sum(s.graph.n_atoms for s in samples)
    config = replace(config, avg_num_neighbours=max(1.0, n_edges / n_atoms))
    model = MFENNP(config)
    comp = composition_matrix([s.graph.species for s in samples], len(config.species))
    energy = np.stack([s.labels.energy for s in samples])
    mu = fit_reference_energies(
        comp,
        energy,
        shifts=level_shifts(config, references),
        difference=config.residual_levels,
    )
    force_rms = np.full(config.n_levels, np.nan)
    for f in range(config.n_levels):
        forces = [_force_target(s.labels.forces, f, config.residual_levels) for s in samples]
        if found := [F for F in forces if F is not None]:
            force_rms[f] = float(np.sqrt(np.mean(np.concatenate(found) ** 2)))
    scales = fit_energy_scales(
        comp, energy, mu, force_rms=force_rms, residual=config.residual_levels
    )
    with torch.no_grad():
        model.reference_energies.copy_(torch.as_tensor(mu))
        model.energy_scale.copy_(torch.as_tensor(scales))
    return model


def _force_target(
    forces: Sequence[np.ndarray | None], level: int, residual: bool
) -> np.ndarray | None:
    """What level ``level``'s heads learn of a structure's forces: the forces, or under
    Δ-learning (above the lowest level) their difference to the level below; None if unknown."""
    if not residual or level == 0:
        return forces[level]
    upper, lower = forces[level], forces[level - 1]
    return None if upper is None or lower is None else upper - lower


def level_shifts(
    config: ModelConfig, references: Mapping[str, Mapping[str, float]] | None
) -> np.ndarray | None:
    """(L, n_species) eV/atom from ``{level: {element: eV/atom}}`` (NaN where unknown), or
    None when no level has any of the model's species."""
    if not references:
        return None
    table = np.array(
        [[references.get(lv, {}).get(el, np.nan) for el in config.species] for lv in config.levels],
        dtype=float,
    )
    return table if np.isfinite(table).any() else None


def _batches(indices: Sequence[int], size: int, rng: np.random.Generator | None):
    order = np.asarray(indices) if rng is None else rng.permutation(np.asarray(indices))
    for start in range(0, len(order), size):
        yield order[start : start + size].tolist()


def evaluate(
    model: MFENNP,
    samples: Sequence[Sample],
    level_weights: Sequence[float],
    loss: LossWeights = LossWeights(),
    *,
    batch_size: int = 16,
) -> tuple[float, dict[str, float], dict[str, float]]:
    """(mean loss per batch, energy MAE per level in eV/atom, force MAE per level in eV/Å)."""
    levels = model.config.levels
    was_training = model.training
    model.eval()
    total, n_batches = 0.0, 0
    e_err: dict[int, list[float]] = {f: [] for f in range(len(levels))}
    f_err: dict[int, list[float]] = {f: [] for f in range(len(levels))}
    for idx in _batches(range(len(samples)), batch_size, None):
        parts = [samples[i] for i in idx]
        graph = collate([p.graph for p in parts], model.dtype, model.device)
        labels = collate_labels(
            [p.labels for p in parts], graph.n_atoms.tolist(), model.dtype, model.device
        )
        terms = multi_fidelity_loss(model, graph, labels, level_weights, loss, create_graph=False)
        total += float(terms.total.detach())
        n_batches += 1
        assert terms.output is not None
        energy = terms.output.energy.detach()
        per_atom = (energy - labels.energy).abs() / graph.n_atoms[:, None].to(energy.dtype)
        for f in range(len(levels)):
            e_err[f] += per_atom[labels.energy_mask[:, f], f].tolist()
            if f in terms.predicted_forces:
                mask = labels.force_mask[:, f]
                diff = (terms.predicted_forces[f][mask] - labels.forces[mask, f]).abs()
                f_err[f] += diff.flatten().tolist()
    model.train(was_training)
    energy_mae = {levels[f]: float(np.mean(v)) for f, v in e_err.items() if v}
    force_mae = {levels[f]: float(np.mean(v)) for f, v in f_err.items() if v}
    return total / max(n_batches, 1), energy_mae, force_mae


def train(
    model: MFENNP,
    samples: Sequence[Sample],
    ladder: FidelityLadder,
    config: TrainConfig = TrainConfig(),
    *,
    validation: Sequence[Sample] | None = None,
    checkpoint: str | Path | None = None,
    log: Callable[[EpochLog], Any] | None = None,
    start_competes: bool = False,
) -> TrainResult:
    """Train ``model`` in place (a warm start when it is already trained) and return the history.

    validation: held-out samples for early stopping; None splits ``samples`` by
    ``config.validation_fraction`` (by whole groups when every sample has one; fewer than five
    samples: no split, early stopping watches the training loss).
    checkpoint: where to write the best model (with sha256) whenever validation improves.
    The best weights (lowest validation loss) are restored at the end. Corrections shrunk after
    an earlier fit (``correction_factor``) are restored to full size first: a factor 0 would
    stop their gradients. start_competes: the starting weights are a candidate too
    (``best_epoch`` −1 when they stay), so a warm start never returns a model worse on its
    validation split than the one it was given.
    """
    if tuple(ladder.names) != tuple(model.config.levels):
        raise ConfigError(
            f"ladder {list(ladder.names)} does not match the model's levels "
            f"{list(model.config.levels)} (same names, same order)"
        )
    if config.device is not None:
        model.to(resolve_device(config.device))
    with torch.no_grad():
        model.correction_factor.fill_(1.0)
    samples = list(samples)
    rng = np.random.default_rng(config.seed)
    if validation is None:
        groups = [s.group for s in samples]
        fraction = config.validation_fraction if len(samples) >= 5 else 0.0
        train_idx, val_idx = split_indices(
            len(samples),
            fraction,
            seed=config.seed,
            groups=None if None in groups else [str(g) for g in groups],
        )
        validation = [samples[i] for i in val_idx]
        training = [samples[i] for i in train_idx]
    else:
        training, train_idx, val_idx = samples, list(range(len(samples))), []
    if not training:
        raise ConfigError("no training structures left after the validation split")
    weights = ladder.weights()
    heads = model.config.n_heads
    boot = rng.poisson(1.0, (len(training), heads)).astype(float) if config.bootstrap else None
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=0.5, patience=max(2, config.patience // 3)
    )
    best = (math.inf, -1, {k: v.detach().clone() for k, v in model.state_dict().items()})
    keep_best = False  # restore best[2] at the end (an epoch beat the start, or the start counts)
    if start_competes and validation:
        best, keep_best = (evaluate(model, validation, weights, config.loss)[0], *best[1:]), True
    history: list[EpochLog] = []
    sha, diverged = None, False
    start = time.perf_counter()
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        model.train()
        losses = []
        for idx in _batches(range(len(training)), config.batch_size, rng):
            parts = [training[i] for i in idx]
            graph = collate([p.graph for p in parts], model.dtype, model.device)
            labels = collate_labels(
                [p.labels for p in parts], graph.n_atoms.tolist(), model.dtype, model.device
            )
            hw = (
                None
                if boot is None
                else torch.as_tensor(boot[idx], dtype=model.dtype, device=model.device)
            )
            terms = multi_fidelity_loss(model, graph, labels, weights, config.loss, head_weights=hw)
            if not terms.total.requires_grad:
                continue
            optimiser.zero_grad(set_to_none=True)
            terms.total.backward()
            for p in model.parameters():  # untouched by this batch: let Adam skip it entirely
                if p.grad is not None and not p.grad.any():
                    p.grad = None
            if config.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimiser.step()
            losses.append(float(terms.total.detach()))
        train_loss = float(np.mean(losses)) if losses else math.nan
        if validation:
            val_loss, e_mae, f_mae = evaluate(model, validation, weights, config.loss)
        else:
            val_loss, e_mae, f_mae = train_loss, {}, {}
        scheduler.step(val_loss)
        entry = EpochLog(
            epoch,
            train_loss,
            val_loss,
            e_mae,
            f_mae,
            optimiser.param_groups[0]["lr"],
            time.perf_counter() - t0,
        )
        history.append(entry)
        if log is not None:
            log(entry)
        diverged = not all(bool(torch.isfinite(q).all()) for q in model.parameters())
        if diverged:  # NaN/inf weights: nothing after this epoch can be better
            break
        if val_loss < best[0]:
            best = (val_loss, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
            keep_best = True
            if checkpoint is not None:
                meta = {
                    "train_config": plain_metadata(asdict(config)),
                    "epoch": epoch,
                    "val_loss": val_loss,
                }
                sha = save_checkpoint(model, checkpoint, metadata=meta)
        if epoch - best[1] >= config.patience:
            break
        if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
            break
    if diverged:
        what = f"training diverged at epoch {history[-1].epoch} (loss {history[-1].train_loss})"
        if not keep_best:
            raise TrainingError(f"{what} with no earlier weights to keep: lower "
                                f"learning_rate (now {config.learning_rate})")  # fmt: skip
        log_.warning("%s: keeping epoch %d", what, best[1])
    if keep_best:
        model.load_state_dict(best[2])
    model.eval()
    return TrainResult(history, best[1], best[0], train_idx, val_idx, sha)
