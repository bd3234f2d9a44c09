"""One driver per run directory: a second ``qaware run``/``resume``/``build-dataset`` on the same
directory is refused while the first one lives.

Two drivers on one store would both submit the same pending oracle calls and race on every
candidate row. The lock is a POSIX record lock (``fcntl.lockf``) on ``RUN_DIR/driver.lock``:
the kernel drops it when the process ends, however it ends (kill -9 included), so a stale lock
never has to be cleaned up by hand; and unlike ``flock`` it is not inherited by forked worker
processes, so an orphaned worker of a killed driver does not keep ``qaware resume`` out. The
file records who holds the lock, for the error message. Platforms without ``fcntl`` (Windows)
run unlocked.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from qaware.errors import RunDirectoryError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "driver_lock"]

LOCK_FILE = "driver.lock"
_HELD: set[Path] = set()  # POSIX locks belong to the process: a second lock here would succeed


@contextmanager
def driver_lock(run_dir: str | Path, command: str = "") -> Iterator[None]:
    """Hold the driver lock of ``run_dir`` for the ``with`` block; RunDirectoryError (naming
    the holder's pid, host, start time and command) if another live process holds it."""
    path = (Path(run_dir) / LOCK_FILE).resolve()
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    if path in _HELD:  # and closing it would release the first one
        raise RunDirectoryError(f"{Path(run_dir)}: this process already drives it")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunDirectoryError(
                f"{Path(run_dir)}: another qaware process drives this run directory "
                f"({_holder(fd)}); wait for it to finish or stop it, then resume "
                f"(a stopped or killed process releases {LOCK_FILE} by itself)"
            ) from None
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": command or " ".join(sys.argv),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        _HELD.add(path)
        try:
            yield
        finally:
            _HELD.discard(path)
    finally:
        os.close(fd)  # closing releases the lock


def _holder(fd: int) -> str:
    """The holder as its lock file records it ("unknown holder" if it is still writing)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"pid {info['pid']} on {info['host']}, since {info['started']}: {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown holder"
