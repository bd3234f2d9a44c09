"""A consistent copy of a live run directory, for committing a data set while its build runs.

The build may keep writing the source meanwhile: the SQLite store is copied with the backup API
(one consistent state, never a half-written page), then vacuumed; ``events.jsonl`` is cut to
whole lines; executor job folders are left out. The copy replaces ``dst`` only once complete.

    python -m qaware.datasets.snapshot data/track_x/run data/track_x/snapshot/run
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

__all__ = ["snapshot_run"]

_SKIP = ("campaign.db*", "*.tmp", "jobs", "executor")


def snapshot_run(src: str | Path, dst: str | Path) -> Path:
    """Copy run directory ``src`` to ``dst`` (replaced whole, atomically by rename)."""
    src, dst = Path(src), Path(dst)
    if not (src / "campaign.db").is_file():
        raise FileNotFoundError(f"{src}: no campaign.db to snapshot")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(*_SKIP))
    with sqlite3.connect(src / "campaign.db") as a, sqlite3.connect(tmp / "campaign.db") as b:
        a.backup(b)
    with sqlite3.connect(tmp / "campaign.db") as b:
        b.execute("VACUUM")
    events = tmp / "events.jsonl"
    if events.exists():
        text = events.read_text()
        events.write_text(text[: text.rfind("\n") + 1])
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m qaware.datasets.snapshot SRC_RUN_DIR DST_RUN_DIR")
    snapshot_run(sys.argv[1], sys.argv[2])
