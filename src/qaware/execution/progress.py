"""Progress bars for waiting on futures: on for a terminal, off in logs and CI.

Set ``QAWARE_NO_PROGRESS=1`` to silence every bar (the campaign log still records progress).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, as_completed
from typing import TextIO, TypeVar

__all__ = ["as_completed_with_progress", "progress_enabled"]

T = TypeVar("T")


def progress_enabled(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default ``sys.stderr``) is a terminal and QAWARE_NO_PROGRESS != 1."""
    if os.environ.get("QAWARE_NO_PROGRESS", "").strip() not in ("", "0"):
        return False
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def as_completed_with_progress(
    futures: Iterable[Future[T]], desc: str, *, timeout: float | None = None
) -> Iterator[Future[T]]:
    """Yield ``futures`` as they finish (done or failed) while a tqdm bar counts them.

    ``timeout`` (s) as in :func:`concurrent.futures.as_completed`: ``TimeoutError`` when not all
    are done in time. Duplicates are yielded once.
    """
    from tqdm import tqdm

    pending = list(dict.fromkeys(futures))
    stream = sys.stderr
    with tqdm(
        total=len(pending),
        desc=desc,
        unit="task",
        file=stream,
        disable=not progress_enabled(stream),
        dynamic_ncols=True,
    ) as bar:
        for future in as_completed(pending, timeout=timeout):
            bar.update(1)
            yield future
