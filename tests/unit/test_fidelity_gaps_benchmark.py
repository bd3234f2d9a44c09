"""benchmarks/fidelity_gaps.py: the basis-set gap pairs the TZVP subset with Track M by hash."""

from __future__ import annotations

import pytest
from ase import Atoms


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("fidelity_gaps")


def _frames(key: str, energies: dict[str, float]) -> list[Atoms]:
    """Atoms H and O (tag atom) and two water geometries, ok at ``key`` with these energies."""
    frames = {
        "H": Atoms("H"),
        "O": Atoms("O"),
        "w1": Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]),
        "w2": Atoms("OH2", positions=[[0, 0, 0], [1.0, 0, 0], [-0.25, 0.97, 0]]),
    }
    out = []
    for name, atoms in frames.items():
        atoms.info.update(structure_hash=f"hash-{name}", tag="atom" if len(atoms) == 1 else "mol")
        if name in energies:
            atoms.info.update({f"status_{key}": "ok", f"energy_{key}": energies[name]})
            atoms.info[f"settings_hash_{key}"] = "s"  # every export records its oracle's
        else:
            atoms.info[f"status_{key}"] = "pending"
        out.append(atoms)
    return out


def test_basis_gap_is_tzvp_minus_svp_formation_energy_over_shared_structures(bench):
    svp = {"H": -13.0, "O": -2040.0, "w1": -2076.0, "w2": -2075.7}  # w1 e_form -10/3 eV/atom
    tzvp = {"H": -13.5, "O": -2042.0, "w1": -2079.6}  # w1: -10.6/3 eV/atom, w2 pending
    gap = bench.basis_gap(_frames("CCSD_T_def2_SVP", svp), _frames("CCSD_T_def2_TZVP", tzvp))
    assert gap["n"] == 1  # w2 has no TZVP label; the atoms are references, not compared
    assert gap["mean_signed"] == pytest.approx(-0.2, abs=1e-9)
    assert gap["max_at"]["structure_hash"] == "hash-w1"


def test_basis_gap_says_when_a_level_is_missing(bench):
    assert bench.basis_gap(_frames("PBE_def2_SVP", {"H": -1.0}), _frames("X", {}))["n"] == 0
