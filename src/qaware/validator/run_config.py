"""The YAML file of ``qaware train-validator``: data, ladder, references, split, model, training.

Unknown keys fail with their path (``model.chanels: unknown key, did you mean 'channels'?``).
Relative paths are relative to the YAML file. Example (the quick-start model's settings)::

    data: [perov_standin.extxyz.gz]          # extxyz with energy_<k>/forces_<k>/stress_<k> labels
    references: references.json           # {level: ElementalReferences.to_dict()}, or
                                          # {from_tags: [ref:element]}: the data's own cells
    ladder:                               # lowest first; the last level is the top
      - {name: GGA+U@SevenNet-MF-0, weight: 0.5, cost: 1, kind: stand-in}
      - {name: r2SCAN@SevenNet-MF-0, weight: 1.0, cost: 3, kind: stand-in}
    split: {group_key: tag, test_groups: [X3=ONF], validation_groups: [X3=ON2]}
    calibration: {method: validation}     # or {method: cross_family, folds: 4}
    model: {l_max: 1, channels: 8, n_layers: 2, cutoff: 5.0}
    train: {epochs: 60, batch_size: 16, max_seconds: 300, seed: 0}
    output: validator.pt
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qaware.fidelity import Fidelity, FidelityLadder
from qaware.validator.config import ModelConfig
from qaware.validator.loss import LossWeights
from qaware.validator.train import TrainConfig

__all__ = ["TrainValidatorConfig", "load_train_validator_config"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LevelSection(_Section):
    """One ladder level (see :class:`qaware.fidelity.Fidelity`)."""

    name: str
    weight: float = Field(1.0, gt=0, description="Loss weight of the level.")
    cost: float = Field(1.0, gt=0, description="Relative cost of one oracle call.")
    kind: Literal["first-principles", "stand-in", "experiment", "empirical"] = "first-principles"


class SplitSection(_Section):
    """Held-out families: ``test_groups`` never train; validation takes whole families."""

    group_key: str = Field("tag", description="info key naming each frame's family.")
    test_groups: list[str] = Field(default_factory=list, description="Families held out.")
    validation_fraction: float = Field(0.1, ge=0, lt=1)
    validation_groups: list[str] | None = Field(
        None, description="Families for validation; null: drawn by validation_fraction."
    )


class CalibrationSection(_Section):
    """How σ is calibrated: on the validation families (one training), or ``cross_family``:
    K more models each predicting families it never saw
    (:mod:`qaware.validator.cross_calibration`; better when families are few or the top
    level is sparsely labelled, at K extra trainings)."""

    method: Literal["validation", "cross_family"] = "validation"
    shrink_corrections: bool = Field(
        False,
        description="Δ heads: scale each upper level's learned correction by a factor in "
        "[0, 1] fitted on the data σ is calibrated on (the validation families, or with "
        "cross_family the K models' out-of-family predictions), before σ is.",
    )
    folds: int = Field(4, ge=2, description="cross_family: folds of families.")
    always_train: list[str] = Field(
        default_factory=list, description="cross_family: families never held out."
    )


class ModelSection(_Section):
    """Architecture (fields of :class:`qaware.validator.ModelConfig`; levels from the ladder)."""

    species: list[str] = Field(default_factory=list, description="[]: the data's elements.")
    cutoff: float = Field(5.0, gt=0, description="Å")
    n_basis: int = Field(8, ge=1)
    envelope_p: int = Field(6, ge=2)
    l_max: int = Field(1, ge=0, le=2)
    channels: int = Field(16, ge=1)
    n_layers: int = Field(2, ge=1)
    radial_hidden: int = Field(32, ge=1)
    n_conditioned_blocks: int = Field(1, ge=0)
    fidelity_dim: int = Field(8, ge=1)
    readout_hidden: int = Field(16, ge=1)
    n_heads: int = Field(4, ge=1)
    head_hidden: int = Field(16, ge=1)
    gradient_stopping: bool = True
    residual_levels: bool = Field(
        True, description="Δ-learning: each level predicts a correction to the level below."
    )
    seed: int = 0

    def to_model_config(self, levels: tuple[str, ...], species: tuple[str, ...]) -> ModelConfig:
        """The ModelConfig; ``species`` is used when the section lists none."""
        values = self.model_dump()
        listed = tuple(values.pop("species"))
        return ModelConfig(levels=levels, species=listed or species, **values)


class LossSection(_Section):
    energy: float = Field(10.0, ge=0, description="per (eV/atom)^2")
    forces: float = Field(1.0, ge=0, description="per (eV/Å)^2")
    stress: float = Field(100.0, ge=0, description="per (eV/Å^3)^2")


class TrainSection(_Section):
    """Optimisation (fields of :class:`qaware.validator.TrainConfig`)."""

    epochs: int = Field(100, ge=1)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(3e-3, gt=0)
    patience: int = Field(15, ge=1)
    bootstrap: bool = True
    max_grad_norm: float | None = 10.0
    max_seconds: float | None = Field(None, gt=0, description="Wall-clock cap of training.")
    seed: int = 0
    device: str = Field("cpu", description="cpu, cuda, cuda:N or auto (a GPU if torch sees one).")
    loss: LossSection = Field(default_factory=LossSection)

    def to_train_config(self, validation_fraction: float) -> TrainConfig:
        values = self.model_dump(exclude={"loss"})
        return TrainConfig(
            loss=LossWeights(**self.loss.model_dump()),
            validation_fraction=validation_fraction,
            **values,
        )


class ReferencesFromData(_Section):
    """μ per level from the data's own single-element frames with one of these ``info["tag"]``
    values (a data set's element cells or isolated atoms; :func:`references_from_frames`)."""

    from_tags: list[str] = Field(min_length=1, description="Tags of the reference frames.")


class TrainValidatorConfig(_Section):
    """Everything ``qaware train-validator`` needs (see the module docstring)."""

    data: list[Path] = Field(min_length=1, description="Labelled extxyz files.")
    references: Path | ReferencesFromData = Field(
        description="Elemental references: a JSON file, one entry per level, or "
        "{from_tags: [...]}, the data's own single-element frames with those tags."
    )
    ladder: list[LevelSection] = Field(min_length=1, description="Levels, lowest first.")
    split: SplitSection = Field(default_factory=SplitSection)
    calibration: CalibrationSection = Field(default_factory=CalibrationSection)
    model: ModelSection = Field(default_factory=ModelSection)
    train: TrainSection = Field(default_factory=TrainSection)
    output: Path = Field(Path("validator.pt"), description="Checkpoint to write.")

    def fidelity_ladder(self) -> FidelityLadder:
        return FidelityLadder(tuple(Fidelity(**lv.model_dump()) for lv in self.ladder))

    def resolved(self, base_dir: str | Path) -> TrainValidatorConfig:
        """A copy with relative paths taken from ``base_dir`` (the YAML file's folder)."""
        base = Path(base_dir)
        out = self.model_copy(deep=True)
        out.data = [p if p.is_absolute() else base / p for p in self.data]
        if isinstance(self.references, Path) and not self.references.is_absolute():
            out.references = base / self.references
        out.output = self.output if self.output.is_absolute() else base / self.output
        return out


def load_train_validator_config(path: str | Path) -> TrainValidatorConfig:
    """Read and validate the YAML; paths resolved relative to its folder. ConfigError names the
    file, line and key of every problem."""
    from qaware.config_io import read_yaml_text, validate_yaml

    text = read_yaml_text(path, "train-validator config")
    config = validate_yaml(
        text, TrainValidatorConfig, source=str(path), what="train-validator config"
    )
    return config.resolved(Path(path).resolve().parent)
