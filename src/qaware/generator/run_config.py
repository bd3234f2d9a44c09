"""The ``qaware train-generator`` YAML: data, output, model size and optimisation settings.

Example (paths relative to the YAML file)::

    data: [../shared/data/perov_5/val.csv]   # CDVAE CSV (cif column) or extxyz files
    output: runs/generator                    # model.pt, last.pt (resumable), history.jsonl
    steps: 4000
    batch_size: 64
    seed: 0
    descriptor_keys: []                       # atoms.info keys concatenated into q
    model: {hidden: 128, layers: 4}

Unknown keys fail with their path (:func:`qaware.config_io.validate_yaml`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from qaware.generator.denoiser import DenoiserConfig
from qaware.generator.diffusion import DiffusionConfig
from qaware.generator.train import TrainConfig

__all__ = ["GeneratorModelSettings", "GeneratorTrainSettings", "load_train_generator_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeneratorModelSettings(_Strict):
    hidden: int = Field(128, ge=8, description="Denoiser width.")
    layers: int = Field(4, ge=1, description="Message-passing layers.")
    cond_dropout: float = Field(0.15, ge=0, le=1, description="Condition drop probability.")
    csp_fraction: float = Field(0.5, ge=0, le=1, description="Share of CSP (clean-species) rows.")


class GeneratorTrainSettings(_Strict):
    data: list[Path] = Field(description="CDVAE CSV (cif column) or extxyz files.", min_length=1)
    output: Path = Field(Path("runs/generator"), description="Output directory.")
    steps: int = Field(4000, ge=1, description="Optimisation steps.")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    seed: int = 0
    checkpoint_every: int = Field(250, ge=1, description="Steps between resumable checkpoints.")
    max_minutes: float | None = Field(None, gt=0, description="Stop early after this wall time.")
    descriptor_keys: list[str] = Field(default_factory=list, description="atoms.info keys of q.")
    device: str = Field("cpu", description="cpu, cuda, cuda:N or auto (a GPU if torch sees one).")
    model: GeneratorModelSettings = Field(default_factory=GeneratorModelSettings)

    def resolved(self, base: Path) -> GeneratorTrainSettings:
        """A copy whose relative paths are taken from ``base`` (the YAML file's folder)."""
        return self.model_copy(
            update={
                "data": [p if p.is_absolute() else base / p for p in self.data],
                "output": self.output if self.output.is_absolute() else base / self.output,
            }
        )

    def train_config(self, *, progress: bool = True) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            checkpoint_every=self.checkpoint_every,
            descriptor_keys=tuple(self.descriptor_keys),
            progress=progress,
            max_seconds=None if self.max_minutes is None else 60.0 * self.max_minutes,
            device=self.device,
        )

    def diffusion_config(self) -> DiffusionConfig:
        m = self.model
        return DiffusionConfig(
            denoiser=DenoiserConfig(hidden=m.hidden, layers=m.layers),
            cond_dropout=m.cond_dropout,
            csp_fraction=m.csp_fraction,
        )


def load_train_generator_config(path: str | Path) -> GeneratorTrainSettings:
    """Read and validate the YAML; paths inside are relative to it."""
    from qaware.config_io import read_yaml_text, validate_yaml

    text = read_yaml_text(path, "train-generator config")
    settings = validate_yaml(
        text, GeneratorTrainSettings, source=str(path), what="train-generator config"
    )
    return settings.resolved(Path(path).resolve().parent)
