"""Future plumbing shared by the backends: chaining with error translation.

Every executor hands out real :class:`concurrent.futures.Future` objects, so ``as_completed``,
``wait`` and ``add_done_callback`` work the same on every backend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["BackedFuture", "ChainedFuture", "chain"]


class BackedFuture(Future[Any]):
    """A future completed by a backend (a pool future, a job, a task) rather than by a pool.

    Subclasses override ``cancel()`` to stop the backend's work, then call ``mark_cancelled``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cancel_lock = threading.Lock()

    def mark_cancelled(self) -> bool:
        """Cancel this future and wake ``as_completed`` / ``wait`` (once; thread-safe).

        Returns False when it already holds a result or an exception.
        """
        with self._cancel_lock:
            if not self.cancelled() and Future.cancel(self):
                self.set_running_or_notify_cancel()
        return self.cancelled()


class ChainedFuture(BackedFuture):
    """A future that mirrors ``inner``; cancelling it cancels ``inner`` (when still possible)."""

    def __init__(self, inner: Future[Any]) -> None:
        super().__init__()
        self.inner = inner

    def cancel(self) -> bool:
        self.inner.cancel()  # its done-callback cancels this future
        return self.cancelled()


def chain(
    inner: Future[Any], translate: Callable[[BaseException], BaseException] | None = None
) -> ChainedFuture:
    """A future completed with ``inner``'s outcome; exceptions pass through ``translate``."""
    outer = ChainedFuture(inner)

    def _transfer(done: Future[Any]) -> None:
        if done.cancelled():
            outer.mark_cancelled()
            return
        if outer.done():  # already cancelled
            return
        exc = done.exception()
        if exc is None:
            outer.set_result(done.result())
        else:
            outer.set_exception(translate(exc) if translate is not None else exc)

    inner.add_done_callback(_transfer)
    return outer
