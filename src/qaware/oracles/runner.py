"""Run oracle calls through an executor with the campaign store as their cache.

An oracle call is keyed by ``oracle_call_key(structure hash, oracle.settings_hash())``
(DESIGN.md §4 "Store"). :class:`OracleRunner` guarantees, for every key:

* a stored ``done`` result is served from the store and never recomputed;
* a ``done`` result of the same key in one of the ``reuse`` stores (an earlier run, a data-set
  build with the same oracle settings) is copied into the store and served: the key covers the
  structure and every setting of the oracle, so it is the same calculation;
* the call row is written (``submitted``) *before* the work goes to the executor, and the
  result is written the moment it arrives (as-completed order), so a killed driver loses at
  most the calls in flight;
* a failed result is retried up to ``max_retries`` times (the store counts attempts), then left
  ``failed`` with its reason; a failed calculation never raises. A result refused by a sanity
  gate (``diagnostics["gates_failed"]``) is a verdict, not a failure: never retried;
* a call left ``submitted`` by a killed driver is re-attached (``executor.attach``) when the
  backend can, else resubmitted. The lost attempt counts as one attempt, but a resubmitted call
  always gets at least one more. Backends that name jobs ahead (submitit:
  ``executor.named_handle``) get the handle committed with the call row *before* the job is
  submitted, so a job that runs is always found again; others get it stored just after.

Two tasks with the same key in one batch are computed once and both answered. Only the driver
(the caller's thread) writes to the store.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import NamedTuple

from ase import Atoms

from qaware.execution import QawareExecutor, as_completed_with_progress
from qaware.oracles.base import _provenance, run_with_timeout, timed_call
from qaware.oracles.gates import is_gated
from qaware.oracles.result import OracleResult
from qaware.protocols import Oracle
from qaware.store import CallRecord, CallStatus, CampaignStore, oracle_call_key

__all__ = ["OracleRunner", "Task", "cached_compute", "compute_call"]

log = logging.getLogger("qaware.runner")


class Task(NamedTuple):
    """One oracle call to make: ``oracle`` on ``atoms`` (whose hash is ``structure_hash``).

    candidate_id: the candidate row the call serves, or None (a data-set structure).
    timeout_s, max_retries, run_in_child: per-task overrides of the runner's defaults (None:
    the runner's). ``run_in_child=False`` suits cheap oracles (a table lookup, EMT) and ones
    that keep a loaded model in the worker between calls (pretrained potentials).
    """

    candidate_id: int | None
    atoms: Atoms
    oracle: Oracle
    structure_hash: str
    timeout_s: float | None = None
    max_retries: int | None = None
    run_in_child: bool | None = None


def compute_call(oracle: Oracle, atoms: Atoms, timeout_s: float | None) -> OracleResult:
    """What a worker runs: ``oracle.compute(atoms)``, never raising.

    With ``timeout_s`` the calculation runs in a child process killed past the limit
    (:func:`~qaware.oracles.base.run_with_timeout`); None runs it in this process.
    """
    if timeout_s is not None:
        return run_with_timeout(oracle, atoms, timeout_s)
    return timed_call(oracle.compute, atoms, **_provenance(oracle))


def _checked(result: OracleResult, oracle: Oracle, key: str, structure_hash: str) -> OracleResult:
    """``result``, or a failure when it does not belong to this call (level or settings hash).

    The store refuses such a result; a buggy oracle must fail its call, not stop the run.
    """
    problem = ""
    if result.level != oracle.level:
        problem = f"result level {result.level!r} is not the oracle's {oracle.level!r}"
    elif result.settings_hash and oracle_call_key(structure_hash, result.settings_hash) != key:
        problem = "result settings hash is not the oracle's settings hash"
    if not problem:
        return result
    return OracleResult.failure(
        oracle.level,
        f"inconsistent_result: {problem}",
        wall_time_s=result.wall_time_s,
        diagnostics=result.diagnostics,
        **{k: v for k, v in _provenance(oracle).items() if k != "level"},
    )


def _from_future(future: Future[OracleResult], oracle: Oracle) -> OracleResult:
    """The future's result; an executor failure (dead worker, lost job) as a failed result."""
    try:
        return future.result()
    except Exception as exc:
        message = " ".join(str(exc).split())[:500]
        prov = _provenance(oracle)
        return OracleResult.failure(
            prov.pop("level"), f"executor: {type(exc).__name__}: {message}", **prov
        )


class _Group:
    """Tasks that share one oracle-call key, and the submissions that key may still have."""

    def __init__(self, key: str, task: Task) -> None:
        self.key, self.tasks, self.budget = key, [task], 0

    @property
    def first(self) -> Task:
        return self.tasks[0]


