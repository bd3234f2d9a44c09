"""The report of benchmarks/oracle_costs.py: one row per call, binding energies per level, cost
per (code, level, kind) and the printed tables (out of oracle_costs.py: one concept per file)."""

from __future__ import annotations

from typing import Any

import numpy as np

from _oracle_costs_set import MOLECULAR_LEVELS, System
from qaware.oracles.gates import GateSettings
from qaware.oracles.result import OracleResult

Rows = dict[tuple[str, str], dict[str, Any]]  # (system, level) -> call record


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
