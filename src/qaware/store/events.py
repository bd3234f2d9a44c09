"""The run's audit trail: an append-only JSON-lines file that survives ``kill -9``.

One line per event: ``{"ts": ISO-8601 UTC, "event": name, "cycle": int | null,
"candidate": int | null, "payload": {...}}``. Each append is flushed and fsynced before it
returns, so an event that was logged is on disk. A kill in the middle of a write can leave a torn
last line: :meth:`EventLog.read` skips it, and the next append first repairs the file (keeps the
line if it is complete JSON, else cuts it off) so that new events never glue onto a fragment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qaware.errors import RunDirectoryError

__all__ = ["EventLog"]


class EventLog:
    """Append-only event log at ``path`` (created on the first append)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._repaired = False

    def append(
        self,
        event: str,
        *,
        cycle: int | None = None,
        candidate: int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write one event durably and return it as stored."""
        record = {
            "ts": datetime.now(UTC).isoformat(),
            "event": str(event),
            "cycle": None if cycle is None else int(cycle),
            "candidate": None if candidate is None else int(candidate),
            "payload": dict(payload or {}),
        }
        line = json.dumps(record, default=_plain, separators=(",", ":")) + "\n"
        if not self._repaired:
            self._repair()
        with open(self.path, "ab") as fh:
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())
        return record

    def read(self) -> list[dict[str, Any]]:
        """All events in order. A torn last line is skipped; a bad line before it raises."""
        if not self.path.exists():
            return []
        lines = self.path.read_bytes().split(b"\n")
        events = []
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                events.append(json.loads(raw))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                if number == len(lines):  # no newline after it: a write cut short
                    break
                raise RunDirectoryError(f"{self.path}: line {number} is not JSON: {err}") from None
        return events

    def _repair(self) -> None:
        """Make the file end with a newline: finish a complete last line or cut a torn one."""
        self._repaired = True
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            return
        start = data.rfind(b"\n") + 1
        try:
            json.loads(data[start:])
            complete = True
        except (json.JSONDecodeError, UnicodeDecodeError):
            complete = False
        with open(self.path, "r+b") as fh:
            if complete:
                fh.seek(0, os.SEEK_END)
                fh.write(b"\n")
            else:
                fh.truncate(start)
            fh.flush()
            os.fsync(fh.fileno())


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars/arrays and paths in payloads."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"event payload value of type {type(value).__name__} is not JSON")
