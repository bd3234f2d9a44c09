"""Compute the GPAW oracle's reference values (tests/data/oracle_golden/gpaw.json).

Si (diamond, a = 5.431 Å) and MgO (rocksalt, a = 4.212 Å) at PBE with the small fixed
settings in ``GOLDEN_SETTINGS`` (cheap enough for the test suite: ~2 s each). The oracle tests
(``pytest -m oracle tests/unit/oracles/test_gpaw_periodic.py``) reproduce the energies to
1e-4 eV/atom when the GPAW and gpaw-data versions match the recorded ones. Rerun after a
deliberate change of the oracle and commit the new file:

    OMP_NUM_THREADS=1 python scripts/golden_gpaw_values.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk

from qaware.oracles.gpaw_periodic import GPAWOracle

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests/data/oracle_golden/gpaw.json"
GOLDEN_SETTINGS: dict[str, Any] = {"xc": "PBE", "ecut_ev": 300.0, "kpt_density": 2.0}
DIAGNOSTICS_KEPT = ("kpts", "n_scf_iterations", "free_energy_ev", "fermi_level_ev", "gap_ev")


def structures() -> dict[str, Atoms]:
    """Name -> crystal at the experimental lattice constant (Å)."""
    return {"Si": bulk("Si", "diamond", a=5.431), "MgO": bulk("MgO", "rocksalt", a=4.212)}


def run_one(atoms: Atoms) -> dict[str, Any]:
    result = GPAWOracle(**GOLDEN_SETTINGS).compute(atoms)
    return {
        "symbols": atoms.get_chemical_symbols(),
        "cell_angstrom": atoms.cell.array.tolist(),
        "scaled_positions": atoms.get_scaled_positions().tolist(),
        "settings_hash": result.settings_hash,
        "ok": result.ok,
        "reason": result.reason,
        "energy_ev": result.energy,
        "energy_per_atom_ev": None if result.energy is None else result.energy / len(atoms),
        "stress_ev_per_a3": None if result.stress is None else np.round(result.stress, 8).tolist(),
        "wall_time_s": round(result.wall_time_s, 2),
        "peak_memory_mb": round(result.peak_memory_mb or 0.0, 1),
        "diagnostics": {k: result.diagnostics.get(k) for k in DIAGNOSTICS_KEPT},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    entries = {}
    for name, atoms in structures().items():
        entries[name] = run_one(atoms)
        print(f"{name:4s} E/atom = {entries[name]['energy_per_atom_ev']:.6f} eV "
              f"({entries[name]['wall_time_s']} s)", flush=True)  # fmt: skip
    payload = {
        "about": "GPAW oracle reference values; see scripts/golden_gpaw_values.py",
        "units": {"energy": "eV", "stress": "eV/Angstrom^3 (Voigt xx yy zz yz xz xy)"},
        "tolerance_ev_per_atom": 1e-4,
        "settings": GOLDEN_SETTINGS,
        "code_version": GPAWOracle(**GOLDEN_SETTINGS).code_version,
        "versions": {"numpy": np.__version__, "python": platform.python_version()},
        "command": " ".join(["python", *sys.argv]),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "total_wall_time_s": round(time.perf_counter() - start, 1),
        "entries": entries,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
