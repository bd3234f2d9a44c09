"""Scan continuity: a data-set gate on bond-stretch scans, applied when the data set is exported.

An SCF can converge to an excited or wrong-occupation solution that passes every per-call gate
(convergence, internal stability): Track M's ZnO stretch at r = 1.961 Å came out 4.8 eV above the
point before it. Along a scan at fixed charge and multiplicity the true energy is a smooth curve
(kinks at avoided crossings, no jumps), so each point is compared with the parabola through the
three nearest *other* points of its scan; where one is more than :data:`SCAN_JUMP_EV` off, the
point to blame is gated (:func:`scan_outliers`) and the check repeats without it. Scans with
fewer than five good points cannot be checked and are left as they are.

The tolerance is ~7x the largest residual of the good points of Track M's PBE and r2SCAN scans
(0.14 eV, CO₂; the spacing is 0.03-0.1 Å) and ~4x below the jump it was made for.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from ase import Atoms

from qaware.oracles.gates import GATES_FAILED
from qaware.oracles.result import OracleResult

__all__ = ["GATE", "SCAN_JUMP_EV", "gate_scan_results", "scan_key", "scan_outliers"]

GATE = "scan_continuity"
SCAN_JUMP_EV = 1.0
_MIN_POINTS = 5


def _residuals(r: np.ndarray, e: np.ndarray, alive: Sequence[int]) -> dict[int, float]:
    """Each point's energy minus the parabola through the three nearest other alive points."""
    out = {}
    for i in alive:
        others = sorted((j for j in alive if j != i), key=lambda j: (abs(r[j] - r[i]), j))[:3]
        if len(others) == 3 and len({r[j] for j in others}) == 3:
            out[i] = float(e[i] - np.polyval(np.polyfit(r[others], e[others], 2), r[i]))
    return out


def _worst(residuals: Mapping[int, float]) -> float:
    return max((abs(v) for v in residuals.values()), default=0.0)


def scan_outliers(
    coordinates: Sequence[float], energies: Sequence[float], tol: float = SCAN_JUMP_EV
) -> dict[int, float]:
    """{index: residual (eV)} of the points that jump off the curve of the others.

    While some point lies more than ``tol`` off the parabola of its three nearest neighbours,
    the point whose removal leaves the smoothest rest (smallest largest residual) is gated; a
    wrong point spoils its neighbours' residuals too, so the largest residual alone would
    often pick a good neighbour. Telling which point is wrong takes five points.
    """
    r = np.asarray(coordinates, dtype=float)
    e = np.asarray(energies, dtype=float)
    if r.shape != e.shape or r.ndim != 1:
        raise ValueError(f"coordinates {r.shape} and energies {e.shape} must be equal 1-D arrays")
    alive = list(range(len(r)))
    out: dict[int, float] = {}
    while len(alive) >= _MIN_POINTS:
        residuals = _residuals(r, e, alive)
        if _worst(residuals) <= tol:
            break
        rest = {i: _worst(_residuals(r, e, [j for j in alive if j != i])) for i in residuals}
        culprit = min(rest, key=lambda i: (rest[i], -abs(residuals[i])))
        out[culprit] = residuals[culprit]
        alive.remove(culprit)
    return out


def scan_key(atoms: Atoms) -> Hashable | None:
    """Which scan a structure belongs to (None: not a scan point): recipe tag, formula, scan
    name, charge and multiplicity."""
    info = atoms.info
    if "scan_coordinate" not in info or "scan" not in info:
        return None
    formula = info.get("formula") or atoms.get_chemical_formula()
    return (info.get("tag"), formula, info["scan"], info.get("charge"), info.get("multiplicity"))


def gate_scan_results(
    structures: Sequence[Atoms], results: Mapping[int, OracleResult], tol: float = SCAN_JUMP_EV
) -> dict[int, OracleResult]:
    """``results`` (structure index -> one level's result) with scan outliers gated: ``ok`` False,
    reason ``scan_continuity: ...``, the gate added to ``diagnostics["gates_failed"]``, the energy
    kept for inspection. Results that are not ok and non-scan structures pass unchanged."""
    scans: dict[Hashable, list[int]] = {}
    for i, res in results.items():
        key = scan_key(structures[i])
        if key is not None and res.ok:
            scans.setdefault(key, []).append(i)
    out = dict(results)
    for members in scans.values():
        coords = [float(structures[i].info["scan_coordinate"]) for i in members]
        energies = [float(results[i].energy) for i in members]  # type: ignore[arg-type]
        for k, residual in scan_outliers(coords, energies, tol).items():
            i = members[k]
            out[i] = _gated(results[i], residual, coords[k], tol)
    return out


def _gated(result: OracleResult, residual: float, coordinate: float, tol: float) -> OracleResult:
    diagnostics: dict[str, Any] = dict(result.diagnostics)
    diagnostics[GATES_FAILED] = [*diagnostics.get(GATES_FAILED, []), GATE]
    diagnostics["scan_residual_ev"] = residual
    reason = (
        f"{GATE}: {residual:+.2f} eV off the curve of its scan's other points at "
        f"{coordinate:.3f} (tolerance {tol:.1f} eV): another SCF solution"
    )
    return replace(result, ok=False, reason=reason, diagnostics=diagnostics)
