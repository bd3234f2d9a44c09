"""Plug-in contracts: what an oracle, a validator, a generator and a store must provide.

Each protocol has a conformance check in :mod:`qaware.testing` (``check_oracle`` ...) that every
implementation's tests call, so a new backend is held to the same rules as the built-ins.
Structures cross every boundary as :class:`ase.Atoms`; tensors stay inside models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from ase import Atoms

from qaware.fidelity import FidelityLadder
from qaware.oracles.result import OracleResult

__all__ = [
    "CandidateRecord",
    "Oracle",
    "Prediction",
    "Store",
    "StructureGenerator",
    "Validator",
]


@runtime_checkable
class Oracle(Protocol):
    """Labels one structure at one level of theory.

    ``compute`` never raises for a physics failure: it returns ``OracleResult(ok=False,
    reason=...)``. Oracles must be picklable *specs* (settings, not open handles) so that an
    executor can ship them to another process or a SLURM job.
    """

    @property
    def level(self) -> str:
        """Fidelity name this oracle labels (e.g. ``"CCSD(T)"``, ``"r2SCAN@SevenNet-MF-0"``)."""
        ...

    def settings_hash(self) -> str:
        """Stable hash of every setting that changes the answer (code, version, method...)."""
        ...

    def compute(self, atoms: Atoms) -> OracleResult:
        """Run the calculation on ``atoms`` and report the outcome."""
        ...


@dataclass
class Prediction:
    """A validator's answer for ``n`` structures on a ladder of ``L`` levels.

    energy_per_atom:      level -> (n,) eV/atom, total energy divided by atom count.
    e_form_per_atom:      level -> (n,) eV/atom, referenced formation energy (DESIGN.md §3).
    e_form_std_per_atom:  level -> (n,) eV/atom, calibrated 1-σ uncertainty of e_form.
    embedding:            (n, d) invariant structure embedding, used for diversity.
    domain_distance:      (n,) distance to the nearest training structure in units of the
                          training cloud's edge (> 1: outside what the validator was trained
                          on, its numbers are extrapolations); None if it does not know.
    """

    energy_per_atom: dict[str, np.ndarray]
    e_form_per_atom: dict[str, np.ndarray]
    e_form_std_per_atom: dict[str, np.ndarray]
    embedding: np.ndarray
    domain_distance: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.embedding.shape[0])


@runtime_checkable
class Validator(Protocol):
    """Predicts every fidelity of a ladder, with uncertainty, for many structures at once."""

    @property
    def ladder(self) -> FidelityLadder: ...

    def predict(self, structures: Sequence[Atoms]) -> Prediction: ...

    def fit(
        self,
        structures: Sequence[Atoms],
        labels: Mapping[str, Sequence[float | None]],
        *,
        warm_start: bool = True,
    ) -> None:
        """(Re)train on ``labels[level][i]``: total energy (eV) of structure i, None if missing."""
        ...


@runtime_checkable
class StructureGenerator(Protocol):
    """Proposes candidate structures; ``seed`` makes a call reproducible."""

    def sample(
        self,
        n: int,
        *,
        seed: int,
        conditions: Mapping[str, Any] | None = None,
    ) -> list[Atoms]: ...


@dataclass
class CandidateRecord:
    """One candidate row of a campaign store (see :mod:`qaware.store`)."""

    id: int
    atoms: Atoms
    status: str
    cycle: int
    structure_hash: str
    key_value_pairs: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Store(Protocol):
    """Persistent campaign state. Only the driver process writes; each call commits."""

    def add_candidates(
        self,
        structures: Sequence[Atoms],
        *,
        cycle: int,
        origin: str = "",
        hashes: Sequence[str] | None = None,
    ) -> list[int]:
        """Insert new candidates (status generated); a known structure hash returns its id."""
        ...

    def set_status(
        self,
        ids: Sequence[int],
        status: str,
        *,
        fields: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None: ...

    def get(self, candidate_id: int) -> CandidateRecord: ...

    def candidates(
        self, *, status: str | None = None, cycle: int | None = None
    ) -> Iterator[CandidateRecord]: ...

    def count(self, *, status: str | None = None, cycle: int | None = None) -> int: ...

    def summary(self) -> dict[int, dict[str, int]]:
        """Candidates per cycle and status."""
        ...

    def begin_call(
        self,
        candidate_id: int | None,
        atoms: Atoms,
        *,
        oracle_key: str,
        level: str,
        handle: str = "",
    ) -> int:
        """Record an oracle call as submitted (``handle``: executor job id for re-attaching)."""
        ...

    def record_result(
        self, candidate_id: int | None, oracle_key: str, result: OracleResult
    ) -> None:
        """Complete (or create) the call row of ``oracle_key`` with ``result``: done or failed."""
        ...

    def find_result(self, oracle_key: str) -> OracleResult | None:
        """The stored *successful* result of ``oracle_key``; failures are never served."""
        ...