class _ProgressLog:
    """Logs done/total with elapsed time and ETA about every 5 % (the bar is only on a tty)."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self.start = total, desc, 0, time.monotonic()
        self.step = max(1, total // 20)

    def tick(self) -> None:
        self.done += 1
        if self.done % self.step and self.done != self.total:
            return
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        log.info(
            "%s: %d/%d computed, elapsed %s, ETA %s",
            self.desc, self.done, self.total, _clock(elapsed), _clock(eta),
        )  # fmt: skip


def _clock(seconds: float) -> str:
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{sec:02d}"


class OracleRunner:
    """Evaluates oracle tasks through ``executor``, caching every result in ``store``.

    timeout_s:    per-call wall-time limit (s); the call runs in a child process killed past it.
    max_retries:  retries of a failed call (so at most ``1 + max_retries`` attempts).
    run_in_child: False runs ``oracle.compute`` directly in the executor's worker, without a
                  timeout (cheap oracles, tests); True (default) isolates every call.
    desc:         label of the progress bar and progress log lines.
    reuse:        other stores (read only) whose ``done`` calls answer a key this store lacks;
                  the copy records where it came from (``diagnostics["reused_from"]``).
    retry_failed: give every stored failure whose retries are spent one more attempt (a
                  timeout on a loaded machine, a killed worker); results that failed a sanity
                  gate are verdicts, not failures, and are never retried.
    """

    def __init__(
        self,
        store: CampaignStore,
        executor: QawareExecutor,
        *,
        timeout_s: float,
        max_retries: int,
        run_in_child: bool = True,
        desc: str = "oracle calls",
        reuse: Sequence[CampaignStore] = (),
        retry_failed: bool = False,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.store, self.executor = store, executor
        self.timeout_s, self.max_retries = float(timeout_s), int(max_retries)
        self.run_in_child, self.desc = run_in_child, desc
        self.reuse = tuple(reuse)
        self.retry_failed = bool(retry_failed)

    def evaluate(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, OracleResult, bool]]:
        """Yield ``(task, result, from_cache)`` for every task, as results become final.

        Cached answers come first, then computed ones in the order they finish. A result is
        final when it is ok or its retries are spent; every attempt is stored on arrival.
        """
        groups = self._group([Task(*t) for t in tasks])
        known = {c.oracle_key: c for c in self.store.calls()}
        pending: list[_Group] = []
        attached: dict[Future[OracleResult], _Group] = {}
        n_reused = 0
        for group in groups.values():
            record = known.get(group.key)
            served = self._reused(group, record)
            n_reused += served is not None
            if served is None:
                served = self._plan(group, record, attached)
            if served is not None:
                for task in group.tasks:
                    yield task, served, True
            elif group.budget > 0 and group not in attached.values():
                pending.append(group)
        if pending or attached or n_reused:
            n_calls = len(pending) + len(attached)
            log.info("%s: %d to compute, %d served from the store (%d copied from reused "
                     "stores)", self.desc, n_calls, len(groups) - n_calls, n_reused)  # fmt: skip
        yield from self._run(pending, attached)

    def resume(self, oracles: Sequence[Oracle]) -> Iterator[tuple[Task, OracleResult, bool]]:
        """Finish the calls a killed driver left ``submitted``: re-attach or resubmit them.

        The store does not hold oracles (they are code), so the caller passes the ones the run
        uses; a submitted row is matched to the oracle whose key it has. Rows that match none
        are left as they are (logged). Yields like :meth:`evaluate`.
        """
        by_hash = {o.settings_hash(): o for o in oracles}
        tasks = []
        for record in self.store.calls(status=CallStatus.SUBMITTED):
            oracle = next(
                (o for h, o in by_hash.items()
                 if oracle_call_key(record.structure_hash, h) == record.oracle_key),
                None,
            )  # fmt: skip
            if oracle is None:
                log.warning("call %s (%s): no oracle given for it; left submitted",
                            record.oracle_key, record.level)  # fmt: skip
                continue
            tasks.append(Task(record.candidate_id, record.atoms, oracle, record.structure_hash))
        return self.evaluate(tasks)

    # ---- internals --------------------------------------------------------------------------
    def _group(self, tasks: list[Task]) -> dict[str, _Group]:
        hashes: dict[int, str] = {}  # settings_hash() can be costly (pretrained: weights sha256)
        groups: dict[str, _Group] = {}
        for task in tasks:
            digest = hashes.get(id(task.oracle))
            if digest is None:
                digest = hashes[id(task.oracle)] = task.oracle.settings_hash()
            key = oracle_call_key(task.structure_hash, digest)
            if key in groups:
                groups[key].tasks.append(task)
            else:
                groups[key] = _Group(key, task)
        return groups

    def _reused(self, group: _Group, record: CallRecord | None) -> OracleResult | None:
        """A ``done`` result of ``group``'s key from a reuse store, copied into this store;
        None when this store already has the call done or running, or no reuse store has it."""
        if not self.reuse or (record is not None and record.status == CallStatus.DONE):
            return None
        if record is not None and record.status == CallStatus.SUBMITTED and record.handle:
            return None  # a job may be running for it: let _plan re-attach
        for other in self.reuse:
            found = other.find_result(group.key)
            if found is None:
                continue
            diagnostics = {**found.diagnostics, "reused_from": repr(other)}
            if found.level != group.first.oracle.level:  # same calculation, another ladder name
                diagnostics["reused_level"] = found.level
            result = dataclasses.replace(
                found, level=group.first.oracle.level, diagnostics=diagnostics
            )
            task = group.first
            self.store.begin_call(task.candidate_id, task.atoms, oracle_key=group.key,
                                  level=task.oracle.level)  # fmt: skip
            self.store.record_result(task.candidate_id, group.key, result)
            return result
        return None

    def _retries(self, task: Task) -> int:
        return self.max_retries if task.max_retries is None else int(task.max_retries)

    def _plan(
        self,
        group: _Group,
        record: CallRecord | None,
        attached: dict[Future[OracleResult], _Group],
    ) -> OracleResult | None:
        """Set ``group.budget``; return a stored result to serve, else None (compute it)."""
        attempts = 1 + self._retries(group.first)
        if record is None:
            group.budget = attempts
            return None
        if record.status == CallStatus.DONE:
            return record.result
        if record.status == CallStatus.FAILED:
            if is_gated(record.result):  # a gate's verdict stands: the same call gives the same
                return record.result  # verdict, so neither a retry nor retry_failed reruns it
            group.budget = attempts - record.attempt
            if self.retry_failed:  # one more try
                group.budget = max(1, group.budget)
            return record.result if group.budget <= 0 else None
        # submitted by a driver that died: the work may still be running somewhere
        future = self.executor.attach(record.handle) if record.handle else None
        if future is not None:
            attached[future] = group
            group.budget = attempts - record.attempt
            log.info("re-attached call %s (%s) to job %s", group.key, record.level, record.handle)
        else:
            group.budget = max(1, attempts - record.attempt + 1)
        return None

    def _submit(self, group: _Group) -> Future[OracleResult]:
        """Commit the call row, then hand the call to the executor.

        With a backend that names its jobs ahead (submitit) the row carries the job's handle
        before the job exists; else the handle (if any) is stored right after submitting.
        """
        task = group.first
        name = f"{group.key}-{uuid.uuid4().hex[:8]}"  # one per attempt: a fresh job folder
        handle = self.executor.named_handle(name)
        call_id = self.store.begin_call(
            task.candidate_id, task.atoms, oracle_key=group.key, level=task.oracle.level,
            handle=handle,
        )  # fmt: skip
        timeout = self.timeout_s if task.timeout_s is None else float(task.timeout_s)
        in_child = self.run_in_child if task.run_in_child is None else task.run_in_child
        args = (compute_call, task.oracle, task.atoms, timeout if in_child else None)
        if handle:
            future = self.executor.submit_named(name, *args)
        else:
            future = self.executor.submit(*args)
            handle = self.executor.handle(future)
            if handle:
                self.store.set_call_handle(call_id, handle)
        group.budget -= 1
        return future

    def _run(
        self, pending: list[_Group], attached: dict[Future[OracleResult], _Group]
    ) -> Iterator[tuple[Task, OracleResult, bool]]:
        """Rounds: submit, collect as completed, queue failures with budget for the next round."""
        total = len(pending) + len(attached)
        progress = _ProgressLog(total, self.desc)
        round_no = 0
        while pending or attached:
            futures: dict[Future[OracleResult], _Group] = dict(attached)
            attached = {}
            for group in pending:
                futures[self._submit(group)] = group
            desc = self.desc if round_no == 0 else f"{self.desc} (retry {round_no})"
            retry: list[_Group] = []
            for future in as_completed_with_progress(futures, desc):
                group = futures[future]
                task = group.first
                result = _checked(
                    _from_future(future, task.oracle), task.oracle, group.key, task.structure_hash
                )
                self.store.record_result(task.candidate_id, group.key, result)
                if not result.ok and group.budget > 0 and not is_gated(result):
                    log.info("%s: call %s failed (%s); retrying (%d left)",
                             self.desc, group.key, result.reason, group.budget)  # fmt: skip
                    retry.append(group)
                    continue
                progress.tick()
                for each in group.tasks:
                    yield each, result, False
            pending, round_no = retry, round_no + 1


def cached_compute(
    store: CampaignStore,
    oracle: Oracle,
    atoms: Atoms,
    *,
    candidate_id: int | None = None,
    structure_hash: str | None = None,
) -> OracleResult:
    """One oracle call in this process, served from ``store`` when its key is ``done``.

    Otherwise the call row is begun, ``oracle.compute(atoms)`` runs here (no timeout, never
    raising) and its result is stored, ok or failed. A failed call is tried again on the next
    call of this function: use :class:`OracleRunner` for retry limits and timeouts.
    structure_hash: the atoms' hash when the caller has it (else computed here).
    """
    if structure_hash is None:
        from qaware.structures.hashing import structure_hash as hash_of

        structure_hash = hash_of(atoms)
    key = oracle_call_key(structure_hash, oracle.settings_hash())
    found = store.find_result(key)
    if found is not None:
        return found
    store.begin_call(candidate_id, atoms, oracle_key=key, level=oracle.level)
    result = _checked(compute_call(oracle, atoms, None), oracle, key, structure_hash)
    store.record_result(candidate_id, key, result)
    return result
