"""Local backend: a process pool on this machine that survives the death of a worker.

A worker killed by a signal or ``os._exit`` breaks a :class:`ProcessPoolExecutor` for good, and
every call pending in it fails with ``BrokenProcessPool``. Here those calls fail with an
:class:`~qaware.errors.ExecutionError` that says which worker died and how, and the next
``submit`` starts a fresh pool, so one crashing oracle cannot stop a campaign.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal, TypeVar

from qaware.errors import ExecutionError
from qaware.execution._call import Call
from qaware.execution._futures import chain
from qaware.execution.base import QawareExecutor

__all__ = ["LocalExecutor", "die_with_parent"]

T = TypeVar("T")


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _dead_workers(processes: dict[int, Any]) -> str:
    """'pid 123 killed by SIGKILL, ...' for the pool's workers that have exited.

    Called as soon as the pool notices a dead worker: its pipe is closed but the kernel may not
    have made it a zombie yet, so exited workers get a short join before their status is read.
    """
    dead = []
    for proc in list(processes.values()):
        try:
            if not multiprocessing.connection.wait([proc.sentinel], timeout=0):
                continue  # still running
            proc.join(timeout=1.0)
        except (ValueError, OSError):  # process object already closed
            continue
        if proc.exitcode is not None:
            dead.append(f"pid {proc.pid} {_exit_status(proc.exitcode)}")
    return ", ".join(dead) if dead else "no exit status recorded"


def die_with_parent() -> None:
    """Pool initializer: end this worker when the driver dies (``kill -9`` included).

    An orphaned worker would otherwise keep computing a result nobody can receive and hold its
    memory and the driver's output pipes (an idle pool worker waits on its task pipe forever: it
    holds that pipe's write end itself). Linux: the kernel sends SIGKILL on the parent's death
    (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread polls the parent pid. The parent is
    the process that spawned this one (``multiprocessing.parent_process()``), not whatever
    ``getppid()`` says now: a driver killed while the worker was still importing leaves it
    reparented to init before this runs, and it used to take init for its parent and live on.
    """
    import multiprocessing
    import os
    import sys

    spawner = multiprocessing.parent_process()
    parent = spawner.pid if spawner is not None and spawner.pid else os.getppid()
    if os.getppid() != parent:  # the driver is already gone
        os._exit(1)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
                if os.getppid() != parent:  # the parent died before prctl took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="qaware-parent-watch").start()


class LocalExecutor(QawareExecutor):
    """:class:`ProcessPoolExecutor` with ``max_workers`` processes, restarted when broken.

    Calls are shipped with cloudpickle when it is installed, so functions defined in ``__main__``
    or a notebook work under ``spawn``. Local work cannot outlive the driver (workers die with
    it), so ``handle`` returns ``""`` and ``attach`` returns ``None``. A running call cannot be
    cancelled.
    """

    backend = "local"

    def __init__(
        self, max_workers: int = 2, mp_context: Literal["spawn", "forkserver", "fork"] = "spawn"
    ) -> None:
        if max_workers < 1:
            raise ExecutionError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self.mp_context = mp_context
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self.restarts = 0  # pools discarded after a worker died

    def _current_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise ExecutionError("the local executor is shut down; make a new one")
            if self._pool is None:
                context = multiprocessing.get_context(self.mp_context)
                self._pool = ProcessPoolExecutor(
                    self.max_workers, mp_context=context, initializer=die_with_parent
                )
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Forget a broken pool so that the next submission starts a new one."""
        with self._lock:
            if self._pool is pool:
                self._pool = None
                self.restarts += 1
        # No pool.shutdown(): a broken pool's manager thread has already stopped its workers.

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        call = Call(fn, args, kwargs)
        pool = self._current_pool()
        try:
            inner = pool.submit(call)
        except BrokenProcessPool:  # broke before its futures' callbacks ran
            self._discard(pool)
            pool = self._current_pool()
            inner = pool.submit(call)
        # The pool's worker table (a private attribute, stable since Python 3.8), read after a
        # crash to say which worker died and how; the same dict object gains later workers.
        table = getattr(pool, "_processes", None)
        processes: dict[int, Any] = table if table is not None else {}

        def translate(exc: BaseException) -> BaseException:
            if not isinstance(exc, BrokenProcessPool):
                return exc
            self._discard(pool)
            cause = f"; worker error: {exc.__cause__}" if exc.__cause__ is not None else ""
            error = ExecutionError(
                f"local worker process died while {call.name} was running or queued "
                f"({_dead_workers(processes)}){cause}. Every call pending in that pool failed "
                "with it, so this call may not be the culprit; later submissions use a new pool."
            )
            error.__cause__ = exc
            return error

        return chain(inner, translate)

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=not wait)
