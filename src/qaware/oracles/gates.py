"""Sanity gates: decide whether an oracle result may be stored as truth (DESIGN.md §4).

A reported convergence is not enough on open-shell 3d-metal species: non-converged UCCSD,
spin-contaminated UHF/UKS and multireference CCSD(T) all give plausible-looking numbers. Each
gate is a pure function of a result's ``diagnostics`` and a :class:`GateSettings`; a gate whose
diagnostic is absent does not apply (an EMT result has no ``s2``). :func:`apply_gates` returns
the result with ``ok=False`` and a reason naming the first failed gate; every failed gate is
listed in ``diagnostics["gates_failed"]`` and all diagnostics are kept either way.

Thresholds chosen here (all configurable, ``None`` switches a gate off):

* ``|<S^2> - S(S+1)| <= 0.1`` on the SCF (HF reference or KS) determinant.
* T1 ≤ 0.02 for closed shells (Lee & Taylor, IJQC S23, 199 (1989)); T1 ≤ 0.045 for open shells
  (the looser open-shell value of Rienstra-Kiracofe, Allen & Schaefer, JPCA 104, 9823 (2000)).
* D1 ≤ 0.05 for closed shells (Janssen & Nielsen, CPL 290, 423 (1998)); D1 ≤ 0.15 for open
  shells (Jiang, DeYonker & Wilson, JPCA 116, 870 (2012) use T1 > 0.05 / D1 > 0.15 as the
  multireference flags for 3d-metal species).

T1/D1 are cheap indicators, not proof: a result that passes is single-reference-like, one that
fails should be redone with a multireference method, not stored as CCSD(T) truth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np

from qaware.oracles.result import OracleResult

__all__ = [
    "CCSD_CONVERGED",
    "D1",
    "ENERGY_TERMS",
    "GATES_FAILED",
    "OPEN_SHELL",
    "S2",
    "S2_EXPECTED",
    "SCF_CONVERGED",
    "SCF_STABLE",
    "T1",
    "GateSettings",
    "apply_gates",
    "check_ccsd_converged",
    "check_finite_energies",
    "check_multireference",
    "check_scf_converged",
    "check_scf_stable",
    "check_spin_contamination",
    "gate_failures",
    "is_gated",
    "state_context",
    "t1_d1",
]

# Diagnostic keys the gates read (oracles write them).
SCF_CONVERGED: Final[str] = "scf_converged"  # bool
SCF_STABLE: Final[str] = "scf_stable"  # bool: internal stability analysis found no lower solution
CCSD_CONVERGED: Final[str] = "ccsd_converged"  # bool
S2: Final[str] = "s2"  # <S^2> of the SCF determinant (dimensionless)
S2_EXPECTED: Final[str] = "s2_expected"  # S(S+1) of the requested spin state
OPEN_SHELL: Final[str] = "open_shell"  # bool: 2S > 0
T1: Final[str] = "t1"  # T1 diagnostic of the CCSD amplitudes
D1: Final[str] = "d1"  # D1 diagnostic of the CCSD amplitudes
ENERGY_TERMS: Final[tuple[str, ...]] = ("e_scf", "e_corr", "e_t")  # eV parts of the total
GATES_FAILED: Final[str] = "gates_failed"


@dataclass(frozen=True)
class GateSettings:
    """Thresholds of the sanity gates; ``None`` (or ``False``) switches a gate off."""

    require_scf_converged: bool = True
    require_scf_stable: bool = True
    require_ccsd_converged: bool = True
    s2_tolerance: float | None = 0.1
    t1_max_closed_shell: float | None = 0.02
    t1_max_open_shell: float | None = 0.045
    d1_max_closed_shell: float | None = 0.05
    d1_max_open_shell: float | None = 0.15


def _is_false(diagnostics: Mapping[str, Any], key: str) -> bool:
    return key in diagnostics and diagnostics[key] is not None and not bool(diagnostics[key])


def check_finite_energies(diagnostics: Mapping[str, Any], settings: GateSettings) -> str | None:
    """Fail when a recorded energy term (``e_scf``, ``e_corr``, ``e_t``) is NaN or infinite."""
    for key in ENERGY_TERMS:
        value = diagnostics.get(key)
        if value is not None and not math.isfinite(float(value)):
            return f"non_finite_energy: {key}={value}"
    return None


def check_scf_converged(diagnostics: Mapping[str, Any], settings: GateSettings) -> str | None:
    if settings.require_scf_converged and _is_false(diagnostics, SCF_CONVERGED):
        return "scf_not_converged"
    return None


def check_scf_stable(diagnostics: Mapping[str, Any], settings: GateSettings) -> str | None:
    if settings.require_scf_stable and _is_false(diagnostics, SCF_STABLE):
        return "scf_unstable: a lower SCF solution exists and restarts did not reach it"
    return None


def check_ccsd_converged(diagnostics: Mapping[str, Any], settings: GateSettings) -> str | None:
    if settings.require_ccsd_converged and _is_false(diagnostics, CCSD_CONVERGED):
        return "ccsd_not_converged"
    return None


def check_spin_contamination(diagnostics: Mapping[str, Any], settings: GateSettings) -> str | None:
    """Fail when ``|<S^2> - S(S+1)|`` exceeds ``settings.s2_tolerance``."""
    s2, expected = diagnostics.get(S2), diagnostics.get(S2_EXPECTED)
    if settings.s2_tolerance is None or s2 is None or expected is None:
        return None
    if not abs(float(s2) - float(expected)) <= settings.s2_tolerance:  # NaN fails too
        return f"spin_contamination: <S^2>={float(s2):.4f} expected {float(expected):.4f}"
    return None


def check_multireference(diagnostics: Mapping[str, Any], settings: GateSettings) -> str | None:
    """Fail when T1 or D1 exceeds its closed-/open-shell threshold (multireference character)."""
    open_shell = bool(diagnostics.get(OPEN_SHELL, False))
    shell = "open shell" if open_shell else "closed shell"
    limits = {
        T1: settings.t1_max_open_shell if open_shell else settings.t1_max_closed_shell,
        D1: settings.d1_max_open_shell if open_shell else settings.d1_max_closed_shell,
    }
    for key, limit in limits.items():
        value = diagnostics.get(key)
        if limit is None or value is None:
            continue
        if not float(value) <= limit:
            return f"multireference: {key.upper()}={float(value):.4f} > {limit} ({shell})"
    return None


_GATES = (
    check_finite_energies,
    check_scf_converged,
    check_scf_stable,
    check_ccsd_converged,
    check_spin_contamination,
    check_multireference,
)


def state_context(two_s: int) -> dict[str, Any]:
    """What the gates need to know of the requested spin state (2S unpaired electrons):
    whether it is open shell, and the ⟨S²⟩ it should have, S(S+1)."""
    s = 0.5 * two_s
    return {OPEN_SHELL: two_s > 0, S2_EXPECTED: s * (s + 1)}


def gate_failures(diagnostics: Mapping[str, Any], settings: GateSettings) -> list[str]:
    """Reasons of every failed gate, in the order checked (empty when all pass)."""
    reasons = (gate(diagnostics, settings) for gate in _GATES)
    return [r for r in reasons if r is not None]


def is_gated(result: OracleResult | None) -> bool:
    """A result a sanity gate refused: a verdict of the calculation, not a transient failure."""
    return result is not None and bool(result.diagnostics.get(GATES_FAILED))


def apply_gates(result: OracleResult, settings: GateSettings | None = None) -> OracleResult:
    """Return ``result`` with ``ok=False`` and the first failed gate as ``reason``.

    A result that already failed keeps its own reason. Energies and diagnostics are kept so a
    rejected calculation can be inspected; ``ok=False`` is what forbids storing it as truth.
    """
    settings = settings or GateSettings()
    failed = gate_failures(result.diagnostics, settings)
    diagnostics = {**result.diagnostics, GATES_FAILED: failed}
    if not failed or not result.ok:
        return replace(result, diagnostics=diagnostics)
    return replace(result, ok=False, reason=failed[0], diagnostics=diagnostics)


def t1_d1(t1: Any) -> tuple[float, float]:
    """T1 and D1 diagnostics of CCSD singles amplitudes.

    Closed shell (``t1`` one (nocc, nvir) array): Lee-Taylor T1 = ||t1|| / sqrt(N_corr) and
    Janssen-Nielsen D1 = largest singular value of t1. Open shell (a (t1α, t1β) pair):
    T1 = sqrt((||t1α||² + ||t1β||²) / (2 N_corr)) and D1 = max of the two spin blocks' largest
    singular values; both reduce to the closed-shell values when t1α = t1β.
    """
    blocks = [np.asarray(t) for t in t1] if isinstance(t1, tuple | list) else [np.asarray(t1)]
    if len(blocks) == 1:
        t = blocks[0]
        return float(np.linalg.norm(t) / math.sqrt(2 * t.shape[0])), _sv_max(t)
    n_corr = sum(t.shape[0] for t in blocks)
    norm2 = sum(float(np.linalg.norm(t)) ** 2 for t in blocks)
    return math.sqrt(norm2 / (2 * n_corr)), max(_sv_max(t) for t in blocks)


def _sv_max(t: Any) -> float:
    return float(np.linalg.norm(t, 2)) if t.size else 0.0
