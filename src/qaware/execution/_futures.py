"""Future plumbing shared by the backends: chaining with error translation.

Every executor hands out real :class:`concurrent.futures.Future` objects, so ``as_completed``,
``wait`` and ``add_done_callback`` work the same on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["ChainedFuture", "chain"]


class ChainedFuture(Future[Any]):
    """A future that mirrors ``inner``; cancelling it cancels ``inner`` (when still possible)."""

    def __init__(self, inner: Future[Any]) -> None:
        super().__init__()
        self.inner = inner

    def cancel(self) -> bool:
        self.inner.cancel()  # its done-callback cancels this future
        return self.cancelled()

    def _cancel_from_inner(self) -> None:
        if Future.cancel(self):
            self.set_running_or_notify_cancel()  # wakes as_completed / wait


def chain(
    inner: Future[Any], translate: Callable[[BaseException], BaseException] | None = None
) -> ChainedFuture:
    """A future completed with ``inner``'s outcome; exceptions pass through ``translate``."""
    outer = ChainedFuture(inner)

    def _transfer(done: Future[Any]) -> None:
        if done.cancelled():
            outer._cancel_from_inner()
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
