"""The ``qaware status`` table: per cycle, candidates by state, oracle calls and hits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from qaware.store import CallStatus, CandidateStatus, RunDirectory

__all__ = ["status_rows", "status_table"]

_STATES = [s.value for s in CandidateStatus]
_HIT_KEY = "hit"


def status_rows(run_dir: str | Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per cycle plus a total; read-only on the store."""
    run = RunDirectory.open(run_dir)
    with run.store() as store:
        summary = store.summary()
        hits: Counter[int] = Counter()
        for rec in store.candidates(status=CandidateStatus.DONE.value):
            if rec.key_value_pairs.get(_HIT_KEY):
                hits[rec.cycle] += 1
        calls: Counter[str] = Counter(c.status.value for c in store.calls())
    header = ["cycle", *_STATES, "hits"]
    rows = []
    totals: Counter[str] = Counter()
    for cycle in sorted(summary):
        counts = summary[cycle]
        totals.update(counts)
        totals["hits"] += hits[cycle]
        rows.append([str(cycle), *(str(counts.get(s, 0)) for s in _STATES), str(hits[cycle])])
    rows.append(["total", *(str(totals.get(s, 0)) for s in _STATES), str(totals["hits"])])
    pending = calls.get(CallStatus.SUBMITTED.value, 0)
    rows.append(
        [
            "calls",
            f"done {calls.get(CallStatus.DONE.value, 0)}",
            f"failed {calls.get(CallStatus.FAILED.value, 0)}",
            f"pending {pending}",
            *([""] * (len(header) - 4)),
        ]
    )
    return header, rows


def status_table(run_dir: str | Path) -> str:
    """A plain-text table (fits an 80-column terminal)."""
    header, rows = status_rows(run_dir)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    out = [f"run {Path(run_dir)}", line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def campaign_progress(run_dir: str | Path) -> str:
    """One line on the campaign: cycle and step, top-level calls of the budget, hits,
    discoveries and an ETA from the mean time of the finished cycles ("" before a campaign)."""
    import yaml

    from qaware.campaign.state import STATE_FILE, CampaignState

    run_dir = Path(run_dir)
    if not (run_dir / STATE_FILE).exists():
        return ""
    state = CampaignState.load(run_dir)
    config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    camp = config.get("campaign", {})
    budget, batch = int(camp.get("budget", 0)), max(1, int(camp.get("batch_size", 1)))
    calls = sum(s.top_calls for s in state.history)
    hits = sum(s.hits for s in state.history)
    found = sum(s.discoveries for s in state.history)
    where = (
        f"stopped: {state.stopped}"
        if state.stopped
        else (f"cycle {state.cycle}, last step {state.step or 'none'}")
    )
    line = f"{where} | top-level calls {calls}/{budget} | hits {hits} | discoveries {found}"
    finished = [s for s in state.history if s.cycle < state.cycle or state.step == "retrain"]
    if finished and not state.stopped:
        per_cycle = sum(s.oracle_time_s + s.other_time_s for s in finished) / len(finished)
        left = min(
            max(0, int(camp.get("max_cycles", 0)) - len(finished)),
            -(-max(0, budget - calls) // batch),
        )
        minutes, seconds = divmod(round(per_cycle * left), 60)
        line += f" | ETA {minutes} min {seconds:02d} s ({left} cycles at most)"
    return line
