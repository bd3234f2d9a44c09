"""The probe behind DECISIONS.md's HSE06@PBE choice: the one-shot hybrid on cells that already
have a self-consistent HSE06 label, with its cost.

    OMP_NUM_THREADS=1 python data/track_x/probe_hse06_at_pbe.py MgO Zn2 Sc2 O3ScZn O2 O2Zn2 \
        OSr Sr O3SrZn > probe_hse06_at_pbe.jsonl

Reads the committed export (``track_x.extxyz.gz``), runs :class:`qaware.oracles.GPAWOracle`
with ``xc="HSE06@PBE"`` and the build's settings on the first cell of each formula given, and
prints one JSON line per cell: total energies per atom (one-shot vs stored self-consistent
HSE06), their difference, and the wall time. Formation energies of both levels are compared on
every cell in ``benchmarks/fidelity_gaps.py``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from qaware.datasets import read_dataset
from qaware.oracles.gpaw_periodic import GPAWOracle

HERE = Path(__file__).resolve().parent
ORACLE = GPAWOracle(xc="HSE06@PBE", ecut_ev=500.0, kpt_density=2.0, hybrid_kpt_density=1.0)


def main(formulas: list[str]) -> None:
    first = {}
    for atoms in read_dataset(HERE / "track_x.extxyz.gz"):
        if atoms.info.get("status_HSE06") == "ok":
            first.setdefault(atoms.get_chemical_formula(), atoms)
    for formula in formulas:
        atoms = first[formula]
        start = time.perf_counter()
        result = ORACLE.compute(atoms)
        n = len(atoms)
        sc = float(atoms.info["energy_HSE06"])
        print(json.dumps({
            "formula": formula, "ok": result.ok, "wall_s": round(time.perf_counter() - start, 1),
            "hse06_at_pbe_ev_per_atom": None if result.energy is None else result.energy / n,
            "hse06_ev_per_atom": sc / n,
            "difference_mev_per_atom": None if result.energy is None
            else 1e3 * (result.energy - sc) / n,
        }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
