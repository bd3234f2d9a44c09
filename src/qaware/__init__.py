"""qaware: quantum-aware materials discovery.

Public API. Importing qaware touches no disk and no network, and imports no heavy backend.
"""

from qaware.errors import (
    ConfigError,
    InvalidStructureError,
    MissingDependencyError,
    OracleError,
    QawareError,
    RunDirectoryError,
    StateTransitionError,
    StoreError,
)
from qaware.fidelity import DEFAULT_LADDER, Fidelity, FidelityLadder
from qaware.oracles.result import OracleResult
from qaware.protocols import (
    CandidateRecord,
    Oracle,
    Prediction,
    Store,
    StructureGenerator,
    Validator,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "DEFAULT_LADDER",
    "CandidateRecord",
    "ConfigError",
    "Fidelity",
    "FidelityLadder",
    "InvalidStructureError",
    "MissingDependencyError",
    "Oracle",
    "OracleError",
    "OracleResult",
    "Prediction",
    "QawareError",
    "RunDirectoryError",
    "StateTransitionError",
    "Store",
    "StoreError",
    "StructureGenerator",
    "Validator",
    "__version__",
]
