"""What an oracle returns: one calculation's outcome, success or failure, with its provenance."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["OracleResult"]


@dataclass
class OracleResult:
    """Outcome of one oracle call on one structure.

    energy:    total energy, eV (None when ``ok`` is False or the method gives none).
    forces:    (n_atoms, 3) eV/Å, or None.
    stress:    (6,) Voigt order xx, yy, zz, yz, xz, xy, eV/Å^3 (ASE convention), or None.
    descriptors: named descriptor vectors (``dos``, ``elf``, ``response``), each a 1-D array.
    level:     ladder level this result labels (``CCSD(T)``, ``r2SCAN@SevenNet-MF-0``).
    code, code_version, settings_hash: what produced it, exactly.
    wall_time_s, peak_memory_mb: measured cost of the call.
    diagnostics: free-form scalars (``scf_converged``, ``s2``, ``t1``, ``n_scf_cycles``...).
    ok / reason: False with a short machine-readable reason (``timeout``, ``scf_not_converged``,
               ``spin_contamination``, ``exception: ...``) when it must not be used as truth.
    """

    ok: bool
    level: str
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    descriptors: dict[str, np.ndarray] = field(default_factory=dict)
    code: str = ""
    code_version: str = ""
    settings_hash: str = ""
    wall_time_s: float = 0.0
    peak_memory_mb: float | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    def __post_init__(self) -> None:
        if self.ok and (self.energy is None or not math.isfinite(self.energy)):
            # A success without a finite energy is a failure: say so instead of storing NaN.
            self.ok = False
            self.reason = self.reason or "non_finite_energy"
        if self.forces is not None:
            self.forces = np.asarray(self.forces, dtype=float).reshape(-1, 3)
            if self.ok and not np.all(np.isfinite(self.forces)):
                self.ok, self.reason = False, self.reason or "non_finite_forces"
        if self.stress is not None:
            self.stress = np.asarray(self.stress, dtype=float).reshape(6)
        self.descriptors = {k: np.asarray(v, dtype=float) for k, v in self.descriptors.items()}

    @classmethod
    def failure(cls, level: str, reason: str, **kwargs: Any) -> OracleResult:
        """A failed call: never stored as truth, always counted as a spent call."""
        return cls(ok=False, level=level, reason=reason, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON/ase.db friendly dict (arrays become nested lists)."""
        d = asdict(self)
        for key in ("forces", "stress"):
            if d[key] is not None:
                d[key] = np.asarray(d[key]).tolist()
        d["descriptors"] = {k: np.asarray(v).tolist() for k, v in self.descriptors.items()}
        d["diagnostics"] = _jsonable(self.diagnostics)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OracleResult:
        d = dict(d)
        for key in ("forces", "stress"):
            if d.get(key) is not None:
                d[key] = np.asarray(d[key], dtype=float)
        d["descriptors"] = {
            k: np.asarray(v, dtype=float) for k, v in d.get("descriptors", {}).items()
        }
        return cls(**d)


def _jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays inside diagnostics into plain Python values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
