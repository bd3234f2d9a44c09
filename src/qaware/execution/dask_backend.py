"""Dask backend: calls run as tasks on a ``distributed`` cluster.

With no address the executor starts (and on shutdown closes) a LocalCluster of single-threaded
worker processes. Dask reschedules the call of a worker that died on another worker; after
``distributed.scheduler.allowed-failures`` deaths it gives up with ``KilledWorker``, which
becomes a :class:`~qaware.errors.ExecutionError`. Dask keeps no results once the driver is gone,
so ``attach`` returns ``None`` (the handle is the task key, useful in the dashboard and logs).

Why not ``Client.get_executor()``: its futures keep the Dask future alive, so a finished result
stays in worker memory, and when that worker dies Dask *recomputes* the finished task (an hour
of DFT, again). Here the outcome is copied into a plain future and the Dask task released.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import wait as wait_futures
from typing import Any, TypeVar

from qaware.errors import ExecutionError, MissingDependencyError
from qaware.execution._call import Call
from qaware.execution._futures import BackedFuture
from qaware.execution.base import QawareExecutor

__all__ = ["DaskExecutor", "DaskFuture"]

T = TypeVar("T")


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependencyError(
            "distributed", "dask", "The Dask executor (execution.backend: dask)"
        ) from exc
    return distributed


class DaskFuture(BackedFuture):
    """A plain future fed by one Dask task; ``cancel()`` also cancels the task."""

    def __init__(self, task: Any) -> None:
        super().__init__()
        self.key: str = str(task.key)
        self.task: Any = task  # dropped once the outcome is copied

    def cancel(self) -> bool:
        task = self.task
        if task is not None and not self.done():
            task.cancel()
            if task.cancelled():  # now, rather than when the callback thread gets to it
                self.mark_cancelled()
        return self.cancelled()


class DaskExecutor(QawareExecutor):
    """Calls on a Dask cluster: ``address`` of a running scheduler, or a LocalCluster here.

    max_workers: LocalCluster worker processes (one thread each); ignored with ``address``.
    """

    backend = "dask"

    def __init__(self, address: str | None = None, *, max_workers: int = 2) -> None:
        distributed = _import_distributed()
        self._cluster: Any = None
        try:
            if address is None:
                self._cluster = distributed.LocalCluster(
                    n_workers=max_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                self.client = distributed.Client(self._cluster)
            else:
                self.client = distributed.Client(address)
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            where = address or f"a LocalCluster of {max_workers} workers"
            raise ExecutionError(f"cannot connect a Dask client to {where}: {exc}") from exc
        self._killed_worker: type[BaseException] = distributed.KilledWorker
        self._lock = threading.Lock()
        self._pending: set[DaskFuture] = set()
        self._closed = False

    def _outcome_error(self, task: Any, name: str) -> BaseException:
        exc = task.exception()
        if isinstance(exc, self._killed_worker):
            error = ExecutionError(
                f"Dask task {task.key} ({name}) was lost: the workers running it died ({exc})"
            )
            error.__cause__ = exc
            return error
        return exc.with_traceback(task.traceback())

    def _transfer(self, outer: DaskFuture, name: str) -> Callable[[Any], None]:
        """Copy a finished Dask task's outcome into ``outer``, then release the task."""

        def transfer(task: Any) -> None:
            try:
                if task.status == "finished":
                    outer.set_result(task.result())
                elif task.status == "cancelled":
                    outer.mark_cancelled()
                else:
                    outer.set_exception(self._outcome_error(task, name))
            except InvalidStateError:  # cancelled meanwhile
                pass
            except Exception as exc:  # e.g. the scheduler went away while reading
                if not outer.done():
                    outer.set_exception(
                        ExecutionError(f"Dask task {task.key} ({name}): outcome lost: {exc}")
                    )
            finally:
                outer.task = None
                task.release()
                with self._lock:
                    self._pending.discard(outer)

        return transfer

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        call = Call(fn, args, kwargs)  # one argument-free callable: no keyword collisions
        key = f"{getattr(fn, '__name__', 'call')}-{uuid.uuid4().hex}"
        with self._lock:
            if self._closed:
                raise ExecutionError("the Dask executor is shut down; make a new one")
            task = self.client.submit(call, key=key, pure=False)
            outer = DaskFuture(task)
            self._pending.add(outer)
        task.add_done_callback(self._transfer(outer, call.name))
        return outer

    def handle(self, future: Future[Any]) -> str:
        """The Dask task key (informational: Dask cannot re-attach after a driver restart)."""
        return future.key if isinstance(future, DaskFuture) else ""

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        if wait:
            wait_futures(pending)
        else:
            for future in pending:
                future.cancel()
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
