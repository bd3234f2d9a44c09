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
