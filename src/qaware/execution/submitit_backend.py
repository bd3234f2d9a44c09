"""submitit backend: one SLURM job per call (local subprocesses when there is no SLURM).

Each job lives in its own folder (pickled call, logs, pickled result), so a job keeps running
when the driver dies, and a restarted driver re-attaches to it from a handle in its database.
A watcher thread polls the jobs and completes real :class:`concurrent.futures.Future` objects.

How re-attach works (what :class:`~qaware.oracles.runner.OracleRunner` relies on):

* ``submit_named(name, ...)`` puts the job in ``<folder>/<name>/``. Its handle,
  ``submitit:<cluster>:*:<folder>/<name>``, is known *before* the job exists
  (:meth:`SubmititExecutor.named_handle`), so the driver commits it with the call row and only
  then submits: no kill can leave a running job that the database does not point to. This
  holds for calls queued behind ``max_running`` too: their job starts later, in the watcher
  thread, in the folder their handle already names.
* ``attach(handle)`` looks in that folder for submitit's ``<job id>_submitted.pkl``, written
  (atomically, by rename) right after the job is started and before the job can run the call
  (the job waits for it). Found: the new driver watches that job (SLURM: its job id; locally:
  its process) and reads its result pickle, however long ago the job ended. Not found: the job
  never started (queued, or the driver died mid-submit, in which case the job gives up without
  computing), so ``attach`` returns ``None`` and the caller resubmits.
* Plain ``submit`` puts jobs in ``<folder>/<job id>/`` with the handle
  ``submitit:<cluster>:<job id>:<job folder>``, known only once the job is started.

Caveats: ``folder`` and the Python environment must be visible from the compute nodes and from
any restarted driver (a shared filesystem; the job folders are the only record of the jobs
besides SLURM's). On submitit's local cluster the job id is the process id of a job that
outlived its driver: re-attach checks that pid (a handle from before a reboot may name an
unrelated process; the result file decides when it exists). ``debug`` runs cannot re-attach.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import wait as wait_futures
from pathlib import Path
from typing import Any, TypeVar

from qaware.errors import ConfigError, ExecutionError, MissingDependencyError
from qaware.execution._call import CapturedCall, Outcome, RemoteTraceback
from qaware.execution._futures import BackedFuture
from qaware.execution.base import QawareExecutor

__all__ = ["SubmititExecutor"]

T = TypeVar("T")

HANDLE_PREFIX = "submitit"
ANY_JOB = "*"  # job id of a named handle: the job is found in its folder
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# submitit's local cluster kills a job after 2 min unless told otherwise; oracles take hours.
LOCAL_TIMEOUT_MIN = 7 * 24 * 60


def _import_submitit() -> Any:
    try:
        import submitit
    except ImportError as exc:
        raise MissingDependencyError(
            "submitit", "slurm", "The submitit executor (execution.backend: submitit)"
        ) from exc
    return submitit


LOCAL_CANCEL_GRACE_S = 5.0
"""A cancelled local job gets SIGINT (submitit's way), then SIGKILL after this many seconds: a
job still importing on a loaded machine, or one whose code catches KeyboardInterrupt, would
otherwise keep running after ``cancel()`` said it stopped."""


def _kill_if_still_running(pid: int, grace_s: float) -> None:
    """SIGKILL ``pid`` after ``grace_s`` seconds unless it has exited (a daemon timer thread)."""

    def kill() -> None:
        if _pid_running(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    timer = threading.Timer(grace_s, kill)
    timer.daemon = True
    timer.start()


def _pid_running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux ``/proc``; elsewhere: exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class JobFuture(BackedFuture):
    """The future of one submitit job; ``job`` is ``None`` while the call waits for a slot.

    ``cancel()`` also cancels the job (``scancel`` on SLURM, SIGINT locally).
    """

    def __init__(
        self, call: CapturedCall | None, cluster: str, orphan: bool = False, name: str = ""
    ) -> None:
        super().__init__()
        self.call = call
        self.cluster = cluster
        self.orphan = orphan  # re-attached local job: not a child of this process
        self.name = name  # submit_named: the job goes to <folder>/<name>/
        self.job: Any = None

    @property
    def label(self) -> str:
        job_id = getattr(self.job, "job_id", "?")
        return f"{self.call.name} (job {job_id})" if self.call else f"job {job_id}"

    def cancel(self) -> bool:
        if self.job is not None and not self.done():
            self.job.cancel(check=False)
            if self.cluster == "local":
                _kill_if_still_running(int(self.job.job_id), grace_s=LOCAL_CANCEL_GRACE_S)
        return self.mark_cancelled()

    def job_done(self) -> bool:
        if self.orphan:
            return bool(self.job.paths.result_pickle.exists()) or not _pid_running(
                int(self.job.job_id)
            )
        return bool(self.job.done())

    def settle(self) -> None:
        """Read the finished job's result into this future (runs in the watcher thread)."""
        try:
            outcome = self.job.result()
        except Exception as exc:  # submitit's UncompletedJobError / FailedJobError
            error = ExecutionError(
                f"submitit {self.label} ended without a result ({type(exc).__name__}): {exc}"
            )
            error.__cause__ = exc
            self._finish(exception=error)
            return
        if isinstance(outcome, Outcome) and outcome.error is not None:
            outcome.error.__cause__ = RemoteTraceback(outcome.traceback)
            self._finish(exception=outcome.error)
        else:
            self._finish(result=outcome.value if isinstance(outcome, Outcome) else outcome)

    def _finish(self, result: Any = None, exception: BaseException | None = None) -> None:
        try:
            if exception is not None:
                self.set_exception(exception)
            else:
                self.set_result(result)
        except InvalidStateError:  # cancelled meanwhile
            pass


class SubmititExecutor(QawareExecutor):
    """submitit's ``AutoExecutor`` behind the qaware executor contract.

    folder:      jobs go to ``folder/<job id>/``; must be shared with the compute nodes.
    cluster:     ``None``/``"auto"`` (SLURM if available, else local), ``local``, ``slurm``,
                 ``debug`` (in the driver, for debugging).
    parameters:  ``update_parameters`` keywords (``timeout_min``, ``slurm_partition``, ...).
    max_running: cap on simultaneous jobs for the local cluster (ignored on SLURM); further
                 calls wait in a queue and get their job (and handle) when a slot frees.
    """

    backend = "submitit"

    def __init__(
        self,
        folder: Path | str,
        *,
        cluster: str | None = None,
        parameters: dict[str, Any] | None = None,
        max_running: int | None = None,
        poll_interval_s: float | None = None,
    ) -> None:
        submitit = _import_submitit()
        self.folder = Path(folder).expanduser().absolute()
        try:
            self._ex = submitit.AutoExecutor(
                folder=self.folder / "%j", cluster=None if cluster in (None, "auto") else cluster
            )
        except (RuntimeError, ValueError) as exc:
            raise ExecutionError(f"submitit cannot start (cluster {cluster!r}): {exc}") from exc
        self.cluster: str = self._ex.cluster
        params = dict(parameters or {})
        if self.cluster == "local":
            params.setdefault("timeout_min", LOCAL_TIMEOUT_MIN)
        try:
            self._ex.update_parameters(**params)
        except (NameError, AssertionError, ValueError, TypeError) as exc:
            raise ConfigError(f"execution.slurm: {exc}") from exc
        self._params = params
        self.max_running = max_running if self.cluster == "local" else None
        slow = self.cluster == "slurm"
        self.poll_interval_s = poll_interval_s or (5.0 if slow else 0.2)
        self._lock = threading.Lock()
        self._queued: deque[JobFuture] = deque()
        self._running: list[JobFuture] = []
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- submission -------------------------------------------------------------------------
    def _executor_for(self, future: JobFuture) -> Any:
        """submitit's executor for ``future``: the shared one, or one for its named folder."""
        if not future.name:
            return self._ex
        submitit = _import_submitit()
        named = submitit.AutoExecutor(folder=self.folder / future.name, cluster=self.cluster)
        named.update_parameters(**self._params)
        return named

    def _start(self, future: JobFuture) -> None:
        assert future.call is not None
        try:
            future.job = self._executor_for(future).submit(future.call)
        except Exception as exc:
            raise ExecutionError(
                f"submitit ({self.cluster}) could not submit {future.call.name}: {exc}"
            ) from exc
        if self.cluster == "local":
            future.job._results_timeout_s = 2  # local disk: no need for submitit's 15 s NFS wait
        self._running.append(future)

    def _start_queued(self) -> None:
        """Start waiting calls while slots are free (caller holds the lock)."""
        while self._queued and (self.max_running is None or len(self._running) < self.max_running):
            future = self._queued.popleft()
            if future.cancelled():
                continue
            try:
                self._start(future)
            except ExecutionError as exc:
                future._finish(exception=exc)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._enqueue(JobFuture(CapturedCall(fn, args, kwargs), self.cluster))

    def submit_named(
        self, name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> Future[T]:
        """``submit`` into ``<folder>/<name>/``; ``name``: letters, digits, ``._-`` (<= 128),
        unique per submission (a folder that exists already is refused)."""
        self._check_name(name)
        if (self.folder / name).exists():
            raise ExecutionError(
                f"submitit job folder {self.folder / name} exists: reuse of a name"
            )
        return self._enqueue(JobFuture(CapturedCall(fn, args, kwargs), self.cluster, name=name))

    def _enqueue(self, future: JobFuture) -> Future[Any]:
        with self._lock:
            if self._closed:
                raise ExecutionError("the submitit executor is shut down; make a new one")
            if not self._queued and (
                self.max_running is None or len(self._running) < self.max_running
            ):
                self._start(future)  # submission errors (sbatch, pickling) raise here
            else:
                self._queued.append(future)
        self._ensure_watcher()
        return future

    # -- handles ----------------------------------------------------------------------------
    @staticmethod
    def _check_name(name: str) -> None:
        if not _NAME.fullmatch(name):
            raise ExecutionError(
                f"submitit job name {name!r}: use letters, digits, '.', '_', '-' (at most 128)"
            )

    def named_handle(self, name: str) -> str:
        """``submitit:<cluster>:*:<folder>/<name>``, valid before and after the job starts;
        "" on the debug cluster (its jobs run in the driver and die with it)."""
        self._check_name(name)
        if self.cluster == "debug":
            return ""
        return f"{HANDLE_PREFIX}:{self.cluster}:{ANY_JOB}:{self.folder / name}"

    def handle(self, future: Future[Any]) -> str:
        """``submitit:<cluster>:<job id>:<job folder>`` (a named future: its named handle, even
        while it waits for a slot); "" for a plain future before its job starts, or on debug."""
        if not isinstance(future, JobFuture) or future.cluster == "debug":
            return ""
        if future.name:
            return self.named_handle(future.name)
        if future.job is None:
            return ""
        job = future.job
        return f"{HANDLE_PREFIX}:{future.cluster}:{job.job_id}:{job.paths.folder}"

    def attach(self, handle: str) -> Future[Any] | None:
        """Future of the job named by ``handle``; ``None`` if not a submitit job or files gone."""
        if not handle.startswith(HANDLE_PREFIX + ":"):
            return None
        parts = handle.split(":", 3)
        if len(parts) != 4 or not parts[2] or not parts[3]:
            raise ExecutionError(
                f"malformed submitit handle {handle!r}: "
                "expected 'submitit:<cluster>:<job id>:<folder>'"
            )
        _, cluster, job_id, folder = parts
        if cluster not in ("local", "slurm") or not Path(folder).is_dir():
            return None
        if job_id == ANY_JOB:  # named: the job id is in the name of its submitted pickle
            found = sorted(Path(folder).glob("*_submitted.pkl"))
            if not found:  # the job never started (queued, or killed mid-submit): resubmit
                return None
            job_id = found[-1].name.removesuffix("_submitted.pkl")
        _import_submitit()
        from submitit.local.local import LocalJob
        from submitit.slurm.slurm import SlurmJob

        future = JobFuture(None, cluster, orphan=cluster == "local")
        job_class = LocalJob if cluster == "local" else SlurmJob
        future.job = job_class(folder=folder, job_id=job_id)
        if cluster == "local":
            future.job._results_timeout_s = 2
        with self._lock:
            if self._closed:
                raise ExecutionError("the submitit executor is shut down; make a new one")
            self._running.append(future)
        self._ensure_watcher()
        return future

    # -- watcher ----------------------------------------------------------------------------
    def _ensure_watcher(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="qaware-submitit-watcher", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def _watch(self) -> None:
        while True:
            with self._lock:
                running = list(self._running)
                if self._closed and not running and not self._queued:
                    return
            finished = []
            for future in running:
                if future.cancelled():
                    finished.append(future)
                elif future.job_done():
                    future.settle()
                    finished.append(future)
            with self._lock:
                for future in finished:
                    self._running.remove(future)
                self._start_queued()
                idle = not self._running and not self._queued
            self._wake.wait(None if idle and not self._closed else self.poll_interval_s)
            self._wake.clear()

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting calls. ``wait``: block until every job ends; else queued calls are
        cancelled and running jobs go on (re-attach them later from their handles)."""
        with self._lock:
            self._closed = True
            pending = list(self._queued) + list(self._running)
            if not wait:
                for future in self._queued:
                    future.cancel()
                self._queued.clear()
                self._running.clear()
        if wait and pending:
            wait_futures(pending)
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=None if wait else 5)
