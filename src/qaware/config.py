"""Typed run configuration: pydantic models, validated from YAML, unknown keys refused.

One :class:`QawareConfig` describes a whole run. Every section is a model with
``extra="forbid"``, so a typo such as ``campaign.budgte`` fails with its full key path and a
suggestion instead of being silently ignored. Loading, error formatting and the commented
template live in :mod:`qaware.config_io`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qaware._canonical import canonical_sha256
from qaware.errors import ConfigError
from qaware.execution import ExecutionSettings
from qaware.fidelity import DEFAULT_LADDER, Fidelity, FidelityLadder, LevelKind

__all__ = [
    "AcquisitionSettings",
    "CampaignSettings",
    "FidelitySpec",
    "GeneratorSettings",
    "OracleSpec",
    "QawareConfig",
    "RunSettings",
    "ScreeningSettings",
    "StoreSettings",
    "ValidatorSettings",
    "config_hash",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class RunSettings(_Section):
    name: str = Field(
        "qaware-run", description="Campaign name; rows in a shared store are keyed by it."
    )
    directory: Path = Field(
        Path("qaware-runs/qaware-run"),
        description="Run directory (config, campaign.db, events.jsonl, cycles/, models/, report/).",
    )
    seed: int = Field(0, description="Master seed: every random choice of the run derives from it.")


class StoreSettings(_Section):
    url: str | None = Field(
        None,
        description="null: SQLite file campaign.db in the run directory; or postgresql://user@host:port/db.",
    )
    reuse: list[str] = Field(
        default_factory=list,
        description="Run directories (earlier campaigns, data-set builds) whose finished oracle "
        "calls this run copies instead of recomputing: same structure, same oracle settings.",
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, v: str | None) -> str | None:
        if v is not None and not (v.startswith("postgresql://") or v.endswith(".db")):
            raise ValueError("must be null, a postgresql:// URL or a path ending in .db")
        return v


class FidelitySpec(_Section):
    name: str = Field(description="Level name: 'PBE', or 'theory@code' for a stand-in.")
    weight: float = Field(1.0, gt=0, description="Loss weight in multi-fidelity training.")
    cost: float = Field(1.0, gt=0, description="Relative cost of one call (cost-aware budgets).")
    kind: LevelKind = Field(
        "first-principles", description="first-principles | stand-in | experiment | empirical"
    )

    def to_fidelity(self) -> Fidelity:
        return Fidelity(self.name, weight=self.weight, cost=self.cost, kind=self.kind)


def _default_fidelities() -> list[FidelitySpec]:
    return [
        FidelitySpec(name=f.name, weight=f.weight, cost=f.cost, kind=f.kind) for f in DEFAULT_LADDER
    ]


class OracleSpec(_Section):
    level: str = Field(description="Ladder level this oracle labels.")
    kind: Literal["pyscf", "gpaw", "ase", "pretrained", "replay"] = Field(
        description="Backend: pyscf (molecules), gpaw (crystals), ase (any ASE calculator), "
        "pretrained (SevenNet-MF-0 / CHGNet stand-ins), replay (a recorded table)."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Backend settings (method, basis, cutoff, k-density...)."
    )
    timeout_s: float = Field(
        3600.0, gt=0, description="Per-call wall-time limit; the call is killed past it."
    )
    max_retries: int = Field(1, ge=0, description="Retries of a failed call before quarantine.")
    isolate: bool | None = Field(
        None,
        description="Run each call in its own child process, killed past timeout_s (null: yes "
        "for pyscf, gpaw and ase; no for pretrained, whose model stays loaded, and replay).",
    )


class ScreeningSettings(_Section):
    min_distance: float = Field(
        0.5, gt=0, description="Reject structures with atoms closer than this (Å)."
    )
    max_atoms: int | None = Field(
        200, ge=1, description="Reject structures with more atoms (null: no cap)."
    )
    charge_balanced: bool = Field(
        False,
        description="Reject generated crystals that fail SMACT's charge-neutrality and "
        "electronegativity test (CDVAE's compositional validity; metal alloys pass).",
    )


class GeneratorSettings(_Section):
    kind: Literal["diffusion", "substitution", "random_symmetric", "pool"] = Field(
        "diffusion",
        description="diffusion (the trained model), substitution or random_symmetric (the "
        "baselines), or pool (draw candidates from 'structures' without replacement).",
    )
    checkpoint: str | None = Field(
        None, description="diffusion: model file; null: the bundled quick-start model."
    )
    structures: list[str] = Field(
        default_factory=list,
        description="substitution: known structures to substitute; pool: the candidate pool "
        "(CIF, extxyz or CDVAE CSV files).",
    )
    compositions: list[str] = Field(
        default_factory=list, description="random_symmetric: formulas to build, e.g. SrTiO3."
    )
    elements: list[str] | None = Field(
        None, description="Allowed elements of generated candidates (null: the model's own)."
    )
    space_group: int | None = Field(None, ge=1, le=230, description="Keep one space group.")
    max_atoms: int | None = Field(20, ge=1, description="Largest primitive cell generated.")
    descriptors: str | None = Field(
        None,
        description="Target descriptor vector q for diffusion guidance: a JSON file with the "
        "vector, or a structure file (CIF, extxyz, ...) whose proxy-predicted q, averaged over "
        "its structures, is the target ('more like these'; needs 'proxy').",
    )
    proxy: str | None = Field(
        None,
        description="Descriptor proxy checkpoint (qaware.descriptors.DescriptorProxy): turns a "
        "structure file in 'descriptors' into q, and gives the hits their q when a "
        "descriptor-conditioned generator is fine-tuned on them (without it the hits' "
        "condition is dropped).",
    )
    lam: float = Field(0.0, ge=0, description="Guidance strength λ (0: unconditional).")
    fine_tune_steps: int = Field(
        100, ge=0, description="Optimiser steps when the generator is fine-tuned on hits."
    )
    device: str = Field(
        "cpu",
        description="diffusion: where it samples and fine-tunes (cpu, cuda, cuda:N or auto). "
        "The same seed draws the same noise on every device.",
    )


class ValidatorSettings(_Section):
    checkpoint: str | None = Field(
        None, description="MF-ENNP checkpoint; null: the bundled quick-start model."
    )
    low_level: str | None = Field(
        None, description="Level that D compares with the top one (null: the cheapest level)."
    )
    training_data: list[str] = Field(
        default_factory=list,
        description="Labelled structure files (extxyz, energy_<LEVEL> in info: what the "
        "checkpoint was trained on) replayed in every retraining beside the run's labels, so a "
        "warm start does not forget them; also known structures for novelty.",
    )
    retrain_epochs: int = Field(20, ge=0, description="Epochs of each warm-start retraining.")
    retrain_max_seconds: float = Field(120.0, gt=0, description="Wall-time cap of one retraining.")
    device: str = Field(
        "cpu",
        description="Where the validator predicts and retrains: cpu, cuda, cuda:N or auto "
        "(a GPU if torch sees one). Results on a GPU differ from the CPU's in the last digits.",
    )


class CampaignSettings(_Section):
    max_cycles: int = Field(20, ge=1, description="Hard cap on active-learning cycles.")
    budget: int = Field(100, ge=1, description="Top-fidelity oracle calls the campaign may spend.")
    candidates_per_cycle: int = Field(200, ge=1, description="Structures generated per cycle.")
    batch_size: int = Field(
        8, ge=1, description="Candidates sent to the top-fidelity oracle per cycle."
    )
    patience: int = Field(
        3, ge=1, description="Stop after this many consecutive cycles without a discovery."
    )
    hit_threshold: float = Field(
        0.0, description="E_hull (eV/atom) at or below which a result is a hit."
    )
    retrain_validator_every: int = Field(
        1, ge=1, description="Retrain the validator every N cycles."
    )
    retrain_generator_every: int = Field(
        5, ge=1, description="Fine-tune the generator every N cycles."
    )
    hull_seeds: list[str] = Field(
        default_factory=list,
        description="Known compounds (structure files) labelled at the top level to build the "
        "hull; they are not counted against the budget.",
    )
    known_structures: list[str] = Field(
        default_factory=list,
        description="Structure files a discovery must differ from (training data), besides "
        "the hull seeds.",
    )
    calibration_structures: list[str] = Field(
        default_factory=list,
        description="Held-out structures (not training data) that the top oracle labels to "
        "check the validator's calibration before cycle 1; empty: the checkpoint's own record.",
    )
    reference_structures: list[str] = Field(
        default_factory=list,
        description="Structure files of elemental reference cells (one structure per element, "
        "that element only), used instead of the built-in ones: needed for elements without a "
        "built-in cell (Mn, Ga, In, As, Sb, Bi, Te, lanthanides...); a data set's ref:element "
        "cells fit.",
    )
    reference_kind: Literal["periodic", "molecular"] | None = Field(
        None,
        description="Elemental reference states (null: periodic cells for crystals, atoms and "
        "half-diatomics for molecules and clusters).",
    )
    stability_window: float | None = Field(
        0.1,
        description="Only score candidates whose predicted top-level E_hull minus 2σ is at "
        "most this (eV/atom); null: no filter.",
    )
    max_calibration_error: float = Field(
        0.1,
        gt=0,
        le=1,
        description="Refuse to start while the validator's top-level ECE is at or above this.",
    )
    min_calibration_structures: int = Field(
        10,
        ge=1,
        description="Apply the calibration gate only when the ECE was measured on at least "
        "this many top-level structures (fewer: a warning, no gate).",
    )


class AcquisitionSettings(_Section):
    strategy: Literal["qaware", "divergence", "uncertainty", "dft_only", "random"] = Field(
        "qaware", description="qaware = w_D·D + w_U·U; the others are the baselines."
    )
    divergence: Literal["signed", "absolute", "relative"] = Field(
        "signed",
        description="D_signed (top finds x more stable than low), D_abs or D_rel (DESIGN.md §3).",
    )
    weight_divergence: float = Field(0.7, ge=0, description="w_D in S = w_D·D + w_U·U.")
    weight_uncertainty: float = Field(0.3, ge=0, description="w_U in S = w_D·D + w_U·U.")
    shortlist: int | None = Field(
        5000,
        ge=1,
        description="Scores are written to the store for this many best candidates per cycle "
        "(the rest stay 'generated' and are rescored next cycle); null: every candidate.",
    )
    min_diversity: float = Field(
        0.0, ge=0, description="Minimum embedding distance between two picks of a batch."
    )
    feasibility: bool = Field(
        False,
        description="Rank by rank(S) × P(the top-level call succeeds), P learned per reduced "
        "formula from the failed, timed-out and gated calls so far (acquisition.feasibility). "
        "For ladders whose top level often fails its gates (CCSD(T) on 3d-metal oxides).",
    )

    @model_validator(mode="after")
    def _weights_not_both_zero(self) -> AcquisitionSettings:
        if self.weight_divergence + self.weight_uncertainty <= 0:
            raise ValueError("weight_divergence + weight_uncertainty must be > 0")
        return self


class QawareConfig(_Section):
    """A whole run: run, store, fidelities, oracles, screening, generator, validator, campaign,
    acquisition, execution."""

    run: RunSettings = Field(default_factory=RunSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    fidelities: list[FidelitySpec] = Field(
        default_factory=_default_fidelities, description="The ladder, cheapest level first."
    )
    oracles: list[OracleSpec] = Field(
        default_factory=list, description="One oracle per level that is paid for."
    )
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)
    generator: GeneratorSettings = Field(default_factory=GeneratorSettings)
    validator: ValidatorSettings = Field(default_factory=ValidatorSettings)
    campaign: CampaignSettings = Field(default_factory=CampaignSettings)
    acquisition: AcquisitionSettings = Field(default_factory=AcquisitionSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)

    @model_validator(mode="after")
    def _consistent(self) -> QawareConfig:
        for i, level in enumerate(self.fidelities):  # name the level a ladder check refuses
            try:
                level.to_fidelity()
            except ConfigError as exc:
                raise ValueError(f"fidelities.{i}.name: {exc}") from None
        try:
            ladder = self.ladder()  # empty, or duplicate names
        except ConfigError as exc:
            raise ValueError(f"fidelities: {exc}") from None
        for i, spec in enumerate(self.oracles):
            if spec.level not in ladder:
                raise ValueError(
                    f"oracles.{i}.level: {spec.level!r} is not a fidelity; "
                    f"levels are {list(ladder.names)}"
                )
        low = self.validator.low_level
        if low is not None and low not in ladder:
            raise ValueError(
                f"validator.low_level: {low!r} is not a fidelity; levels are {list(ladder.names)}"
            )
        return self

    def ladder(self) -> FidelityLadder:
        return FidelityLadder(tuple(f.to_fidelity() for f in self.fidelities))


def config_hash(config: QawareConfig) -> str:
    """sha256 of the canonical JSON of the resolved config (what `resume` compares)."""
    return canonical_sha256(config.model_dump(mode="json"))
