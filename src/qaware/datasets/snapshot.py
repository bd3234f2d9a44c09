"""A consistent copy of a live run directory, for committing a data set while its build runs.

The build may keep writing the source meanwhile: the SQLite store is copied with the backup API
(one consistent state, never a half-written page) and written as text that git keeps as deltas
(``store/``, :mod:`qaware.datasets.store_text`: the Track X store is ~2 MB packed once, then
a few kB per new result; the gzipped database of earlier snapshots cost ~2 MB every time);
``events.jsonl`` is cut to whole lines; executor job folders are left out. The copy replaces
``dst`` only once complete. :func:`restore_run` turns a snapshot back into a run directory a
build resumes from (a ``store/`` folder, or the ``campaign.db.gz`` of an older snapshot).

    python -m qaware.datasets.snapshot data/track_x/run data/track_x/snapshot/run
    python -m qaware.datasets.snapshot --restore data/track_x/snapshot/run data/track_x/run
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import sys
from pathlib import Path

from qaware.datasets.store_text import dump_store, load_store

__all__ = ["restore_run", "snapshot_run"]

_SKIP = (
    "campaign.db*",
    "*.tmp",
    "jobs",
    "executor",
    "report",  # rebuilt by `qaware report`
    "store",
    "driver.lock",  # the live build's lock, not the snapshot's
)
_DB, _GZ, _TEXT = "campaign.db", "campaign.db.gz", "store"


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
    dump_store(tmp / _DB, tmp / _TEXT)
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
    rebuilt, the empty folders git does not keep made again."""
    snapshot, dst = Path(snapshot), Path(dst)
    text, gz = (snapshot / _TEXT).is_dir(), (snapshot / _GZ).is_file()
    if not (text or gz):
        raise FileNotFoundError(f"{snapshot}: no store/ (or campaign.db.gz) to restore")
    if dst.exists():
        raise FileExistsError(f"{dst} exists: a live run is never overwritten")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(snapshot, tmp, ignore=shutil.ignore_patterns(_GZ, _TEXT))
    if text:
        load_store(snapshot / _TEXT, tmp / _DB)
    else:  # a snapshot from before the text format
        with gzip.open(snapshot / _GZ, "rb") as raw, open(tmp / _DB, "wb") as out:
            shutil.copyfileobj(raw, out)
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
