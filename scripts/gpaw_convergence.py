"""Plane-wave cutoff and k-point density convergence of GPAW PBE for the GPAWOracle defaults.

    OMP_NUM_THREADS=1 python scripts/gpaw_convergence.py [--out PATH] [--quick]

Systems: MgO (rocksalt, a = 4.212 Å), SrTiO3 (cubic perovskite, a = 3.905 Å), ferromagnetic
NiO (rocksalt 2-atom cell, a = 4.17 Å) and the elemental references of their formation
energies: Mg (hcp), Sr (fcc), Ti (hcp), Ni (fcc, ferromagnetic) and the O2 triplet in a
6.0 × 6.5 × 7.0 Å box (Γ only). Experimental lattice constants, fixed (no relaxation).
NiO runs at PBE+U (U_Ni = 6.2 eV; Ni metal stays PBE, the oracle's MP convention): plain-PBE
ferromagnetic NiO is a metal whose moment depends on the mesh (a first run of this script
found 1.6-1.7 μB on 6³-8³ meshes and 0.01 μB on 12³, a 40 meV/atom jump), so its energy is
not a smooth function of the settings; PBE+U NiO is an insulator with 2 μB.

Two one-dimensional sweeps, each against its own most converged point:

* cutoff ``ECUTS`` eV at k-density ``K_FOR_ECUT``;
* k-point density ``KDENSITIES`` per Å^-1 at cutoff ``ECUT_FOR_K`` (O2 is Γ-only throughout).

The k-sweep runs at a converged cutoff: at 400 eV (absolute energies ~1 eV/atom off) the
k-dependent size of the plane-wave basis alone moved MgO's energy by ~10 meV/atom between
meshes. The cutoff sweep runs at a coarse mesh: cutoff errors barely depend on it.
``--workers`` processes (default 2, one BLAS thread each) share the calculations.

For every setting: total energy per atom of each system and the PBE formation energy per atom
e_form = (E − Σ n_i μ_i)/N of the three oxides, μ_i from the elemental references at the same
setting (DESIGN.md §3: energies are compared only when referenced). The recommended defaults
are the cheapest cutoff and k-density from which on the formation energies of all three
oxides stay within ``TOL_EV`` of the sweep's reference. Writes
benchmarks/results/gpaw_convergence.json with provenance (command, versions, machine, load,
wall and CPU times of every calculation).
"""

from __future__ import annotations

import argparse
import resource
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _provenance import RESULTS, Recorder
from qaware.oracles.gpaw_periodic import GPAWOracle

ECUTS = (500.0, 550.0, 600.0, 700.0, 800.0)
K_FOR_ECUT = 2.0
KDENSITIES = (2.0, 2.5, 3.0, 3.5, 4.5)
ECUT_FOR_K = 600.0
TOL_EV = 0.005  # eV/atom, target accuracy of formation energies
COMPOUNDS = {
    "MgO": {"Mg": 1, "O": 1},
    "SrTiO3": {"Sr": 1, "Ti": 1, "O": 3},
    "NiO": {"Ni": 1, "O": 1},
}
ELEMENT_REF = {"Mg": "Mg", "Sr": "Sr", "Ti": "Ti", "Ni": "Ni", "O": "O2"}


