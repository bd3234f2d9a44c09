"""MF-ENNP: the multi-fidelity equivariant potential that scores candidates (DESIGN.md §4).

Needs the ``validator`` extra (e3nn); importing :mod:`qaware` itself never imports this package.

Typical use::

    validator = MFValidator(ladder, references)  # references: level -> ElementalReferences
    validator.fit(structures, {"PBE": [...], "CCSD(T)": [...]})
    prediction = validator.predict(candidates)        # every level, σ, embedding
    atoms.calc = validator.calculator("CCSD(T)")       # ASE calculator at one level
"""

from __future__ import annotations

try:
    import e3nn  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the environment
    from qaware.errors import MissingDependencyError

    raise MissingDependencyError("e3nn", "validator", "The MF-ENNP validator") from _exc

from qaware.validator.atomic_energies import fit_energy_scales, fit_reference_energies
from qaware.validator.calculator import QawareCalculator
from qaware.validator.calibration import (
    CONFIDENCE_LEVELS,
    calibrated_std,
    fit_std_affine,
    fit_std_scale,
    interval_coverage,
    regression_ece,
    reliability_diagram,
)
from qaware.validator.checkpoint import load_checkpoint, save_checkpoint
from qaware.validator.config import ModelConfig
from qaware.validator.data import Labels, read_labels
from qaware.validator.graph import AtomicGraph, batch_graph
from qaware.validator.loss import LossWeights, multi_fidelity_loss
from qaware.validator.mf_validator import MFValidator
from qaware.validator.model import MFENNP, ModelOutput
from qaware.validator.neighbours import NeighbourList, neighbour_list
from qaware.validator.run_config import TrainValidatorConfig, load_train_validator_config
from qaware.validator.train import (
    WARM_START,
    EpochLog,
    TrainConfig,
    TrainResult,
    evaluate,
    initialise_model,
    prepare_samples,
    split_indices,
    train,
)
from qaware.validator.uncertainty import LevelCalibration, calibrate_model
from qaware.validator.workflow import (
    FamilySplit,
    HeldOutReport,
    TrainedValidator,
    family_split,
    held_out_report,
    load_references,
    read_frames,
    train_on_frames,
)

__all__ = [
    "CONFIDENCE_LEVELS",
    "MFENNP",
    "WARM_START",
    "AtomicGraph",
    "EpochLog",
    "FamilySplit",
    "HeldOutReport",
    "Labels",
    "LevelCalibration",
    "LossWeights",
    "MFValidator",
    "ModelConfig",
    "ModelOutput",
    "NeighbourList",
    "QawareCalculator",
    "TrainConfig",
    "TrainResult",
    "TrainValidatorConfig",
    "TrainedValidator",
    "batch_graph",
    "calibrate_model",
    "calibrated_std",
    "evaluate",
    "family_split",
    "fit_energy_scales",
    "fit_reference_energies",
    "fit_std_affine",
    "fit_std_scale",
    "held_out_report",
    "initialise_model",
    "interval_coverage",
    "load_checkpoint",
    "load_references",
    "load_train_validator_config",
    "multi_fidelity_loss",
    "neighbour_list",
    "prepare_samples",
    "read_frames",
    "read_labels",
    "regression_ece",
    "reliability_diagram",
    "save_checkpoint",
    "split_indices",
    "train",
    "train_on_frames",
]
