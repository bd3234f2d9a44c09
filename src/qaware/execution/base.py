"""The executor contract every backend honours: submit, map, handle, attach, shutdown.

Tasks are picklable callables with picklable arguments (oracle *specs*, ``ase.Atoms``), never
live objects holding files, sockets or GPU memory: they cross a process or machine boundary.
Results come back through real :class:`concurrent.futures.Future` objects.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any, ClassVar, TypeVar

__all__ = ["QawareExecutor"]

T = TypeVar("T")


class QawareExecutor(ABC):
    """Runs picklable calls somewhere else and hands back futures.

    ``handle(future)`` is a string the driver stores in its database at submit time;
    ``attach(handle)`` on a *new* executor (after the driver was killed and restarted) returns a
    future for the same work when the backend can re-attach to it (submitit), else ``None``, in
    which case the caller resubmits. A worker that dies (signal, ``os._exit``, OOM killer) fails
    its future with :class:`qaware.errors.ExecutionError`; the task's own exceptions come back
    with their type and message.
    """

    backend: ClassVar[str] = ""

    @abstractmethod
    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)`` and return its future at once."""

    def map(self, fn: Callable[..., T], iterable: Iterable[Any]) -> Iterator[T]:
        """``fn(item)`` for every item, all submitted at once, results yielded in input order.

        The first failing call raises from the iterator; leaving the iterator early cancels the
        calls that have not started.
        """
        futures = [self.submit(fn, item) for item in iterable]

        def results() -> Iterator[T]:
            try:
                for future in futures:
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()

        return results()

    def handle(self, future: Future[Any]) -> str:
        """A string naming the work behind ``future``, for the database ("": not re-attachable)."""
        return ""

    def submit_named(
        self, name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> Future[T]:
        """``submit`` under ``name`` (unique to this piece of work, e.g. call key + a random
        suffix), so that :meth:`named_handle` finds the work again. Default: plain ``submit``."""
        return self.submit(fn, *args, **kwargs)

    def named_handle(self, name: str) -> str:
        """The handle of work submitted by ``submit_named(name, ...)``, known *before* it is
        submitted: a driver stores it first, then submits, so no kill can leave a running job
        unrecorded. "" when the backend has none (store ``handle(future)`` after submitting)."""
        return ""

    def attach(self, handle: str) -> Future[Any] | None:
        """A future for the work named by ``handle``, or ``None`` when it cannot be re-attached."""
        return None

    @abstractmethod
    def shutdown(self, wait: bool = True) -> None:
        """Release workers; with ``wait`` first let submitted calls finish."""

    def __enter__(self) -> QawareExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(wait=exc_type is None)
