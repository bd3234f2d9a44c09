"""``qaware status`` for a data-set build (``qaware build-dataset``): the stage that runs now,
how much of it is computed, at what pace, and what came out per level, from the run's event log.

A build's store holds every spec version's calls, so the campaign table (candidates by cycle,
calls by state) says little about it; the event log says what the build is doing. Read-only and
safe while the build runs. The data set's own counts per level (with ``pending``) are in the
README its export writes (``qaware build-dataset SPEC --export-only``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from qaware.store.events import EventLog

__all__ = ["build_progress", "is_build"]

_STARTED, _COMPUTING, _RESULT, _EXPORTED = (
    "dataset_build_started",
    "dataset_computing",
    "oracle_result",
    "dataset_exported",
)
_STAGES_SHOWN = 5


def _events(run_dir: str | Path) -> list[dict[str, Any]]:
    return EventLog(Path(run_dir) / "events.jsonl").read()


def is_build(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` belongs to a data-set build (its log has a build start)."""
    return any(e["event"] == _STARTED for e in _events(run_dir))


def _time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["ts"])


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _pace(results: list[dict[str, Any]], started: datetime | None) -> float | None:
    """Seconds per computed call. The builder logs the to-compute count with the stage's first
    result, so the pace is the spacing of the results; with one result so far, that call's own
    wall time. ``started``: the stage's start, for builds that did not log the count (their
    first call began there). None when nothing says."""
    last = _time(results[-1])
    if started is not None:
        return (last - started).total_seconds() / len(results)
    if len(results) >= 2:
        return (last - _time(results[0])).total_seconds() / (len(results) - 1)
    wall = results[0].get("payload", {}).get("wall_time_s")
    return float(wall) if wall is not None else None


def _per_level(results: list[dict[str, Any]]) -> list[str]:
    ok: Counter[str] = Counter()
    not_ok: Counter[str] = Counter()
    for e in results:
        (ok if e["payload"].get("ok") else not_ok)[e["payload"].get("level", "?")] += 1
    levels = dict.fromkeys(e["payload"].get("level", "?") for e in results)
    return [f"  {x}: {ok[x]} ok, {not_ok[x]} not ok (gated or failed)" for x in levels]


def build_progress(run_dir: str | Path, now: datetime | None = None) -> str | None:
    """A few lines on the build in ``run_dir`` (None when it is not a build): the current stage,
    computed / to compute with an ETA from the pace so far, the results per level of this stage,
    and the stages before it."""
    events = _events(run_dir)
    starts = [i for i, e in enumerate(events) if e["event"] == _STARTED]
    if not starts:
        return None
    now = now or datetime.now().astimezone()
    start = events[starts[-1]]
    after = events[starts[-1] + 1 :]
    stage = start["payload"]
    lines = [
        f"data-set build {Path(run_dir)}",
        f"stage {stage.get('name')} (started {_time(start):%Y-%m-%d %H:%M:%S}): "
        f"{stage.get('structures')} structures, {stage.get('pairs')} (structure, level) pairs",
    ]
    computing = next((e for e in after if e["event"] == _COMPUTING), None)
    results = [e for e in after if e["event"] == _RESULT]
    exported = any(e["event"] == _EXPORTED for e in after)
    if computing is None and not results:
        lines.append(
            "  all pairs served from the store"
            if exported
            else "  nothing computed yet (the stage's first call runs or the build stopped; "
            "qaware.log says how many calls it has to compute)"
        )
    else:
        if computing:
            to_compute = int(computing["payload"]["to_compute"])
            lines.append(f"  computed {len(results)} of {to_compute} (the rest was in the store)")
        else:  # a build started by an older qaware did not log it
            to_compute = len(results)
            lines.append(f"  computed {len(results)} so far (how many are to compute: qaware.log)")
        if results:
            last = _time(results[-1])
            pace = _pace(results, None if computing else _time(start))
            left = max(to_compute - len(results), 0)
            eta = f", ETA {_duration(pace * left)} for the {left} left" if left and pace else ""
            rate = f"{_duration(pace)} per call" if pace is not None else "pace after 2 results"
            ago = (now - last).total_seconds()
            lines.append(f"  {rate}{eta}; last result {last:%H:%M:%S} ({_duration(ago)} ago)")
        lines += _per_level(results)
    lines.append("  stage exported" if exported else "  stage running or stopped before its end")
    earlier = [events[i]["payload"].get("name") for i in starts[:-1]][-_STAGES_SHOWN:]
    if earlier:
        lines.append(f"stages before (latest last): {', '.join(map(str, earlier))}")
    return "\n".join(lines)
