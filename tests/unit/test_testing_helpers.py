"""The conformance checks in qaware.testing must catch broken implementations (fakes here)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from qaware.oracles.result import OracleResult
from qaware.testing import (
    assert_energy_invariant,
    assert_forces_match_finite_differences,
    check_generator,
    check_oracle,
)


@dataclass(frozen=True)
class _EMTOracle:
    """Minimal oracle for testing the checker (the real one is qaware.oracles.ase_calculator)."""

    level: str = "EMT"
    break_forces: bool = False
    break_level: bool = False

    def settings_hash(self) -> str:
        return hashlib.sha256(f"emt{self.break_forces}".encode()).hexdigest()

    def compute(self, atoms: Atoms) -> OracleResult:
        a = atoms.copy()
        a.calc = EMT()
        forces = a.get_forces()
        if self.break_forces:
            forces = forces[:-1]
        return OracleResult(
            ok=True,
            level="other" if self.break_level else self.level,
            energy=a.get_potential_energy(),
            forces=forces if not self.break_forces else np.zeros((len(atoms) + 1, 3)),
            settings_hash=self.settings_hash(),
        )


def _cu() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=1)
    return atoms


def test_check_oracle_accepts_a_correct_oracle():
    result = check_oracle(_EMTOracle(), _cu())
    assert result.ok and result.forces.shape == (4, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"break_forces": True}, "forces shape"), ({"break_level": True}, "level")],
)
def test_check_oracle_rejects_broken_oracles(kwargs, match):
    with pytest.raises(AssertionError, match=match):
        check_oracle(_EMTOracle(**kwargs), _cu())


def _emt_energy_forces(atoms: Atoms):
    a = atoms.copy()
    a.calc = EMT()
    return a.get_potential_energy(), a.get_forces()


def test_finite_difference_helper_passes_emt_and_catches_wrong_sign():
    atoms = _cu()
    assert_forces_match_finite_differences(_emt_energy_forces, atoms, atoms_to_check=[0, 1])

    def wrong_sign(a):
        e, f = _emt_energy_forces(a)
        return e, -f

    with pytest.raises(AssertionError, match="finite difference"):
        assert_forces_match_finite_differences(wrong_sign, atoms, atoms_to_check=[0])


def test_invariance_helper_passes_emt_and_catches_a_non_invariant_energy():
    atoms = _cu()
    assert_energy_invariant(lambda a: _emt_energy_forces(a)[0], atoms, atol=1e-6)
    with pytest.raises(AssertionError, match="energy changes"):
        assert_energy_invariant(lambda a: float(a.positions[0, 0]), atoms)


class _SeededGenerator:
    def __init__(self, deterministic: bool = True) -> None:
        self.deterministic = deterministic
        self.calls = 0

    def sample(self, n, *, seed, conditions=None):
        self.calls += 1
        rng = np.random.default_rng(seed if self.deterministic else self.calls)
        return [
            Atoms("Cu2", positions=rng.random((2, 3)) * 3, cell=[3, 3, 3], pbc=True)
            for _ in range(n)
        ]


def test_check_generator_requires_reproducible_seeds():
    assert len(check_generator(_SeededGenerator())) == 4
    with pytest.raises(AssertionError, match="same seed"):
        check_generator(_SeededGenerator(deterministic=False))
