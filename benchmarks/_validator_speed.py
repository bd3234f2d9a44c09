"""The speed measurements of the validator benchmarks: energy + forces per call against
SevenNet-MF-0 and batched scoring throughput (out of validator.py: one concept per file).

Used by ``benchmarks/validator.py`` (its trained model) and ``benchmarks/validator_speed.py``
(several architectures in one run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from ase import Atoms

TIMED_KEYS = ("positions", "numbers", "cell", "pbc")


def speed_cells() -> dict[str, Atoms]:
    """The issue's two cells: 64-atom rock-salt MgO and 5-atom cubic SrTiO3."""
    from ase.build import bulk

    perovskite = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return {
        "MgO_64": bulk("MgO", "rocksalt", a=4.21, cubic=True).repeat((2, 2, 2)),
        "SrTiO3_5": Atoms("SrTiO3", scaled_positions=perovskite, cell=np.eye(3) * 3.905, pbc=True),
    }


def time_calls(calc_fn: Callable[[Atoms], None], atoms: Atoms, repeats: int) -> float:
    """Mean seconds per call after one warm-up call (model load, first graph)."""
    calc_fn(atoms)
    start = time.perf_counter()
    for _ in range(repeats):
        calc_fn(atoms)
    return (time.perf_counter() - start) / repeats


def energy_forces_fn(calculator) -> Callable[[Atoms], None]:
    """One energy + forces evaluation of ``calculator`` on a structure, cache bypassed."""

    def run(atoms: Atoms) -> None:
        calculator.calculate(atoms, ["energy", "forces"], list(TIMED_KEYS))

    return run


def sevennet_ms(repeats: int) -> dict[str, float]:
    """Milliseconds per E+F call of SevenNet-MF-0 (R2SCAN modal, one thread) on each cell."""
    from qaware.oracles.pretrained import PretrainedOracle, _calculator

    oracle = PretrainedOracle("SevenNet-MF-0", modal="R2SCAN", threads=1)
    seven = _calculator("SevenNet-MF-0", "R2SCAN", "cpu", str(oracle.weights_path))
    run = energy_forces_fn(seven)
    return {
        name: 1e3 * time_calls(run, atoms.copy(), repeats) for name, atoms in speed_cells().items()
    }


def validator_timings(validator, level: str, repeats: int) -> dict[str, Any]:
    """E+F milliseconds per cell at ``level`` and the batched scoring rate (512 rattled 5-atom
    cells through ``predict``, the campaign's path), with the architecture that was timed."""
    run = energy_forces_fn(validator.calculator(level))
    cells = speed_cells()
    out: dict[str, Any] = {
        "architecture": asdict(validator.model.config)
        | {"n_parameters": sum(p.numel() for p in validator.model.parameters())},
    }
    for name, atoms in cells.items():
        out[name] = {
            "n_atoms": len(atoms),
            "mfennp_ms": 1e3 * time_calls(run, atoms.copy(), repeats),
        }
    frames = [cells["SrTiO3_5"].copy() for _ in range(512)]
    rng = np.random.default_rng(0)
    for a in frames:
        a.positions += rng.normal(0, 0.05, a.positions.shape)
    validator.predict(frames[:8])  # warm-up
    start = time.perf_counter()
    validator.predict(frames)
    out["predict_5_atom_structures_per_s"] = len(frames) / (time.perf_counter() - start)
    return out


def speed(validator, level: str, repeats: int) -> dict[str, Any]:
    """``validator_timings`` with SevenNet-MF-0 timed in the same run and the speed-up per cell."""
    seven = sevennet_ms(repeats)
    out = validator_timings(validator, level, repeats)
    for name, ms in seven.items():
        out[name] |= {"sevennet_mf0_ms": ms, "speedup": ms / out[name]["mfennp_ms"]}
    return out
