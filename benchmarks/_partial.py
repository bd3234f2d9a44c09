"""Resumable units of a long benchmark: each finished unit is appended to a JSON-lines file
beside the result (``<name>.partial.jsonl``, not committed), and a rerun reuses it.

    units = PartialUnits(args.output)
    unit = units.get(key, run_fold, track, table, ...)   # computed once per key, ever
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["PartialUnits"]


class PartialUnits:
    """Units keyed by a string that names everything they depend on (track, fold, seed and a
    settings digest): a changed setting is a new key, never a stale unit."""

    def __init__(self, output: Path) -> None:
        self.path = Path(output).with_suffix(".partial.jsonl")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                unit = json.loads(line)
                self.done[unit["key"]] = unit

    def get(
        self, key: str, compute: Callable[..., dict[str, Any]], *args: Any, note: str = ""
    ) -> dict[str, Any]:
        """The unit of ``key``: from the file, or ``compute(*args)`` now (with ``key`` added),
        appended before it is returned, so a kill loses at most the unit in progress."""
        if key not in self.done:
            print(f"{time.strftime('%H:%M:%S')} {key} {note}".rstrip(), flush=True)
            unit = compute(*args) | {"key": key}
            with self.path.open("a") as fh:
                fh.write(json.dumps(unit) + "\n")
            self.done[key] = unit
        return self.done[key]
