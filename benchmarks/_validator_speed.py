"""The speed measurements of benchmarks/validator.py: energy + forces per call against
SevenNet-MF-0 and batched scoring throughput (out of validator.py: one concept per file)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from train_quickstart_validator import LEVELS


def _time_calls(calc_fn, atoms, repeats: int) -> float:
    calc_fn(atoms)  # warm-up (model load, first graph)
    start = time.perf_counter()
    for _ in range(repeats):
        calc_fn(atoms)
    return (time.perf_counter() - start) / repeats


def speed(validator, repeats: int) -> dict[str, Any]:
    from ase.build import bulk

    from qaware.oracles.pretrained import _calculator

    cells = {
        "MgO_64": bulk("MgO", "rocksalt", a=4.21, cubic=True).repeat((2, 2, 2)),
        "SrTiO3_5": bulk("Ti", "sc", a=3.905),
    }
    st = cells["SrTiO3_5"]
    from ase import Atoms

    cells["SrTiO3_5"] = Atoms(
        "SrTiO3",
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        cell=st.cell,
        pbc=True,
    )
    from qaware.oracles.pretrained import PretrainedOracle

    oracle = PretrainedOracle("SevenNet-MF-0", modal="R2SCAN", threads=1)
    seven = _calculator("SevenNet-MF-0", "R2SCAN", "cpu", str(oracle.weights_path))
    ours = validator.calculator(LEVELS[-1])

    def run_ours(atoms):
        ours.calculate(atoms, ["energy", "forces"], ["positions", "numbers", "cell", "pbc"])

    def run_seven(atoms):
        seven.calculate(atoms, ["energy", "forces"], ["positions", "numbers", "cell", "pbc"])

    out = {}
    for name, atoms in cells.items():
        t_ours = _time_calls(run_ours, atoms.copy(), repeats)
        t_seven = _time_calls(run_seven, atoms.copy(), repeats)
        out[name] = {
            "n_atoms": len(atoms),
            "mfennp_ms": 1e3 * t_ours,
            "sevennet_mf0_ms": 1e3 * t_seven,
            "speedup": t_seven / t_ours,
        }
    # batched scoring throughput (the campaign's predict): candidates per second
    frames = [cells["SrTiO3_5"].copy() for _ in range(512)]
    rng = np.random.default_rng(0)
    for a in frames:
        a.positions += rng.normal(0, 0.05, a.positions.shape)
    start = time.perf_counter()
    validator.predict(frames)
    out["predict_5_atom_structures_per_s"] = len(frames) / (time.perf_counter() - start)
    return out
