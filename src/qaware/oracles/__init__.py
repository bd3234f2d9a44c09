"""Oracles: real calculations (PySCF, GPAW, ASE calculators), pretrained stand-ins, replays.

Every oracle is a picklable spec with ``level``, ``settings_hash()`` and ``compute(atoms)``
(the :class:`qaware.Oracle` protocol). Names resolve lazily: importing this package loads no
quantum-chemistry code.
"""

from __future__ import annotations

import importlib
from typing import Any

from qaware.oracles.result import OracleResult

_LAZY = {
    "ASECalculatorOracle": "qaware.oracles.ase_calculator",
    "GPAWOracle": "qaware.oracles.gpaw_periodic",
    "GateSettings": "qaware.oracles.gates",
    "OracleRunner": "qaware.oracles.runner",
    "PretrainedOracle": "qaware.oracles.pretrained",
    "PySCFOracle": "qaware.oracles.pyscf_molecular",
    "ReplayOracle": "qaware.oracles.replay",
    "apply_gates": "qaware.oracles.gates",
    "build_oracle": "qaware.oracles.factory",
    "cached_compute": "qaware.oracles.runner",
    "run_with_timeout": "qaware.oracles.base",
    "settings_hash": "qaware.oracles.base",
}

__all__ = ["OracleResult", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qaware.oracles' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
