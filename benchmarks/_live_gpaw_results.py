"""What the live GPAW campaign did, read back from its run directory (finished or not): the
evaluated candidates, per-cycle counts, reused vs computed calls and the time split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def collect(run_dir: Path, attempts: Sequence[Path] = ()) -> dict[str, Any]:
    """Evaluated candidates, per-cycle counts, reuse and time split from the run (finished or
    not). ``attempts``: run directories of earlier attempts of this benchmark (``--also-reuse``):
    calls copied from them were computed live by it, and count as computed."""
    from dataclasses import asdict

    from qaware.campaign import CampaignState
    from qaware.metrics.discovery import divergence_r2
    from qaware.store import CallStatus, CandidateStatus, RunDirectory

    state = CampaignState.load(run_dir)  # also mid-run: the finished cycles, as stored
    summary = {
        "stopped": state.stopped or f"not yet: cycle {state.cycle} at step '{state.step}'",
        "calibration_ece": state.calibration_ece,
        "cycles": [asdict(c) for c in sorted(state.history, key=lambda c: c.cycle)],
    }
    run = RunDirectory.open(run_dir)
    evaluated, calls = [], Counter()
    with run.store() as store:
        for c in store.candidates(status=CandidateStatus.DONE):
            k = c.key_value_pairs
            evaluated.append({
                "formula": c.atoms.get_chemical_formula(mode="metal"),
                "cycle": k.get("selected_cycle"),
                "pred_e_form_top": k.get("pred_e_top"),
                "pred_e_form_low": k.get("pred_e_low"),
                "e_form_low": k.get("e_form_low"),
                "e_form_top": k.get("e_form_top"),
                "e_hull_top": k.get("e_hull_top"),
                "hit": k.get("hit"),
                "discovery": k.get("discovery"),
            })  # fmt: skip
        computed_s = 0.0
        for call in store.calls():
            res = call.result
            source = "" if res is None else str(res.diagnostics.get("reused_from", ""))
            earlier = bool(source) and any(str(p.resolve()) in source for p in attempts)
            kind = "earlier_attempt" if earlier else "reused" if source else str(call.status)
            calls[(call.level, kind)] += 1
            if res is not None and kind != "reused" and call.status != CallStatus.SUBMITTED:
                computed_s += res.wall_time_s
    cycles = summary["cycles"]
    top_calls = sum(c["top_calls"] for c in cycles)
    n_disc = sum(bool(e["discovery"]) for e in evaluated)
    pairs = [(e["pred_e_form_low"] - e["pred_e_form_top"], e["e_form_low"] - e["e_form_top"])
             for e in evaluated if None not in (e["pred_e_form_low"], e["pred_e_form_top"],
                                                e["e_form_low"], e["e_form_top"])]  # fmt: skip
    r2 = divergence_r2(np.array([p for p, _ in pairs]), np.array([t for _, t in pairs]))
    oracle_s = sum(c["oracle_time_s"] for c in cycles)
    other_s = sum(c["other_time_s"] for c in cycles)
    return {
        "stopped": summary["stopped"],
        "calibration_ece_at_start": summary["calibration_ece"],
        "cycles": cycles,
        "evaluated": evaluated,
        "hse06_calls": top_calls,
        "hits": sum(c["hits"] for c in cycles),
        "discoveries": n_disc,
        "discoveries_per_hse06_call": n_disc / top_calls if top_calls else None,
        "divergence_r2": None if not np.isfinite(r2) else float(r2),
        "divergence_pairs": len(pairs),
        "oracle_calls": {f"{lv}:{kind}": n for (lv, kind), n in sorted(calls.items())},
        "time_s": {
            "oracle_steps": round(oracle_s, 1),
            "everything_else": round(other_s, 1),
            "overhead_share_of_oracle": round(other_s / oracle_s, 4) if oracle_s else None,
            "computed_calls_wall": round(computed_s, 1),  # this run's and earlier attempts'
            "note": "oracle_steps and everything_else are this run's step timers; calls "
            "copied from an earlier attempt took no time in them",
        },
    }
