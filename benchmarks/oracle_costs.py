"""Cost of each oracle and level on a fixed set, and the TM-oxide binding energies per level.

    OMP_NUM_THREADS=1 nohup python benchmarks/oracle_costs.py --timeout 900 \
        > benchmarks/results/oracle_costs_run/run.log 2>&1 &
    python benchmarks/oracle_costs.py --quick            # smoke test (O, Mg, MgO; Si PBE)
    python benchmarks/oracle_costs.py --only crystals --levels PBE,PBE+U

Every call goes through :class:`~qaware.oracles.runner.OracleRunner` with the store
``benchmarks/results/oracle_costs_run/campaign.db`` as its cache, each in a fresh child process
(``run_with_timeout``): ``peak_memory_mb`` is the child's peak RSS (imports included) and a
killed run resumes without recomputing anything stored. A stored failure (timeout...) is served
as it is; ``--retries 1`` computes it again (e.g. after raising ``--timeout``). The JSON is
rewritten after every result, so a partial run leaves a valid file.

The set (geometries fixed, not optimised; sources in the constants below):

* molecules, PySCF/def2-SVP at PBE, r2SCAN, HSE06 (UKS/RKS) and CCSD(T) (ROHF-based for open
  shells, frozen core): the diatomics FeO NiO CuO MnO TiO VO CrO ZnO MgO at their experimental
  r_e, the isolated atoms at their ground-state multiplicity (qaware.oracles.spin), and TiO2 and
  the Mg2O2 rhombus at PBE and CCSD(T). D_e = sum E(atoms) - E(molecule) per level.
  Gates as in Track M: CCSD(T) with every default gate (T1/D1, <S^2> of the reference, CCSD
  convergence); the DFT levels record <S^2> without gating it (the 3d atoms' UKS determinants
  exceed 0.1 and are every binding energy's reference). A gated number is kept and marked.
* crystals, GPAW plane waves with the oracle's defaults: Si (diamond), MgO and NiO (rocksalt,
  ferromagnetic start) at PBE, PBE+U (NiO) and HSE06; cubic SrTiO3 and SrFeO3 at PBE, PBE+U and
  HSE06 (MP's U table has no Ti: SrTiO3's PBE+U equals its PBE, timed anyway).

Work runs in priority order (the magnetic perovskite SrFeO3 at PBE and PBE+U, diatomics at PBE
and CCSD(T), SrFeO3 at HSE06, diatomics at r2SCAN, the other crystals at PBE and PBE+U,
clusters, cheap HSE06 crystals, molecular HSE06, then the costly HSE06 crystals), so a run cut
short still has the most useful numbers. The machine may be
shared: the result records the load average at start and end and, per call, its CPU time and
the 1-minute load when it finished.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import resource
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from ase import Atoms
from ase.build import bulk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import RESULTS, Recorder
from qaware.datasets.recipes.track_m import DIATOMIC_REFERENCES, MONOXIDE_BOND
from qaware.oracles.gates import GateSettings
from qaware.oracles.result import OracleResult

RUN_DIR: Final = RESULTS / "oracle_costs_run"
OUTPUT: Final = RESULTS / "oracle_costs.json"
METALS: Final = ("Fe", "Ni", "Cu", "Mn", "Ti", "V", "Cr", "Zn", "Mg")
DIATOMIC_R_E: Final = {f"{m}O": MONOXIDE_BOND[m] for m in METALS if m != "Mg"} | {
    "MgO": DIATOMIC_REFERENCES["MgO"]
}
"""Experimental r_e (Å): Huber & Herzberg (1979), Merer (1989), ZnO from its microwave spectrum
(the table of qaware.datasets.recipes.track_m, so these are Track M's r_e points)."""
TIO2_GEOMETRY: Final = (1.651, 111.57)
"""Ti–O (Å) and O–Ti–O (degrees) of TiO2, r0 from its rotational spectrum (Brünken et al.,
ApJ 676, 1367 (2008))."""
MG2O2_GEOMETRY: Final = (1.905, 99.7)
"""Mg–O (Å) and O–Mg–O (degrees) of the planar D2h Mg2O2 rhombus at its PBE/def2-SVP (singlet)
minimum, found here with ASE's BFGS on the PySCF oracle's forces (fmax < 0.001 eV/Å, from
1.87 Å / 96°; Mg···Mg 2.455 Å, O···O 2.913 Å). No experimental structure exists."""
LATTICE: Final = {"Si": 5.431, "MgO": 4.212, "NiO": 4.177, "SrTiO3": 3.905, "SrFeO3": 3.851}
"""Experimental room-temperature lattice constants (Å): Si, MgO, NiO (rocksalt, ignoring the
small rhombohedral distortion of AFM NiO), cubic SrTiO3, cubic SrFeO3 (MacChesney et al.,
J. Chem. Phys. 43, 1907 (1965))."""
MOLECULAR_LEVELS: Final = ("PBE", "r2SCAN", "HSE06", "CCSD(T)")
CRYSTAL_LEVELS: Final = ("PBE", "PBE+U", "HSE06")
BASIS: Final = "def2-SVP"
Phases = list[tuple[str, list[tuple[str, str]]]]  # [(phase name, [(system, level), ...]), ...]
Rows = dict[tuple[str, str], dict[str, Any]]  # (system, level) -> call record


@dataclass(frozen=True)
class TimedOracle:
    """``oracle`` with its CPU time and the machine load added to the diagnostics.

    Same level and settings hash as ``oracle`` (so the same store key); ``cpu_time_s`` is the
    user+system time of the process that runs ``compute`` (the child), ``load_1m_end`` the
    1-minute load average when it finished: on a shared machine wall time alone misleads.
    """

    oracle: Any

    @property
    def level(self) -> str:
        return str(self.oracle.level)

    @property
    def code(self) -> str:
        return str(self.oracle.code)

    @property
    def code_version(self) -> str:
        return str(self.oracle.code_version)

    def settings_hash(self) -> str:
        return str(self.oracle.settings_hash())

    def compute(self, atoms: Atoms) -> OracleResult:
        def cpu() -> float:
            own = resource.getrusage(resource.RUSAGE_SELF)
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

        start = cpu()
        result = self.oracle.compute(atoms)
        extra = {"cpu_time_s": round(cpu() - start, 2), "load_1m_end": os.getloadavg()[0]}
        result.diagnostics = {**result.diagnostics, **extra}
        return result


# -- the fixed set ------------------------------------------------------------------------------
@dataclass(frozen=True)
class System:
    """One structure of the set; ``kind`` in atom, diatomic, molecule, cluster, crystal."""

    name: str
    kind: str
    build: Callable[[], Atoms]
    geometry: str

    @property
    def periodic(self) -> bool:
        return self.kind == "crystal"


def _diatomic(formula: str, r: float) -> Atoms:
    return Atoms(formula, positions=[[0, 0, 0], [0, 0, r]])


def _bent(metal: str, r: float, angle_deg: float) -> Atoms:
    """O–M–O with M–O = ``r`` Å and the angle at M, in the xy plane, M at the origin."""
    h = math.radians(angle_deg) / 2
    pos = [[0, 0, 0], [r * math.sin(h), r * math.cos(h), 0], [-r * math.sin(h), r * math.cos(h), 0]]
    return Atoms(f"{metal}O2", positions=pos)


def _rhombus(metal: str, r: float, o_m_o_deg: float) -> Atoms:
    """Planar M2O2 with M–O = ``r`` Å and the O–M–O angle at each metal (metals on x)."""
    h = math.radians(o_m_o_deg) / 2
    x, y = r * math.cos(h), r * math.sin(h)
    return Atoms(f"{metal}2O2", positions=[[x, 0, 0], [-x, 0, 0], [0, y, 0], [0, -y, 0]])


def _perovskite(a_site: str, b_site: str, a: float) -> Atoms:
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Atoms(f"{a_site}{b_site}O3", scaled_positions=frac, cell=np.eye(3) * a, pbc=True)


def systems() -> dict[str, System]:
    """Every structure of the benchmark by name (atoms named by their symbol)."""
    out: dict[str, System] = {}
    for el in (*METALS, "O"):
        out[el] = System(el, "atom", lambda el=el: Atoms(el), "isolated atom")
    for name, r in DIATOMIC_R_E.items():
        out[name] = System(name, "diatomic", lambda n=name, r=r: _diatomic(n, r),
                           f"experimental r_e {r} Å")  # fmt: skip
    out["TiO2"] = System("TiO2", "molecule", lambda: _bent("Ti", *TIO2_GEOMETRY),
                         "Ti-O {} Å, O-Ti-O {} deg (exp. r0)".format(*TIO2_GEOMETRY))  # fmt: skip
    out["Mg2O2"] = System(
        "Mg2O2",
        "cluster",
        lambda: _rhombus("Mg", *MG2O2_GEOMETRY),
        "D2h rhombus Mg-O {} Å, O-Mg-O {} deg".format(*MG2O2_GEOMETRY),
    )

    def crystal(name: str, build: Callable[[], Atoms], what: str) -> None:
        a = LATTICE[name.removesuffix("(s)")]
        out[name] = System(name, "crystal", build, f"{what}, a = {a} Å (exp.)")

    crystal("Si", lambda: bulk("Si", "diamond", a=LATTICE["Si"]), "diamond, 2-atom cell")
    for n in ("MgO", "NiO"):
        crystal(f"{n}(s)", lambda n=n: bulk(n, "rocksalt", a=LATTICE[n]), "rocksalt, 2-atom cell")
    for n in ("SrTiO3", "SrFeO3"):
        crystal(n, lambda n=n: _perovskite("Sr", n[2:4], LATTICE[n]), "cubic Pm-3m, 5 atoms")
    return out


def make_oracle(system: System, level: str) -> Any:
    """The oracle spec of ``level`` for ``system`` (PySCF for molecules, GPAW for crystals)."""
    if system.periodic:
        from qaware.oracles.gpaw_periodic import GPAWOracle

        return GPAWOracle(xc=level, threads=1)  # type: ignore[arg-type]
    from qaware.oracles.pyscf_molecular import PySCFOracle

    gates = GateSettings() if level == "CCSD(T)" else GateSettings(s2_tolerance=None)
    return PySCFOracle(method=level, basis=BASIS, level_name=f"{level}/{BASIS}", num_threads=1,  # type: ignore[arg-type]
                       max_memory_mb=6000 if level == "CCSD(T)" else 3000, gates=gates)  # fmt: skip


def plan(quick: bool) -> Phases:
    """Phases of (system, level) pairs in priority order."""
    if quick:
        return [("quick", [("O", "PBE"), ("Mg", "PBE"), ("MgO", "PBE"), ("O", "CCSD(T)"),
                           ("Mg", "CCSD(T)"), ("MgO", "CCSD(T)"), ("Si", "PBE")])]  # fmt: skip

    def molecular(level: str) -> list[tuple[str, str]]:
        pairs = [("O", level)]
        for m in METALS:
            pairs += [(m, level), (f"{m}O", level)]
        return pairs

    others = ["Si", "MgO(s)", "NiO(s)", "SrTiO3"]
    return [
        ("magnetic perovskite PBE, PBE+U", [("SrFeO3", "PBE"), ("SrFeO3", "PBE+U")]),
        ("diatomics PBE", molecular("PBE")),
        ("diatomics CCSD(T)", molecular("CCSD(T)")),
        ("magnetic perovskite HSE06", [("SrFeO3", "HSE06")]),
        ("diatomics r2SCAN", molecular("r2SCAN")),
        ("crystals PBE", [(c, "PBE") for c in others]),
        ("crystals PBE+U", [(c, "PBE+U") for c in ("NiO(s)", "SrTiO3")]),
        ("TiO2 and Mg2O2", [(s, lv) for lv in ("PBE", "CCSD(T)") for s in ("TiO2", "Mg2O2")]),
        ("crystals HSE06, cheap", [("Si", "HSE06"), ("MgO(s)", "HSE06")]),
        ("diatomics HSE06", molecular("HSE06")),
        ("crystals HSE06, costly", [(c, "HSE06") for c in ("SrTiO3", "NiO(s)")]),
    ]


def select(phases: Phases, table: dict[str, System],
           levels: set[str] | None, only: str | None) -> Phases:  # fmt: skip
    """``phases`` restricted to ``levels`` and to molecules or crystals (empty phases dropped)."""
    out = []
    for name, pairs in phases:
        kept = [(s, lv) for s, lv in pairs
                if (levels is None or lv in levels)
                and (only is None or table[s].periodic == (only == "crystals"))]  # fmt: skip
        if kept:
            out.append((name, kept))
    return out


# -- running ------------------------------------------------------------------------------------
def run_phases(
    phases: Phases, table: dict[str, System], args: argparse.Namespace
) -> Iterator[tuple[str, str, OracleResult, bool]]:
    """Yield ``(system, level, result, from_cache)`` as results arrive, phase after phase."""
    from qaware.execution.local import LocalExecutor
    from qaware.oracles.runner import OracleRunner, Task
    from qaware.store import CampaignStore
    from qaware.structures.hashing import structure_hash

    args.run_dir.mkdir(parents=True, exist_ok=True)
    with CampaignStore(args.run_dir / "campaign.db", campaign="oracle_costs") as store, \
            LocalExecutor(max_workers=args.workers) as executor:  # fmt: skip
        runner = OracleRunner(store, executor, timeout_s=args.timeout,
                              max_retries=args.retries, desc="oracle_costs")  # fmt: skip
        for phase, pairs in phases:
            logging.info("phase %r: %d calls", phase, len(pairs))
            jobs: dict[tuple[int, str], str] = {}
            tasks = []
            for name, level in pairs:
                atoms = table[name].build()
                oracle = TimedOracle(make_oracle(table[name], level))
                jobs[(id(atoms), oracle.level)] = name
                tasks.append(Task(None, atoms, oracle, structure_hash(atoms)))
            answers = stored(store, tasks) if args.export_only else runner.evaluate(tasks)
            for task, result, cached in answers:
                name = jobs[(id(task.atoms), task.oracle.level)]
                yield name, _short(task), result, cached


def stored(store: Any, tasks: list[Any]) -> Iterator[tuple[Any, OracleResult, bool]]:
    """``(task, result, True)`` for each task with a finished attempt in ``store`` (done,
    failed, or failed and resubmitted by a retry that never finished: its last finished
    attempt), computing nothing: what ``--export-only`` reports."""
    from qaware.store import oracle_call_key

    known = {c.oracle_key: c for c in store.calls()}
    for task in tasks:
        record = known.get(oracle_call_key(task.structure_hash, task.oracle.settings_hash()))
        if record is not None and record.result is not None:
            yield task, record.result, True


def _short(task: Any) -> str:
    """Short level name (``CCSD(T)``, ``PBE+U``) of a task's oracle."""
    inner = task.oracle.oracle
    return str(getattr(inner, "method", None) or inner.xc)


# -- report -------------------------------------------------------------------------------------
def gate_verdict(diag: dict[str, Any], gates: GateSettings) -> dict[str, Any]:
    """T1, D1 and <S^2> of a CCSD(T) result next to their limits, and the verdict."""
    open_shell = bool(diag.get("open_shell"))
    failed = list(diag.get("gates_failed") or [])
    return {
        "t1": diag.get("t1"),
        "t1_max": gates.t1_max_open_shell if open_shell else gates.t1_max_closed_shell,
        "d1": diag.get("d1"),
        "d1_max": gates.d1_max_open_shell if open_shell else gates.d1_max_closed_shell,
        "s2": diag.get("s2"),
        "s2_expected": diag.get("s2_expected"),
        "reference": diag.get("reference"),
        "verdict": "pass" if not failed else "gated: " + "; ".join(failed),
    }


def call_record(system: System, level: str, result: OracleResult, cached: bool) -> dict[str, Any]:
    """One (system, level) row of the result file."""
    diag = result.to_dict()["diagnostics"]
    row: dict[str, Any] = {
        "system": system.name, "kind": system.kind, "level": level, "oracle_level": result.level,
        "code": f"{result.code} {result.code_version}", "ok": result.ok, "reason": result.reason,
        "energy_ev": result.energy, "wall_time_s": round(result.wall_time_s, 2),
        "cpu_time_s": diag.pop("cpu_time_s", None), "peak_memory_mb": result.peak_memory_mb,
        "load_1m_end": diag.pop("load_1m_end", None), "from_store": cached,
        "atom_configuration": diag.get("atom_configuration"), "diagnostics": diag,
    }  # fmt: skip
    if level == "CCSD(T)":
        row["gates"] = gate_verdict(diag, GateSettings())
    return row


def binding_energy(name: str, level: str, rows: Rows) -> dict[str, Any]:
    """D_e = sum E(atoms) - E(molecule) (eV) at ``level``; members that failed a gate are named."""
    from ase.formula import Formula

    members = {name: -1, **Formula(name).count()}
    total, missing, gated = 0.0, [], []
    for member, count in members.items():
        row = rows.get((member, level))
        if row is None or row["energy_ev"] is None:
            missing.append(member if row is None else f"{member}: {row['reason']}")
            continue
        total += count * row["energy_ev"]
        if not row["ok"]:
            gated.append(f"{member}: {row['reason']}")
    if missing:
        return {"d_e_ev": None, "missing": missing}
    return {"d_e_ev": round(total, 4), "all_ok": not gated, "gated": gated}


def binding_table(table: dict[str, System], rows: Rows) -> dict[str, Any]:
    """Per molecule: D_e at every level, PBE - CCSD(T), and the CCSD(T) gate verdicts."""
    out: dict[str, Any] = {}
    for name, system in table.items():
        if system.kind not in ("diatomic", "molecule", "cluster"):
            continue
        entry: dict[str, Any] = {lv: binding_energy(name, lv, rows) for lv in MOLECULAR_LEVELS}
        pbe, cc = entry["PBE"]["d_e_ev"], entry["CCSD(T)"]["d_e_ev"]
        entry["pbe_minus_ccsd_t_ev"] = None if pbe is None or cc is None else round(pbe - cc, 4)
        members = [name, *sorted(set(system.build().get_chemical_symbols()))]
        entry["ccsd_t_gates"] = {m: rows[(m, "CCSD(T)")]["gates"] for m in members
                                 if (m, "CCSD(T)") in rows}  # fmt: skip
        out[name] = entry
    return out


def cost_summary(rows: Rows) -> list[dict[str, Any]]:
    """Per (code, level, kind): calls, ok, wall time min/median/max (s), max peak memory (MB)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows.values():
        groups.setdefault((row["code"].split()[0], row["level"], row["kind"]), []).append(row)
    out = []
    for (code, level, kind), members in sorted(groups.items()):
        walls = [r["wall_time_s"] for r in members]
        cpus = [r["cpu_time_s"] for r in members if r["cpu_time_s"] is not None]
        mems = [r["peak_memory_mb"] for r in members if r["peak_memory_mb"] is not None]
        out.append({"code": code, "level": level, "kind": kind, "calls": len(members),
                    "ok": sum(r["ok"] for r in members), "wall_s_min": min(walls),
                    "wall_s_median": round(float(np.median(walls)), 2), "wall_s_max": max(walls),
                    "cpu_s_median": round(float(np.median(cpus)), 2) if cpus else None,
                    "cpu_s_max": max(cpus, default=None),
                    "peak_memory_mb_max": max(mems, default=None)})  # fmt: skip
    return out


def _fmt(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def print_summary(rows: Rows, bind: dict[str, Any]) -> None:
    print(f"\n{'system':8} {'level':8} {'ok':3} {'wall s':>8} {'cpu s':>8} {'MB':>6}  reason")
    for r in rows.values():
        print(f"{r['system']:8} {r['level']:8} {'yes' if r['ok'] else 'NO':3} "
              f"{r['wall_time_s']:8.1f} {_fmt(r['cpu_time_s'], '8.1f'):>8} "
              f"{_fmt(r['peak_memory_mb'], '6.0f'):>6}  {r['reason']}")  # fmt: skip
    print(
        f"\nD_e (eV), def2-SVP; * = a member failed a gate\n{'mol':6} "
        + " ".join(f"{lv:>8}" for lv in MOLECULAR_LEVELS)
        + "  PBE-CC   T1     D1   CC verdict"
    )
    for name, e in bind.items():
        cells = []
        for lv in MOLECULAR_LEVELS:
            d = e[lv]
            cells.append(
                f"{_fmt(d['d_e_ev'], '.3f')}{'' if d.get('all_ok', True) else '*':1}".rjust(8)
            )
        g = e["ccsd_t_gates"].get(name, {})
        print(
            f"{name:6} {' '.join(cells)} {_fmt(e['pbe_minus_ccsd_t_ev'], '6.3f'):>7} "
            f"{_fmt(g.get('t1'), '.3f'):>6} {_fmt(g.get('d1'), '.3f'):>6}  {g.get('verdict', '-')}"
        )


# -- main ---------------------------------------------------------------------------------------
NOTES: Final = [
    "Each call ran in a fresh child process (run_with_timeout): peak_memory_mb is that child's "
    "peak RSS, imports of PySCF/GPAW included; wall_time_s excludes the process start.",
    "The machine is shared with other jobs (see provenance.load_average and each call's "
    "load_1m_end): wall times are upper bounds of a quiet machine's; cpu_time_s is the child's "
    "user+system time (OMP_NUM_THREADS=1, so about the single-core cost).",
    "DFT levels record <S^2> without gating it; CCSD(T) uses every default gate. D_e values "
    "with a gated member are kept and listed in 'gated' (marked * in the printed table).",
    "Geometries are fixed (experimental r_e / lattice constants), not optimised at any level; "
    "D_e is the electronic binding energy at that geometry (no ZPE, no BSSE correction).",
    "Free d-block atoms are computed in the aufbau state and in each s/d configuration their "
    "multiplicity allows (PySCFOracle.atom_configurations, fixed occupations), keeping the "
    "lowest that passes the gates; each atom row records the kept one (atom_configuration). "
    "The aufbau ROHF puts Fe and Ni in 3d^(n+1)4s^1; 3d^n 4s^2 is 2.13 eV (Fe) and 1.32 eV (Ni) "
    "lower at CCSD(T)/def2-SVP. Results of earlier runs, before this search, are not reused: "
    "the oracle's settings hash changed with it.",
    "CCSD(T) runs UHF-CCSD(T) too when the ROHF T1 exceeds 0.045 and keeps it only if it "
    "passes every gate; for the 3d monoxides the UHF determinants are spin-contaminated "
    "(<S^2> well above S(S+1)) or, for CuO, have as large a T1, so the ROHF result and its "
    "T1 verdict stand (uhf_attempt in each row's diagnostics).",
    "Crystals ran with the GPAW oracle's current defaults (600 eV, 3.0 k-points per 1/A; "
    "HSE06 1.0 per 1/A), from benchmarks/results/gpaw_convergence.json; the earlier run's "
    "crystal rows (520 eV, 4.0 per 1/A) are superseded.",
    "from_store=true rows were computed by an earlier (killed or partial) run of this script "
    "and served from benchmarks/results/oracle_costs_run/campaign.db; their timings are from "
    "that run.",
]


def settings_of(table: dict[str, System], phases: Phases,
                args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    used = {(table[s].periodic, lv) for _, pairs in phases for s, lv in pairs}
    oracles = {}
    for periodic, level in sorted(used):
        oracle = make_oracle(table["Si" if periodic else "O"], level)
        key = f"{'gpaw' if periodic else 'pyscf'}:{level}"
        oracles[key] = {"spec": repr(oracle), "settings_hash": oracle.settings_hash()}
    return {"timeout_s": args.timeout, "workers": args.workers, "retries": args.retries,
            "quick": args.quick, "levels": args.levels, "only": args.only,
            "phases": [{"name": n, "calls": [f"{s} @ {lv}" for s, lv in p]} for n, p in phases],
            "oracles": oracles}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--levels",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        help="comma list of PBE,r2SCAN,HSE06,CCSD(T),PBE+U (default: all)",
    )
    parser.add_argument("--only", choices=("molecules", "crystals"))
    parser.add_argument("--timeout", type=float, default=1800.0, help="per call, seconds")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--retries",
        type=int,
        default=0,
        help="recompute stored failures up to this many more times",
    )
    parser.add_argument("--quick", action="store_true", help="tiny subset (smoke test)")
    parser.add_argument("--export-only", action="store_true",
                        help="write the JSON from the store; compute nothing")  # fmt: skip
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="resumable store folder")
    parser.add_argument("--output", type=Path, help="default: results/oracle_costs.json "
                        "(--quick: <run-dir>/quick.json)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    output = args.output or (args.run_dir / "quick.json" if args.quick else OUTPUT)
    known = set(MOLECULAR_LEVELS) | set(CRYSTAL_LEVELS)
    if args.levels and not set(args.levels) <= known:
        parser.error(f"--levels: unknown {sorted(set(args.levels) - known)}; known {sorted(known)}")
    table = systems()
    phases = select(plan(args.quick), table, set(args.levels) if args.levels else None, args.only)
    planned = [pair for _, pairs in phases for pair in pairs]
    molecules = {s for s, _ in planned if table[s].kind in ("diatomic", "molecule", "cluster")}
    rec = Recorder("oracle_costs", seeds={})  # deterministic: no random numbers anywhere
    rows: Rows = {}
    settings = settings_of(table, phases, args)

    def write() -> dict[str, Any]:
        bind = {k: v for k, v in binding_table(table, rows).items() if k in molecules}
        order = {pair: i for i, pair in enumerate(planned)}
        calls = sorted(rows.values(), key=lambda r: order[(r["system"], r["level"])])
        rec.write(output, {
            "settings": settings,
            "systems": {n: {"kind": s.kind, "formula": s.build().get_chemical_formula(),
                            "geometry": s.geometry} for n, s in table.items()
                        if any(n == p for p, _ in planned)},
            "calls": calls,
            "pending": [f"{s} @ {lv}" for s, lv in planned if (s, lv) not in rows],
            "binding_energies_ev": bind,
            "cost_summary": cost_summary(rows),
            "notes": NOTES,
        })  # fmt: skip
        return bind

    write()
    for name, level, result, cached in run_phases(phases, table, args):
        rows[(name, level)] = call_record(table[name], level, result, cached)
        r = rows[(name, level)]
        logging.info("%s @ %s: ok=%s %s wall %.1f s cpu %s s peak %s MB E=%s%s", name, level,
                     r["ok"], r["reason"], r["wall_time_s"], r["cpu_time_s"],
                     _fmt(r["peak_memory_mb"], ".0f"), r["energy_ev"],
                     " (stored)" if cached else "")  # fmt: skip
        write()
    bind = write()
    print_summary({k: rows[k] for k in planned if k in rows}, bind)
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    # Run main() from the module imported by name: the oracle specs (TimedOracle) that worker and
    # child processes unpickle must belong to an importable module, not to __main__.
    import oracle_costs

    raise SystemExit(oracle_costs.main())
