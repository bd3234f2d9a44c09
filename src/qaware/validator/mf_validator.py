"""``MFValidator``: the MF-ENNP model behind the :class:`qaware.protocols.Validator` protocol.

``predict`` scores many structures per forward pass (batches of ``batch_size``) and returns, per
level, energies per atom, referenced formation energies per atom (with the elemental references
of that level, DESIGN.md §3), their calibrated 1-σ spread, and the invariant embedding.
``fit`` (re)trains on total energies — warm start by default, as the campaign does every cycle —
then recalibrates the spread on the held-out split.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms
from tqdm.auto import tqdm

from qaware._device import resolve_device
from qaware.errors import ConfigError
from qaware.execution.progress import progress_enabled
from qaware.fidelity import Fidelity, FidelityLadder
from qaware.protocols import Prediction
from qaware.thermo.formation import formation_energies_per_atom
from qaware.thermo.references import ElementalReferences
from qaware.validator.calculator import QawareCalculator
from qaware.validator.checkpoint import load_checkpoint, save_checkpoint
from qaware.validator.config import ModelConfig
from qaware.validator.correction_shrinkage import CorrectionShrinkage, shrink_corrections
from qaware.validator.data import Labels
from qaware.validator.domain import ApplicabilityDomain, fit_domain
from qaware.validator.graph import batch_graph
from qaware.validator.model import MFENNP
from qaware.validator.train import TrainConfig, TrainResult, initialise_model, prepare_samples
from qaware.validator.train import train as train_model
from qaware.validator.uncertainty import LevelCalibration, calibrate_model

__all__ = ["MFValidator"]

log = logging.getLogger(__name__)


def _value(column: Sequence[float | None] | None, i: int) -> float:
    value = None if column is None else column[i]
    return np.nan if value is None else float(value)


class MFValidator:
    """A trained (or trainable) MF-ENNP on ``ladder`` with elemental references per level.

    model:        None until the first ``fit`` (then built from ``model_config``).
    references:   level -> ElementalReferences computed by the oracle of that level.
    model_config: architecture for a fit from scratch (its levels are replaced by the ladder's);
                  None: the defaults, with the elements of the first training structures.
    train_config: settings of every ``fit``; ``max_seconds`` caps its wall time (a campaign's
                  warm start: ``TrainConfig(epochs=30, learning_rate=1e-3, max_seconds=20)``).
    min_calibration: ``fit`` refits the σ factor only with at least this many held-out
                  structures (fewer would make it noise); otherwise the factor is kept.
    shrink_corrections: with ``residual_levels``, ``fit`` also scales each upper level's
                  learned Δ correction by a factor in [0, 1] fitted on the same held-out
                  structures, before the σ calibration (:mod:`.correction_shrinkage`).
    device:       where the model runs (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``; None:
                  where it is, the CPU for a new or loaded one). Predictions come back as
                  NumPy arrays whatever the device; checkpoints are always saved from the CPU.
    progress:     show a progress bar (structures predicted) on stderr in ``predict``, when
                  stderr is a terminal and ``QAWARE_NO_PROGRESS`` is unset.
    """

    def __init__(
        self,
        ladder: FidelityLadder,
        references: Mapping[str, ElementalReferences],
        *,
        model: MFENNP | None = None,
        model_config: ModelConfig | None = None,
        train_config: TrainConfig = TrainConfig(),
        batch_size: int = 64,
        min_calibration: int = 5,
        shrink_corrections: bool = False,
        device: str | None = None,
        progress: bool = False,
    ) -> None:
        missing = [name for name in ladder.names if name not in references]
        if missing:
            raise ConfigError(f"validator: no elemental references for levels {missing}")
        for name in ladder.names:
            if references[name].level != name:
                raise ConfigError(
                    f"validator: references given for {name!r} are of {references[name].level!r}"
                )
        if model is not None and tuple(model.config.levels) != tuple(ladder.names):
            raise ConfigError(
                f"validator: model levels {list(model.config.levels)} != ladder "
                f"{list(ladder.names)}"
            )
        self._ladder = ladder
        self.references = dict(references)
        self.progress = progress
        self.device = None if device is None else resolve_device(device)
        self.model = model if model is None or self.device is None else model.to(self.device)
        self.model_config = model_config
        self.train_config = train_config
        self.batch_size = int(batch_size)
        self.min_calibration = int(min_calibration)
        self.shrink_corrections = bool(shrink_corrections)
        self.last_fit: TrainResult | None = None
        self.calibration: dict[str, LevelCalibration] = {}
        self.shrinkage: dict[str, CorrectionShrinkage] = {}
        self.domain: ApplicabilityDomain | None = None

    @property
    def ladder(self) -> FidelityLadder:
        return self._ladder

    # ---- prediction ----------------------------------------------------------------------
    def _require_model(self) -> MFENNP:
        if self.model is None:
            raise ConfigError("validator: no model yet: call fit() or load() first")
        return self.model

    def predict(self, structures: Sequence[Atoms]) -> Prediction:
        """Every level for every structure; energies eV/atom, embedding (n, channels)."""
        model = self._require_model().eval()
        names = self._ladder.names
        energy, std, embedding = [], [], []
        shown = self.progress and progress_enabled()  # a terminal, QAWARE_NO_PROGRESS unset
        bar = tqdm(total=len(structures), desc="predict", unit="structure", disable=not shown)
        with torch.no_grad(), bar:
            for start in range(0, len(structures), self.batch_size):
                part = list(structures[start : start + self.batch_size])
                graph = batch_graph(
                    part, model.config.cutoff, model.config.species, model.dtype, model.device
                )
                out = model(graph)
                n = graph.n_atoms.to(out.energy.dtype)[:, None]
                energy.append(out.energy.double().cpu().numpy())
                std.append((out.energy_std / n).double().cpu().numpy())
                embedding.append(out.embedding.double().cpu().numpy())
                bar.update(len(part))
        if not structures:
            empty = {name: np.zeros(0) for name in names}
            none = np.zeros((0, model.config.channels))
            return Prediction(empty, dict(empty), dict(empty), none, self._distance(none))
        total, sigma = np.concatenate(energy), np.concatenate(std)
        elements = sorted({s for atoms in structures for s in atoms.get_chemical_symbols()})
        comp = np.array(
            [[atoms.get_chemical_symbols().count(el) for el in elements] for atoms in structures]
        )
        n_atoms = comp.sum(axis=1)
        per_atom, e_form, e_std = {}, {}, {}
        for f, name in enumerate(names):
            per_atom[name] = total[:, f] / n_atoms
            e_form[name] = formation_energies_per_atom(
                total[:, f], comp, elements, self.references[name], level=name
            )
            e_std[name] = sigma[:, f]
        z = np.concatenate(embedding)
        return Prediction(per_atom, e_form, e_std, z, self._distance(z))

    def _distance(self, embedding: np.ndarray) -> np.ndarray | None:
        return None if self.domain is None else self.domain.distance(embedding)

    def fit_domain(self, structures: Sequence[Atoms]) -> ApplicabilityDomain | None:
        """Set (and return) the applicability domain from the structures the model was
        trained on (:mod:`qaware.validator.domain`); ``predict`` then reports distances.
        Non-finite embeddings (a diverged model) leave no domain, with a warning."""
        self.domain = None  # the old domain's distances would be computed for nothing
        embedding = self.predict(structures).embedding
        if not np.all(np.isfinite(embedding)):
            log.warning("validator: non-finite embeddings, no applicability domain fitted")
            self.domain = None
            return None
        self.domain = fit_domain(embedding)
        return self.domain

    def calculator(self, fidelity: str | None = None) -> QawareCalculator:
        """An ASE calculator at ``fidelity`` (default top) with this validator's references."""
        return QawareCalculator(self._require_model(), fidelity, references=self.references)

    # ---- training ------------------------------------------------------------------------
    def fit(
        self,
        structures: Sequence[Atoms],
        labels: Mapping[str, Sequence[float | None]],
        *,
        warm_start: bool = True,
    ) -> None:
        """(Re)train on total energies ``labels[level][i]`` (eV, None = missing), then
        recalibrate the spread on the validation split (when it holds ``min_calibration``
        structures). ``warm_start`` continues from the current weights and references, and
        keeps them when no epoch beats them on the validation split; otherwise (or without a
        model) starts afresh. Pass every label so far, not only the new ones: a warm start on
        the new labels alone forgets the old ones."""
        unknown = sorted(set(labels) - set(self._ladder.names))
        if unknown:
            raise ConfigError(f"validator.fit: levels {unknown} are not on the ladder")
        for level, values in labels.items():
            if len(values) != len(structures):
                raise ConfigError(
                    f"validator.fit: {len(values)} labels at {level} for {len(structures)} "
                    "structures"
                )
        self._check_references(structures)
        columns = [labels.get(name) for name in self._ladder.names]
        n_levels = len(columns)
        label_sets = []
        for i in range(len(structures)):
            energy = np.array([_value(c, i) for c in columns])
            no_forces: tuple[np.ndarray | None, ...] = (None,) * n_levels
            label_sets.append(Labels(energy, no_forces, np.full((n_levels, 3, 3), np.nan)))
        config = self._config_for(structures)
        samples = prepare_samples(structures, config, label_sets)
        warm = self.model is not None and warm_start
        model = self.model if warm and self.model is not None else None
        if model is None:
            model = initialise_model(config, samples, self._reference_mu())
            if self.device is not None:
                model.to(self.device)
        self.model = model
        result = train_model(model, samples, self._ladder, self.train_config, start_competes=warm)
        self.last_fit, self.shrinkage = result, {}  # training reset every correction factor to 1
        held_out = [samples[i] for i in result.val_indices]
        if held_out and len(held_out) >= self.min_calibration:
            if self.shrink_corrections:
                self.shrinkage = shrink_corrections(model, held_out)
            self.calibration = calibrate_model(model, held_out)
        trained_on = result.train_indices or list(range(len(structures)))
        if len(trained_on) >= 2:
            self.fit_domain([structures[i] for i in trained_on])

    def _check_references(self, structures: Sequence[Atoms]) -> None:
        """ConfigError before any training when an element has no reference at some level:
        every prediction (the fit's own applicability domain included) needs them all."""
        elements = {s for a in structures for s in a.get_chemical_symbols()}
        missing = {
            level: sorted(elements - set(refs.mu)) for level, refs in self.references.items()
        }
        missing = {level: els for level, els in missing.items() if els}
        if missing:
            raise ConfigError(
                f"validator.fit: no elemental reference for {missing}: leave out the structures "
                "with those elements or add their references "
                "(qaware.validator.data_references.frames_with_references)"
            )

    def _reference_mu(self) -> dict[str, dict[str, float]]:
        """``{level: {element: eV/atom}}`` of the elemental references (the μ prior)."""
        return {level: dict(refs.mu) for level, refs in self.references.items()}

    def _config_for(self, structures: Sequence[Atoms]) -> ModelConfig:
        if self.model is not None:
            return self.model.config
        if self.model_config is not None:
            return replace(self.model_config, levels=self._ladder.names)
        seen = sorted({s for atoms in structures for s in atoms.get_chemical_symbols()})
        return ModelConfig(levels=self._ladder.names, species=tuple(seen))

    # ---- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> str:
        """Checkpoint with ladder, references and calibration; returns its sha256."""
        meta: dict[str, Any] = {
            "ladder": [
                {"name": f.name, "weight": f.weight, "cost": f.cost, "kind": f.kind}
                for f in self._ladder
            ],
            "elemental_references": {k: v.to_dict() for k, v in self.references.items()},
            "calibration": {k: vars(v) for k, v in self.calibration.items()},
            "correction_shrinkage": {k: vars(v) for k, v in self.shrinkage.items()},
        }
        if self.domain is not None:
            meta["domain"] = self.domain.to_dict()
        return save_checkpoint(self._require_model(), path, metadata=meta)

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> MFValidator:
        """A validator from :meth:`save`'s checkpoint (sha256 checked)."""
        model, meta = load_checkpoint(path)
        try:
            ladder = FidelityLadder(tuple(Fidelity(**f) for f in meta["ladder"]))
            refs = {
                k: ElementalReferences.from_dict(v) for k, v in meta["elemental_references"].items()
            }
        except KeyError as exc:
            raise ConfigError(f"{path}: checkpoint metadata lacks {exc.args[0]!r}") from None
        validator = cls(ladder, refs, model=model, **kwargs)
        validator.calibration = {
            level: LevelCalibration(**values)
            for level, values in meta.get("calibration", {}).items()
        }
        validator.shrinkage = {
            level: CorrectionShrinkage(**values)
            for level, values in meta.get("correction_shrinkage", {}).items()
        }
        if "domain" in meta:
            validator.domain = ApplicabilityDomain.from_dict(meta["domain"])
        return validator
