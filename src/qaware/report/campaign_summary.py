"""The table printed at the end of ``qaware run``, and the discoveries written beside it.

Writes ``RUN_DIR/discoveries.extxyz`` (every discovery with its referenced energies and E_hull
in ``atoms.info``) and ``RUN_DIR/summary.json`` (the per-cycle history), then returns a plain
text table; the HTML report is ``qaware report``'s job.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np

from qaware.campaign.loop import CampaignResult
from qaware.metrics.discovery import divergence_r2, top_level_ece
from qaware.store import CandidateStatus, RunDirectory

__all__ = ["summary_table", "validator_on_evaluated", "write_discoveries"]

_COLUMNS = ("cycle", "new", "scored", "selected", "top calls", "failed", "hits", "discoveries")


def write_discoveries(result: CampaignResult) -> list[dict[str, Any]]:
    """Write discoveries.extxyz and summary.json; return one dict per discovery."""
    import ase.io

    run = RunDirectory.open(result.run_dir)
    found, structures, evaluated = [], [], []
    with run.store() as store:
        for rec in store.candidates(status=CandidateStatus.DONE):
            kvp = rec.key_value_pairs
            evaluated.append(kvp)
            if not kvp.get("discovery"):
                continue
            row = {
                "id": rec.id,
                "formula": rec.atoms.get_chemical_formula(mode="metal"),
                "cycle": kvp.get("selected_cycle"),
                "e_hull_top": kvp.get("e_hull_top"),
                "e_form_top": kvp.get("e_form_top"),
                "e_form_low": kvp.get("e_form_low"),
                "pred_divergence": kvp.get("div"),
                "structure_hash": rec.structure_hash,
            }
            found.append(row)
            atoms = rec.atoms.copy()
            atoms.info.update({k: v for k, v in row.items() if v is not None})
            structures.append(atoms)
    ase.io.write(result.run_dir / "discoveries.extxyz", structures, format="extxyz")
    summary = {
        "stopped": result.state.stopped,
        "calibration_ece": result.state.calibration_ece,
        "evaluated": validator_on_evaluated(evaluated),
        "cycles": [asdict(s) for s in sorted(result.state.history, key=lambda s: s.cycle)],
        "discoveries": found,
    }
    (result.run_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return found


def validator_on_evaluated(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How the validator's predictions at scoring time held up on the evaluated candidates:
    R² of the predicted divergence against the true one (where the low level was called too)
    and the ECE of the predicted top-level σ (None with fewer than 3 candidates)."""

    def col(key: str) -> np.ndarray:
        return np.array([float(r.get(key, np.nan)) for r in rows], dtype=float)

    pred_top, true_top = col("pred_e_top"), col("e_form_top")
    r2 = divergence_r2(col("pred_e_low") - pred_top, col("e_form_low") - true_top)
    ece = top_level_ece(pred_top, true_top, col("pred_sigma_top"))
    return {
        "n": len(rows),
        "divergence_r2": None if np.isnan(r2) else r2,
        "top_ece": None if np.isnan(ece) else ece,
    }


def summary_table(result: CampaignResult) -> str:
    """Per-cycle counts, totals, the discoveries and where the files are."""
    found = write_discoveries(result)
    check = json.loads((result.run_dir / "summary.json").read_text())["evaluated"]
    rows = [
        [
            s.cycle,
            s.new_candidates,
            s.scored,
            s.selected,
            s.top_calls,
            s.failed_calls,
            s.hits,
            s.discoveries,
        ]
        for s in sorted(result.state.history, key=lambda s: s.cycle)
    ]
    totals = ["total", *(sum(r[i] for r in rows) for i in range(1, len(_COLUMNS)))]
    table = [list(_COLUMNS), *[[str(v) for v in r] for r in rows], [str(v) for v in totals]]
    widths = [max(len(r[i]) for r in table) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"stopped: {result.state.stopped or 'not yet (resume to go on)'}")
    oracle = sum(s.oracle_time_s for s in result.state.history)
    other = sum(s.other_time_s for s in result.state.history)
    lines.append(f"time: {oracle:.0f} s labelling, {other:.0f} s generating/scoring/training")
    if check["n"]:
        r2, ece = (
            "n/a (too few)" if v is None else f"{v:.2f}"
            for v in (check["divergence_r2"], check["top_ece"])
        )
        lines.append(
            f"validator on the {check['n']} evaluated candidates: R²(D) {r2}, ECE of σ_top {ece}"
        )
    if found:
        lines.append(f"discoveries ({len(found)}), best first:")
        for d in sorted(found, key=lambda d: d["e_hull_top"] or 0.0)[:10]:
            lines.append(
                f"  {d['formula']:<14} E_hull {d['e_hull_top']:+.3f} eV/atom  "
                f"e_form {d['e_form_top']:+.3f} eV/atom  (cycle {d['cycle']}, id {d['id']})"
            )
    lines.append(f"discoveries: {result.run_dir / 'discoveries.extxyz'}")
    lines.append(f"per-cycle summary: {result.run_dir / 'summary.json'}")
    return "\n".join(lines)
