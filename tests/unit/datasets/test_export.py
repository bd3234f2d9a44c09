"""Export: every level's outcome survives the extxyz round trip under its sanitised key, and the
README counts, lists every pair that is not ok, and checksums the file it describes."""

from __future__ import annotations

import hashlib

import ase.io
import numpy as np
import pytest
from ase import Atoms

from qaware.datasets import PairOutcome, export_dataset, outcome_status, parse_dataset_spec
from qaware.oracles.result import OracleResult

SPEC = """\
name: mini
description: two molecules, three levels
structures: [unused.extxyz]
oracles:
  - {level: PBE, kind: ase, settings: {calculator: "ase.calculators.emt:EMT"}}
  - {level: CCSD(T), kind: ase, settings: {calculator: "ase.calculators.emt:EMT"}}
  - {level: r2SCAN@SevenNet-MF-0, kind: ase, settings: {calculator: "ase.calculators.emt:EMT"}}
"""


class NamedOracle:
    def __init__(self, level: str) -> None:
        self.level = level

    def settings_hash(self) -> str:
        return hashlib.sha256(self.level.encode()).hexdigest()


def ok(level: str, energy: float, n: int, **more) -> OracleResult:
    fields = dict(code="fake", code_version="1.0.0", settings_hash="ab" * 32, wall_time_s=2.0,
                  peak_memory_mb=100.0)  # fmt: skip
    fields.update(more)
    forces = np.arange(3.0 * n).reshape(n, 3)
    return OracleResult(ok=True, level=level, energy=energy, forces=forces, **fields)


@pytest.fixture
def exported(tmp_path):
    spec = parse_dataset_spec(SPEC).resolved(tmp_path)
    h2o = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    h2o.info.update(tag="ref", geometry_index=3, multiplicity=1, note={"not": "scalar"})
    co = Atoms("CO", positions=[[0, 0, 0], [1.13, 0, 0]])
    structures, hashes = [h2o, co], ["hash-h2o", "hash-co"]
    gated = OracleResult.failure(
        "CCSD(T)", "multireference: T1 0.06 > 0.045", code="fake", wall_time_s=30.0,
        diagnostics={"gates_failed": ["t1"], "t1": 0.06},
    )  # fmt: skip
    outcomes = [
        PairOutcome(0, "PBE", "k1", ok("PBE", -10.5, 3, stress=np.arange(6.0),
                    diagnostics={"s2": 0.0, "converged": True, "scan": {"1": -1.0, "3": -2.0},
                                 "gates_failed": [], "solver": 'diis "then" newton'},
                    descriptors={"dos": np.linspace(0, 1, 5)}), 1),
        PairOutcome(0, "CCSD(T)", "k2", gated, 2),
        PairOutcome(1, "PBE", "k3", OracleResult.failure("PBE", "timeout", wall_time_s=9.0), 2),
        PairOutcome(1, "CCSD(T)", "k4", ok("CCSD(T)", -20.25, 2, wall_time_s=4.0), 1),
        PairOutcome(1, "r2SCAN@SevenNet-MF-0", "k5", None, 1),
    ]  # fmt: skip
    oracles = [NamedOracle(o.level) for o in spec.oracles]
    files = export_dataset(spec, structures, hashes, oracles, outcomes, command="qaware x y")
    return files, outcomes


def test_statuses():
    assert outcome_status(PairOutcome(0, "a", "k", None)) == "pending"
    assert outcome_status(PairOutcome(0, "a", "k", ok("a", 1.0, 1))) == "ok"
    gated = OracleResult.failure("a", "x", diagnostics={"gates_failed": ["s2"]})
    assert outcome_status(PairOutcome(0, "a", "k", gated)) == "gated"
    assert outcome_status(PairOutcome(0, "a", "k", OracleResult.failure("a", "x"))) == "failed"


