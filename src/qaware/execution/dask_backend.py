"""Dask backend: calls run on a ``distributed`` cluster through ``Client.get_executor()``.

With no address the executor starts (and on shutdown closes) a LocalCluster of single-threaded
worker processes. Dask reschedules the call of a worker that died on another worker; after
``distributed.scheduler.allowed-failures`` deaths it gives up with ``KilledWorker``, which
becomes a :class:`~qaware.errors.ExecutionError`. Dask keeps no results once the driver is gone,
so ``attach`` returns ``None`` (the handle is the task key, useful in the dashboard and logs).
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from qaware.errors import ExecutionError, MissingDependencyError
from qaware.execution._call import Call
from qaware.execution._futures import chain
from qaware.execution.base import QawareExecutor

__all__ = ["DaskExecutor"]

T = TypeVar("T")


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependencyError(
            "distributed", "dask", "The Dask executor (execution.backend: dask)"
        ) from exc
    return distributed


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
        self._executor = self.client.get_executor(pure=False)
        self._keys: weakref.WeakKeyDictionary[Future[Any], str] = weakref.WeakKeyDictionary()
        self._killed_worker: type[BaseException] = distributed.KilledWorker

    def _translate(self, key: str, name: str) -> Callable[[BaseException], BaseException]:
        def translate(exc: BaseException) -> BaseException:
            if not isinstance(exc, self._killed_worker):
                return exc
            error = ExecutionError(
                f"Dask task {key} ({name}) was lost: the workers running it died too often ({exc})"
            )
            error.__cause__ = exc
            return error

        return translate

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        call = Call(fn, args, kwargs)
        key = f"{getattr(fn, '__name__', 'call')}-{uuid.uuid4().hex}"
        try:
            inner = self._executor.submit(call, key=key)
        except RuntimeError as exc:  # "cannot schedule new futures after shutdown"
            raise ExecutionError(f"the Dask executor cannot take {call.name}: {exc}") from exc
        outer = chain(inner, self._translate(key, call.name))
        self._keys[outer] = key
        return outer

    def handle(self, future: Future[Any]) -> str:
        """The Dask task key (informational: Dask cannot re-attach after a driver restart)."""
        return self._keys.get(future, "")

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait)
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
