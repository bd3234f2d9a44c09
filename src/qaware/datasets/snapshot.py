"""A consistent copy of a live run directory, for committing a data set while its build runs.

The build may keep writing the source meanwhile: the SQLite store is copied with the backup API
(one consistent state, never a half-written page), vacuumed and stored gzipped as
``campaign.db.gz`` (a store of a few thousand results is ~5 MB raw, ~1.8 MB gzipped; the gzip
header carries no time, so the same store gives the same bytes); ``events.jsonl`` is cut to
whole lines; executor job folders are left out. The copy replaces ``dst`` only once complete.
:func:`restore_run` turns a snapshot back into a run directory a build resumes from.

    python -m qaware.datasets.snapshot data/track_x/run data/track_x/snapshot/run
    python -m qaware.datasets.snapshot --restore data/track_x/snapshot/run data/track_x/run
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import sys
from pathlib import Path

__all__ = ["restore_run", "snapshot_run"]

_SKIP = ("campaign.db*", "*.tmp", "jobs", "executor", "report")  # report: `qaware report RUN`
_DB, _GZ = "campaign.db", "campaign.db.gz"


def snapshot_run(src: str | Path, dst: str | Path) -> Path:
    """Copy run directory ``src`` to ``dst`` (replaced whole, atomically by rename)."""
    src, dst = Path(src), Path(dst)
    if not (src / _DB).is_file():
        raise FileNotFoundError(f"{src}: no campaign.db to snapshot")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(*_SKIP))
    with sqlite3.connect(src / _DB) as a, sqlite3.connect(tmp / _DB) as b:
        a.backup(b)
    with sqlite3.connect(tmp / _DB) as b:
        b.execute("VACUUM")
    with (
        open(tmp / _DB, "rb") as raw,
        open(tmp / _GZ, "wb") as out,
        gzip.GzipFile("", "wb", 9, out, mtime=0) as gz,
    ):
        shutil.copyfileobj(raw, gz)
    (tmp / _DB).unlink()
    events = tmp / "events.jsonl"
    if events.exists():
        text = events.read_text()
        events.write_text(text[: text.rfind("\n") + 1])
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


def restore_run(snapshot: str | Path, dst: str | Path) -> Path:
    """A run directory at ``dst`` (must not exist) from ``snapshot``: files copied, the store
    decompressed, the empty folders git does not keep made again."""
    snapshot, dst = Path(snapshot), Path(dst)
    if not (snapshot / _GZ).is_file():
        raise FileNotFoundError(f"{snapshot}: no campaign.db.gz to restore")
    if dst.exists():
        raise FileExistsError(f"{dst} exists: a live run is never overwritten")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(snapshot, tmp, ignore=shutil.ignore_patterns(_GZ))
    with gzip.open(snapshot / _GZ, "rb") as gz, open(tmp / _DB, "wb") as out:
        shutil.copyfileobj(gz, out)
    for folder in ("models", "cycles"):
        (tmp / folder).mkdir(exist_ok=True)
    tmp.rename(dst)
    return dst


if __name__ == "__main__":
    args = sys.argv[1:]
    restore = args[:1] == ["--restore"]
    args = args[1:] if restore else args
    if len(args) != 2:
        sys.exit(
            "usage: python -m qaware.datasets.snapshot [--restore] SRC DST\n"
            "  SRC_RUN_DIR DST_SNAPSHOT (snapshot) or SNAPSHOT DST_RUN_DIR (--restore)"
        )
    (restore_run if restore else snapshot_run)(args[0], args[1])
