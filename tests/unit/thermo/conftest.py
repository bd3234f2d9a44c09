"""A tiny EMT oracle for the thermo tests (a real ASE calculator, wrapped to the Oracle contract).

Test-local on purpose: ``qaware.oracles.ase_calculator`` is written in parallel; this stand-in only
needs ``level``, ``settings_hash`` and a ``compute`` that never raises.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from ase import Atoms
from ase.calculators.emt import EMT

from qaware.oracles.result import OracleResult


@dataclass(frozen=True)
class EMTOracle:
    """EMT total energies; elements EMT lacks come back as ``ok=False`` with the exception."""

    level: str = "EMT"
    tag: str = "default"

    def settings_hash(self) -> str:
        return "e" * 15 + ("1" if self.tag == "default" else "2")

    def compute(self, atoms: Atoms) -> OracleResult:
        atoms = atoms.copy()
        atoms.calc = EMT()
        try:
            energy = float(atoms.get_potential_energy())
        except Exception as exc:  # an oracle reports, never raises
            return OracleResult.failure(
                self.level, f"exception: {exc!r}", settings_hash=self.settings_hash()
            )
        return OracleResult(
            ok=True,
            level=self.level,
            energy=energy,
            code="ase-emt",
            settings_hash=self.settings_hash(),
        )


@pytest.fixture
def emt() -> EMTOracle:
    return EMTOracle()
