"""gates.py: each sanity gate, and apply_gates' effect on a result."""

from __future__ import annotations

import math

import pytest

from qaware.oracles.gates import (
    GATES_FAILED,
    GateSettings,
    apply_gates,
    check_multireference,
    check_spin_contamination,
    gate_failures,
)
from qaware.oracles.result import OracleResult

CLEAN_OPEN_SHELL = {
    "scf_converged": True,
    "scf_stable": True,
    "ccsd_converged": True,
    "s2": 6.02,
    "s2_expected": 6.0,
    "open_shell": True,
    "t1": 0.03,
    "d1": 0.10,
    "e_scf": -36379.5,
    "e_corr": -14.1,
    "e_t": -0.6,
}


def _result(**diag) -> OracleResult:
    return OracleResult(ok=True, level="CCSD(T)", energy=-1.0, diagnostics={**diag})


def test_clean_result_passes_and_records_no_failed_gate():
    result = apply_gates(_result(**CLEAN_OPEN_SHELL), GateSettings())
    assert result.ok
    assert result.reason == ""
    assert result.diagnostics[GATES_FAILED] == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"scf_converged": False}, "scf_not_converged"),
        ({"ccsd_converged": False}, "ccsd_not_converged"),
        ({"scf_stable": False}, "scf_unstable"),
        ({"s2": 6.83}, "spin_contamination: <S^2>=6.8300 expected 6.0000"),
        ({"t1": 0.098}, "multireference: T1=0.0980 > 0.045 (open shell)"),
        ({"d1": 0.56}, "multireference: D1=0.5600 > 0.15 (open shell)"),
        ({"e_corr": math.nan}, "non_finite_energy: e_corr=nan"),
    ],
)
def test_each_gate_rejects_with_a_reason_naming_it(change, reason):
    result = apply_gates(_result(**{**CLEAN_OPEN_SHELL, **change}), GateSettings())
    assert not result.ok
    assert result.reason.startswith(reason)
    assert result.energy == -1.0, "the rejected energy is kept for inspection"
    assert result.diagnostics["s2_expected"] == 6.0, "diagnostics are kept"


def test_closed_shell_thresholds_are_tighter_than_open_shell():
    diag = {**CLEAN_OPEN_SHELL, "t1": 0.03, "d1": 0.04}
    assert check_multireference(diag, GateSettings()) is None
    closed = {**diag, "open_shell": False}
    assert check_multireference(closed, GateSettings()) == (
        "multireference: T1=0.0300 > 0.02 (closed shell)"
    )


def test_spin_gate_threshold_is_configurable_and_none_switches_it_off():
    diag = {"s2": 0.7553, "s2_expected": 0.75}
    assert check_spin_contamination(diag, GateSettings()) is None
    assert check_spin_contamination(diag, GateSettings(s2_tolerance=1e-3)) is not None
    assert check_spin_contamination({**diag, "s2": 9.0}, GateSettings(s2_tolerance=None)) is None
    assert check_spin_contamination({"s2": math.nan, "s2_expected": 0.75}, GateSettings())


def test_absent_diagnostics_do_not_gate():
    """An EMT or xTB result has no s2/T1: nothing to check, nothing rejected."""
    assert gate_failures({}, GateSettings()) == []


def test_every_failed_gate_is_listed_first_one_is_the_reason():
    diag = {**CLEAN_OPEN_SHELL, "scf_converged": False, "s2": 7.0, "t1": 0.2}
    result = apply_gates(_result(**diag))
    assert result.reason == "scf_not_converged"
    failed = result.diagnostics[GATES_FAILED]
    assert len(failed) == 3
    assert failed[1].startswith("spin_contamination")


def test_an_earlier_failure_keeps_its_own_reason():
    failed = OracleResult.failure("PBE", "timeout", diagnostics={"s2": 9.0, "s2_expected": 2.0})
    result = apply_gates(failed)
    assert result.reason == "timeout"
    assert result.diagnostics[GATES_FAILED][0].startswith("spin_contamination")


def test_gate_settings_are_frozen():
    with pytest.raises(AttributeError):
        GateSettings().s2_tolerance = 1.0  # type: ignore[misc]