def structures() -> dict[str, Atoms]:
    """Name -> structure (Å). Magnetic starts: NiO and Ni from the oracle's table, O2 triplet."""
    a = 3.905
    sto = Atoms(
        "SrTiO3",
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        cell=np.eye(3) * a,
        pbc=True,
    )
    o2 = Atoms("O2", positions=[[0, 0, 0], [0, 0, 1.21]], cell=[6.0, 6.5, 7.0], pbc=True)
    o2.center()
    o2.set_initial_magnetic_moments([1.0, 1.0])
    return {
        "MgO": bulk("MgO", "rocksalt", a=4.212),
        "SrTiO3": sto,
        "NiO": bulk("NiO", "rocksalt", a=4.17),
        "Mg": bulk("Mg", "hcp", a=3.209, c=5.211),
        "Sr": bulk("Sr", "fcc", a=6.08),
        "Ti": bulk("Ti", "hcp", a=2.951, c=4.684),
        "Ni": bulk("Ni", "fcc", a=3.524),
        "O2": o2,
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"oracle_code_version": GPAWOracle().code_version}
    for pkg in ("gpaw", "gpaw-data", "ase", "numpy", "scipy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_one(name: str, atoms: Atoms, ecut: float, kd: float) -> dict[str, Any]:
    # O2 in a box: a tiny k-density gives the Γ-only 1×1×1 mesh.
    oracle = GPAWOracle(
        xc="PBE+U" if name == "NiO" else "PBE",  # U only where O is: Ni metal stays PBE
        ecut_ev=ecut, kpt_density=1e-3 if name == "O2" else kd,
    )  # fmt: skip
    cpu0 = _cpu_s()
    res = oracle.compute(atoms)
    row = {
        "system": name, "ecut_ev": ecut, "kpt_density": kd, "ok": res.ok, "reason": res.reason,
        "kpts": res.diagnostics.get("kpts"), "energy_per_atom_ev": None,
        "wall_s": round(res.wall_time_s, 2), "cpu_s": round(_cpu_s() - cpu0, 2),
        "n_scf_iterations": res.diagnostics.get("n_scf_iterations"),
        "magnetic_moment": res.diagnostics.get("magnetic_moment"),
    }  # fmt: skip
    if res.ok and res.energy is not None:
        row["energy_per_atom_ev"] = res.energy / len(atoms)
    print(f"{name:7s} ecut {ecut:5.0f} kd {kd:3.1f} -> {row['energy_per_atom_ev']} "
          f"({row['wall_s']} s)", flush=True)  # fmt: skip
    return row


def formation_energies(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """e_form per atom (eV) of each compound from one setting's rows."""
    e = {r["system"]: r["energy_per_atom_ev"] for r in rows}
    out: dict[str, float | None] = {}
    for comp, counts in COMPOUNDS.items():
        needed = [comp, *(ELEMENT_REF[el] for el in counts)]
        if any(e.get(n) is None for n in needed):
            out[comp] = None
            continue
        n_atoms = sum(counts.values())
        refs = sum(n * e[ELEMENT_REF[el]] for el, n in counts.items())
        out[comp] = (n_atoms * e[comp] - refs) / n_atoms
    return out


def _task(args: tuple[str, float, float]) -> dict[str, Any]:
    name, ecut, kd = args
    return run_one(name, structures()[name], ecut, kd)


def sweep(
    table: dict[tuple[str, float, float], dict[str, Any]],
    names: list[str],
    settings: list[tuple[float, float]],
    label: str,
) -> dict[str, Any]:
    """Formation energies and errors at each (ecut, kd); the last setting is the reference.

    O2 is Γ-only, so its row at a given cutoff serves every k-density.
    """
    points = []
    for ecut, kd in settings:
        rows = [table[(n, ecut, 0.0 if n == "O2" else kd)] for n in names]
        points.append({"ecut_ev": ecut, "kpt_density": kd, "rows": rows,
                       "e_form_per_atom_ev": formation_energies(rows)})  # fmt: skip
    ref = points[-1]
    ref_e = {r["system"]: r["energy_per_atom_ev"] for r in ref["rows"]}
    for p in points:
        p["e_form_error_ev"] = {
            c: None if v is None or ref["e_form_per_atom_ev"][c] is None
            else v - ref["e_form_per_atom_ev"][c]
            for c, v in p["e_form_per_atom_ev"].items()
        }  # fmt: skip
        p["energy_error_per_atom_ev"] = {
            r["system"]: None if r["energy_per_atom_ev"] is None or ref_e[r["system"]] is None
            else r["energy_per_atom_ev"] - ref_e[r["system"]]
            for r in p["rows"]
        }  # fmt: skip
        p["wall_s"] = round(sum(r["wall_s"] for r in p["rows"]), 1)
    return {"sweep": label, "reference": {"ecut_ev": ref["ecut_ev"],
            "kpt_density": ref["kpt_density"]}, "points": points}  # fmt: skip


def cheapest_converged(result: dict[str, Any], key: str) -> float:
    """Smallest setting value from which on every formation-energy error is within TOL_EV."""
    points = result["points"]
    for i, entry in enumerate(points):
        later = points[i:]
        if all(
            e is not None and abs(e) <= TOL_EV for p in later for e in p["e_form_error_ev"].values()
        ):
            return entry[key]
    return points[-1][key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "gpaw_convergence.json")
    parser.add_argument("--quick", action="store_true", help="two points per sweep (smoke run)")
    parser.add_argument("--workers", type=int, default=2, help="processes, one thread each")
    args = parser.parse_args()
    ecuts = ECUTS[::2] if args.quick else ECUTS
    kds = KDENSITIES[::2] if args.quick else KDENSITIES
    rec = Recorder("gpaw_convergence")
    names = list(structures())
    crystals = [n for n in names if n != "O2"]
    tasks = {(n, e, 0.0 if n == "O2" else K_FOR_ECUT) for n in names for e in ecuts}
    tasks |= {(n, ECUT_FOR_K, k) for n in crystals for k in kds} | {("O2", ECUT_FOR_K, 0.0)}
    ordered = sorted(tasks, key=lambda t: -(t[1] ** 1.5) * max(t[2], 1.0) ** 3)  # long first
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        table = dict(zip(ordered, pool.map(_task, ordered), strict=True))
    by_ecut = sweep(table, names, [(e, K_FOR_ECUT) for e in ecuts], "ecut")
    by_k = sweep(table, names, [(ECUT_FOR_K, k) for k in kds], "kpt_density")
    recommended = {
        "ecut_ev": cheapest_converged(by_ecut, "ecut_ev"),
        "kpt_density": cheapest_converged(by_k, "kpt_density"),
        "criterion": f"every |e_form - e_form(reference)| <= {TOL_EV} eV/atom (MgO, SrTiO3, "
        "NiO) at this and every more converged setting of the sweep",
    }
    print("recommended:", recommended, flush=True)
    rec.write(args.out, {
        "tolerance_ev_per_atom": TOL_EV, "recommended": recommended, "versions": _versions(),
        "sum_of_calculation_wall_s": round(sum(r["wall_s"] for r in table.values()), 1),
        "sum_of_calculation_cpu_s": round(sum(r["cpu_s"] for r in table.values()), 1),
        "workers": args.workers, "ecut_sweep": by_ecut, "kpt_density_sweep": by_k,
    })  # fmt: skip


if __name__ == "__main__":
    main()