def test_frames_round_trip_through_extxyz(exported):
    (extxyz, _), _ = exported
    assert extxyz.name == "mini.extxyz"
    h2o, co = ase.io.read(extxyz, index=":")
    assert h2o.get_chemical_formula() == "H2O" and co.get_chemical_formula() == "CO"
    assert h2o.info["structure_hash"] == "hash-h2o" and h2o.info["tag"] == "ref"
    assert h2o.info["geometry_index"] == 3 and "note" not in h2o.info
    # ok PBE on H2O: energy, forces, stress, flattened diagnostics, descriptors, provenance
    assert h2o.info["energy_PBE"] == -10.5 and h2o.info["e_ok_PBE"] is True
    np.testing.assert_allclose(h2o.arrays["forces_PBE"], np.arange(9.0).reshape(3, 3))
    np.testing.assert_allclose(h2o.info["stress_PBE"], np.arange(6.0))
    assert h2o.info["diag_s2_PBE"] == 0.0 and h2o.info["diag_converged_PBE"] is True
    assert h2o.info["diag_scan_3_PBE"] == -2.0
    assert h2o.info["diag_solver_PBE"] == "diis 'then' newton"
    np.testing.assert_allclose(h2o.info["desc_dos_PBE"], np.linspace(0, 1, 5))
    assert h2o.info["code_version_PBE"] == "1.0.0" and h2o.info["settings_hash_PBE"] == "ab" * 32
    # gated CCSD(T) on H2O: listed with its reason, no energy
    assert h2o.info["status_CCSD_T"] == "gated" and h2o.info["e_ok_CCSD_T"] is False
    assert "energy_CCSD_T" not in h2o.info and "forces_CCSD_T" not in h2o.arrays
    assert h2o.info["reason_CCSD_T"] == "multireference: T1 0.06 > 0.045"
    assert "status_r2SCAN_at_SevenNet_MF_0" not in h2o.info  # not in that level's pairs
    # CO: failed PBE, ok CCSD(T), pending stand-in
    assert co.info["status_PBE"] == "failed" and co.info["reason_PBE"] == "timeout"
    assert co.info["energy_CCSD_T"] == -20.25
    assert co.info["status_r2SCAN_at_SevenNet_MF_0"] == "pending"


def test_readme_counts_lists_and_checksums(exported):
    (extxyz, readme), _ = exported
    text = readme.read_text()
    assert "```\nqaware x y\n```" in text
    assert "| PBE | `PBE` | 2 | 1 | 1 | 0 | 0 |" in text
    assert "| CCSD(T) | `CCSD_T` | 2 | 1 | 0 | 1 | 0 |" in text
    assert "| r2SCAN@SevenNet-MF-0 | `r2SCAN_at_SevenNet_MF_0` | 1 | 0 | 0 | 0 | 1 |" in text
    problems = [
        line for line in text.splitlines() if line.startswith("| 0 |") or line.startswith("| 1 |")
    ]
    assert len(problems) == 3  # gated, failed, pending: none dropped
    assert any("gated | 2 | multireference: T1 0.06 > 0.045" in p for p in problems)
    assert any("| PBE | failed | 2 | timeout |" in p for p in problems)
    assert any("pending | 1 | not computed yet |" in p for p in problems)
    digest = hashlib.sha256(extxyz.read_bytes()).hexdigest()
    assert f"| `mini.extxyz` | `{digest}` |" in text
    # timing: PBE has a 2 s ok and a 9 s timeout; peak memory where recorded
    assert "| PBE | 2 | 5.50 | 5.50 | 9.00 | 0.003 | 100 |" in text
    assert "| r2SCAN@SevenNet-MF-0 | 0 |" in text
    assert f"settings hash: `{NamedOracle('CCSD(T)').settings_hash()}`" in text


def test_compressed_export_is_reproducible_and_readable(tmp_path, exported):
    (plain, _), outcomes = exported
    spec = parse_dataset_spec(SPEC + "compress: true\n").resolved(plain.parent)
    h2o = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    co = Atoms("CO", positions=[[0, 0, 0], [1.13, 0, 0]])
    oracles = [NamedOracle(o.level) for o in spec.oracles]
    args = (spec, [h2o, co], ["hash-h2o", "hash-co"], oracles, outcomes)
    gz, readme = export_dataset(*args, command="c")
    assert gz.name == "mini.extxyz.gz" and not plain.exists()  # the stale plain file is gone
    first = gz.read_bytes()
    assert export_dataset(*args, command="c")[0].read_bytes() == first  # no timestamp inside
    frames = ase.io.read(gz, index=":")
    assert [f.info["structure_hash"] for f in frames] == ["hash-h2o", "hash-co"]
    assert frames[1].info["energy_CCSD_T"] == -20.25
    text = readme.read_text()
    assert f"| `mini.extxyz.gz` | `{hashlib.sha256(first).hexdigest()}` |" in text
    assert "2 structures, one extxyz frame each, in `mini.extxyz.gz`." in text
