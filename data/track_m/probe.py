"""Probe of Track M costs: time each level on a few representative structures, 1 thread.

Runs every (structure, level) pair through ``run_with_timeout`` (a fresh process per call, so
``peak_memory_mb`` is the cost of that call) with the multiplicity given explicitly, and appends
one JSON line per call to ``probe_results.jsonl`` next to this file. Used to write PROBE.md.

    OMP_NUM_THREADS=1 python data/track_m/probe.py NAME [NAME ...] [--levels L ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from ase import Atoms

from qaware.oracles.base import run_with_timeout
from qaware.oracles.pyscf_molecular import PySCFOracle
from qaware.oracles.spin import candidate_multiplicities, n_electrons

OUT = Path(__file__).with_name("probe_results.jsonl")
LEVELS = {
    "PBE": ("PBE", "def2-SVP", 900),
    "r2SCAN": ("r2SCAN", "def2-SVP", 900),
    "HSE06": ("HSE06", "def2-SVP", 900),
    "CCSD(T)/def2-SVP": ("CCSD(T)", "def2-SVP", 1800),
    "CCSD(T)/def2-TZVP": ("CCSD(T)", "def2-TZVP", 1800),
}
KEYS = (
    "multiplicity",
    "reference",
    "scf_solver",
    "n_scf_cycles",
    "n_stability_restarts",
    "stability_energy_drop_ev",
    "s2",
    "s2_expected",
    "t1",
    "d1",
    "e_t",
    "e_corr",
    "gates_failed",
    "references_tried",
    "n_basis",
    "ccsd_converged",
    "scf_stable",
)


def structures() -> dict[str, tuple[Atoms, int]]:
    """Probe structures by name -> (atoms, multiplicity); clusters come from the recipe."""
    out = {
        "O": (Atoms("O"), 3),
        "Fe": (Atoms("Fe"), 5),
        "MgO": (Atoms("MgO", positions=[[0, 0, 0], [0, 0, 1.749]]), 1),
        "TiO": (Atoms("TiO", positions=[[0, 0, 0], [0, 0, 1.620]]), 3),
        "FeO": (Atoms("FeO", positions=[[0, 0, 0], [0, 0, 1.616]]), 5),
    }
    try:
        from qaware.datasets.recipes.track_m import structures as recipe

        for atoms in recipe():
            info = atoms.info
            name = f"{info['formula']}/{info['scan']}/{info['geometry_index']}"
            out[name] = (atoms, int(atoms.info["multiplicity"]))
    except ImportError:
        pass
    return out


def _child_cpu_s() -> float:
    """User + system CPU seconds of this process's finished (joined) children: the cost of a
    call on a loaded machine, where wall time also counts waiting for a core."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="+")
    parser.add_argument("--levels", nargs="+", default=list(LEVELS))
    parser.add_argument("--scan", type=int, default=0, help="try the N lowest multiplicities")
    args = parser.parse_args()
    table = structures()
    for name in args.names:
        atoms, mult = table[name]
        mults = candidate_multiplicities(n_electrons(atoms), args.scan) if args.scan else (mult,)
        for level, mult in ((lv, m) for lv in args.levels for m in mults):
            method, basis, timeout = LEVELS[level]
            oracle = PySCFOracle(
                method=method,
                basis=basis,
                multiplicity=mult,
                num_threads=1,
                level_name=level,
                timeout_s=timeout,
            )
            t0, c0 = time.perf_counter(), _child_cpu_s()
            res = run_with_timeout(oracle, atoms, timeout)
            row = {
                "name": name,
                "level": level,
                "ok": res.ok,
                "reason": res.reason,
                "energy_ev": res.energy,
                "wall_s": round(time.perf_counter() - t0, 2),
                "cpu_s": round(_child_cpu_s() - c0, 2),
                "oracle_wall_s": round(res.wall_time_s, 2),
                "peak_mb": res.peak_memory_mb,
                "fmax": None if res.forces is None else float(abs(res.forces).max()),
            }
            row.update({k: res.diagnostics.get(k) for k in KEYS if k in res.diagnostics})
            with OUT.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
