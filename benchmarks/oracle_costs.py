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

The set (geometries fixed, not optimised; sources in the constants of _oracle_costs_set.py):

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
import os
import resource
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ase import Atoms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _oracle_costs_report import (
    Rows,
    _fmt,
    binding_table,
    call_record,
    cost_summary,
    print_summary,
)
from _oracle_costs_set import (
    CRYSTAL_LEVELS,
    METALS,
    MOLECULAR_LEVELS,
    System,
    make_oracle,
    systems,
)
from _provenance import RESULTS, Recorder
from qaware.oracles.result import OracleResult

RUN_DIR: Final = RESULTS / "oracle_costs_run"
OUTPUT: Final = RESULTS / "oracle_costs.json"
Phases = list[tuple[str, list[tuple[str, str]]]]  # [(phase name, [(system, level), ...]), ...]


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
