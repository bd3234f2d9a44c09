"""Compute the PySCF oracle's reference values (tests/data/oracle_golden/pyscf.json).

H2O (experimental equilibrium geometry) and FeO (1.62 Å, quintet) at PBE and CCSD(T) with
def2-SVP, plus the free atoms (Fe quintet, O triplet, H doublet) so that the file also records
the binding energies D_e = Σ E(atoms) − E(molecule) and the PBE − CCSD(T) overbinding. The Fe
atom is the lowest of its aufbau state and its 3d6 4s2 / 3d7 4s1 configurations
(``PySCFOracle.atom_configurations``, on by default): ROHF alone lands in 3d7 4s1, 2.1 eV too
high at CCSD(T), which made FeO's PBE − CCSD(T) +0.39 eV instead of about +2.5 eV.
The oracle tests (``pytest -m oracle tests/unit/oracles``) reproduce the molecule energies to
1e-5 Hartree. Rerun after a deliberate change of the oracle and commit the new file:

    OMP_NUM_THREADS=2 python scripts/golden_oracle_values.py [--out PATH] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from qaware.oracles.pyscf_molecular import PySCFOracle
from qaware.units import HARTREE_EV

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests/data/oracle_golden/pyscf.json"
BASIS = "def2-SVP"
METHODS = ("PBE", "CCSD(T)")
# Hoy & Bunker, J. Mol. Spectrosc. 74, 1 (1979): r_e(OH) = 0.9578 Å, HOH = 104.48°.
R_OH, ANGLE_HOH = 0.9578, 104.48
R_FEO = 1.62  # Å, the fixed FeO geometry of DESIGN.md / notes/oracles.md


def structures() -> dict[str, tuple[Atoms, int]]:
    """name -> (atoms, multiplicity); positions in Å."""
    half = math.radians(ANGLE_HOH / 2)
    h2o = Atoms(
        "OH2",
        positions=[
            [0.0, 0.0, 0.0],
            [R_OH * math.sin(half), 0.0, R_OH * math.cos(half)],
            [-R_OH * math.sin(half), 0.0, R_OH * math.cos(half)],
        ],
    )
    feo = Atoms("FeO", positions=[[0.0, 0.0, 0.0], [0.0, 0.0, R_FEO]])
    return {
        "H2O": (h2o, 1),
        "FeO": (feo, 5),
        "Fe": (Atoms("Fe"), 5),
        "O": (Atoms("O"), 3),
        "H": (Atoms("H"), 2),
    }


DIAGNOSTICS_KEPT = (
    "multiplicity", "reference", "scf_converged", "scf_solver", "n_scf_cycles", "scf_stable",
    "n_stability_restarts", "s2", "s2_expected", "ccsd_converged", "n_frozen_core", "t1", "d1",
    "e_scf", "e_corr", "e_t", "n_basis", "grids_level", "gates_failed", "references_tried",
    "uhf_attempt", "rohf_attempt", "scf_configuration", "atom_configuration",
    "atom_configurations",
)  # fmt: skip


def run_one(atoms: Atoms, multiplicity: int, method: str, threads: int) -> dict[str, Any]:
    oracle = PySCFOracle(
        method=method,  # type: ignore[arg-type]
        basis=BASIS,
        multiplicity=multiplicity,
        num_threads=threads,
    )
    result = oracle.compute(atoms)
    kept = {k: result.diagnostics[k] for k in DIAGNOSTICS_KEPT if k in result.diagnostics}
    return {
        "oracle": {"method": method, "basis": BASIS, "multiplicity": multiplicity},
        "settings_hash": result.settings_hash,
        "ok": result.ok,
        "reason": result.reason,
        "energy_ev": result.energy,
        "energy_hartree": None if result.energy is None else result.energy / HARTREE_EV,
        "forces_ev_per_a": None if result.forces is None else np.round(result.forces, 8).tolist(),
        "wall_time_s": round(result.wall_time_s, 2),
        "peak_memory_mb": round(result.peak_memory_mb or 0.0, 1),
        "diagnostics": kept,
    }


def binding_energies(entries: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """D_e (eV) of each molecule per method, and PBE − CCSD(T)."""
    out: dict[str, dict[str, float]] = {}
    for name, parts in (("H2O", ("O", "H", "H")), ("FeO", ("Fe", "O"))):
        d_e = {
            m: sum(entries[f"{p}/{m}"]["energy_ev"] for p in parts)
            - entries[f"{name}/{m}"]["energy_ev"]
            for m in METHODS
        }
        d_e["PBE-CCSD(T)"] = d_e["PBE"] - d_e["CCSD(T)"]
        out[name] = {k: round(v, 6) for k, v in d_e.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import pyscf

    start = time.perf_counter()
    entries: dict[str, dict[str, Any]] = {}
    for name, (atoms, mult) in structures().items():
        for method in METHODS:
            entry = run_one(atoms, mult, method, args.threads)
            entry["symbols"] = atoms.get_chemical_symbols()
            entry["positions_angstrom"] = atoms.positions.tolist()
            entries[f"{name}/{method}"] = entry
            print(f"{name:4s} {method:8s} E = {entry['energy_ev']:.6f} eV  ok={entry['ok']} "
                  f"{entry['reason']}  ({entry['wall_time_s']} s)", flush=True)  # fmt: skip
    payload = {
        "about": "PySCF oracle reference values; see scripts/golden_oracle_values.py",
        "units": {"energy": "eV", "forces": "eV/Angstrom", "positions": "Angstrom"},
        "tolerance_hartree": 1e-5,
        "versions": {
            "pyscf": pyscf.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "command": " ".join(["python", *sys.argv]),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "total_wall_time_s": round(time.perf_counter() - start, 1),
        "entries": entries,
        "binding_energy_ev": binding_energies(entries),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(json.dumps(payload["binding_energy_ev"], indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
