"""Scan-continuity gate: a point off its scan's curve is gated, smooth curves and kinks are not."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from qaware.datasets.export import PairOutcome, gate_scans
from qaware.datasets.scan_check import GATE, gate_scan_results, scan_key, scan_outliers
from qaware.oracles.gates import GATES_FAILED
from qaware.oracles.result import OracleResult

# Track M's ZnO stretch at PBE/def2-SVP (Å, eV), as the build computed it: the last point is an
# excited SCF solution that passed the convergence and stability gates.
ZNO_R = [1.5686, 1.61975, 1.6709, 1.705, 1.7391, 1.79025, 1.85845, 1.96075]
ZNO_E = [
    -50445.123804430914,
    -50445.313380023385,
    -50445.39407739035,
    -50445.40058125922,
    -50445.376804787054,
    -50445.29602201448,
    -50445.126755708145,
    -50440.330480673634,
]


def _morse(r: np.ndarray, d: float = 1.6, a: float = 2.0, r0: float = 1.7) -> np.ndarray:
    return d * (1 - np.exp(-a * (r - r0))) ** 2 - d


def test_the_zno_point_is_the_only_one_gated():
    out = scan_outliers(ZNO_R, ZNO_E)
    assert list(out) == [7]
    assert out[7] == pytest.approx(4.4, abs=0.3)


def test_a_jump_in_the_middle_of_a_morse_scan_is_found_wherever_it_is():
    r = np.linspace(1.5, 2.1, 9)
    for k in range(len(r)):
        e = _morse(r)
        e[k] += 2.0
        assert list(scan_outliers(r, e)) == [k]


def test_smooth_curves_kinks_and_short_scans_pass():
    r = np.linspace(1.4, 2.4, 10)
    assert scan_outliers(r, _morse(r)) == {}
    kink = np.minimum(_morse(r), _morse(r, d=1.2, r0=1.9) + 0.15)  # an avoided crossing
    assert scan_outliers(r, kink) == {}
    assert scan_outliers(ZNO_R[-4:], ZNO_E[-4:]) == {}  # four points: cannot tell which
    with pytest.raises(ValueError, match="equal 1-D"):
        scan_outliers([1.0, 2.0], [1.0])


def _point(r: float, formula: str = "ZnO", **info: object) -> Atoms:
    atoms = Atoms(formula, positions=[[0, 0, 0], [0, 0, r]])
    atoms.info.update({"tag": "monoxide", "scan": "stretch", "scan_coordinate": r,
                       "charge": 0, "multiplicity": 1, **info})  # fmt: skip
    return atoms


def _ok(e: float) -> OracleResult:
    return OracleResult(ok=True, level="PBE", energy=e, diagnostics={GATES_FAILED: []})


def test_gated_results_keep_their_energy_and_say_why():
    structures = [_point(r) for r in ZNO_R] + [Atoms("O2", positions=[[0, 0, 0], [0, 0, 1.2]])]
    results = {i: _ok(e) for i, e in enumerate(ZNO_E)}
    results[8] = _ok(-4000.0)  # not a scan point
    results[3] = OracleResult.failure("PBE", "scf_not_converged")
    out = gate_scan_results(structures, results)
    bad = out[7]
    assert not bad.ok and bad.reason.startswith(GATE) and "1.961" in bad.reason
    assert bad.energy == ZNO_E[7] and bad.diagnostics[GATES_FAILED] == [GATE]
    assert all(out[i] is results[i] for i in range(9) if i != 7)
    assert scan_key(structures[8]) is None
    assert scan_key(structures[0]) != scan_key(_point(1.7, multiplicity=3))


def test_export_gates_scans_level_by_level():
    structures = [_point(r) for r in ZNO_R]
    outcomes = [PairOutcome(i, "PBE", f"k{i}", _ok(e)) for i, e in enumerate(ZNO_E)]
    outcomes += [PairOutcome(i, "CCSD(T)", f"c{i}", _ok(e)) for i, e in enumerate(ZNO_E[:7])]
    outcomes.append(PairOutcome(7, "CCSD(T)", "c7", None))  # pending
    gated = gate_scans(structures, outcomes)
    not_ok = [(o.level, o.structure) for o in gated if o.result is not None and not o.result.ok]
    assert not_ok == [("PBE", 7)]
    assert gated[-1].result is None
