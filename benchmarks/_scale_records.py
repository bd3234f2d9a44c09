"""The partial file of benchmarks/scale.py, split from the script to keep it short: one JSON line
per finished measurement, appended as it finishes (:class:`Meter` times an operation and writes
its line) and read back by key, so a rerun skips what is there."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def record_key(rec: dict[str, Any]) -> tuple[str, str, int, str]:
    return rec["part"], rec["backend"], int(rec["size"]), rec["op"]


def read_partial(path: Path) -> dict[tuple[str, str, int, str], dict[str, Any]]:
    """Finished measurements by (part, backend, size, op); a later line replaces an earlier."""
    out: dict[tuple[str, str, int, str], dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                out[record_key(rec)] = rec
    return out


def append(path: Path, rec: dict[str, Any]) -> None:
    rec = {**rec, "utc": datetime.now(UTC).isoformat(timespec="seconds"),
           "load1": round(os.getloadavg()[0], 2)}  # fmt: skip
    with path.open("a") as f:  # one short line per write: appends from two workers stay whole
        f.write(json.dumps(rec) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


class Meter:
    """Times one operation and appends its record (seconds, rows, RSS) to the partial file."""

    def __init__(self, partial: Path, part: str, backend: str, size: int) -> None:
        self.partial, self.base = partial, {"part": part, "backend": backend, "size": size}
        self.done = {k[3] for k in read_partial(partial) if k[:3] == (part, backend, size)}

    def __call__(
        self,
        op: str,
        fn: Callable[[], Any],
        rows: Callable[[Any], int],
        seconds: Callable[[Any], float] | None = None,
    ) -> Any:
        """Run ``fn``; ``seconds(out)`` replaces the wall time when the work spans sessions."""
        rss0, t0 = _rss_mib(), time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0 if seconds is None else seconds(out)
        rec = {**self.base, "op": op, "seconds": round(dt, 4), "rows": int(rows(out)),
               "rss_before_mib": rss0, "peak_rss_mib": _peak_rss_mib()}  # fmt: skip
        append(self.partial, rec)
        self.done.add(op)
        return out
