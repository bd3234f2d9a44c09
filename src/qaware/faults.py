"""Crash points for reliability tests: ``QAWARE_CRASH_AT=point[:n]`` kills the driver with
SIGKILL the n-th time (default first) it passes ``point``.

The points sit where a real crash hurts most: right after an oracle result is stored while other
calls are in flight (``evaluate``), after the validator is retrained but before it is saved
(``retrain``), after a step's writes but before the state file records it (``step``), and
inside a store transaction that changed rows, after its writes and before its commit
(``write``: the database must discard the half-written transaction).
Unset (always, outside tests), :func:`crash_point` is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV", "crash_point"]

ENV = "QAWARE_CRASH_AT"
_passed: dict[str, int] = {}


def crash_point(point: str) -> None:
    """SIGKILL this process if ``QAWARE_CRASH_AT`` names ``point`` and its count is reached."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    _passed[point] = _passed.get(point, 0) + 1
    if _passed[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
