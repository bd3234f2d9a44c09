"""Helpers every oracle uses: a settings hash, a never-raising timed call, a hard timeout.

* :func:`settings_hash` — the oracle half of the oracle-call key (DESIGN.md §4 "Store"): sha256 of
  the canonical JSON of the code name, its version and every setting that changes the answer.
* :func:`timed_call` — runs ``fn(atoms)``, measures wall time and peak memory, and turns any
  exception into ``OracleResult(ok=False, reason="exception: <Type>: <msg>")``.
* :func:`run_with_timeout` — runs ``oracle.compute(atoms)`` in a fresh child process and kills
  the child's whole process group (SIGKILL) when it runs past ``timeout_s``. A child that dies
  (segfault, OOM kill, ``os._exit``) comes back as ``reason="worker_died: ..."``.

None of these raise for a failed calculation: a campaign counts the failure as a spent call.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from multiprocessing.connection import wait
from typing import Any, Final

from ase import Atoms

from qaware._canonical import canonical_json, canonical_sha256
from qaware.oracles.result import OracleResult
from qaware.protocols import Oracle

__all__ = [
    "REASON_TIMEOUT",
    "REASON_WORKER_DIED",
    "canonical_json",
    "peak_memory_mb",
    "run_with_timeout",
    "settings_hash",
    "timed_call",
]

REASON_TIMEOUT: Final[str] = "timeout"
REASON_WORKER_DIED: Final[str] = "worker_died"
_JOIN_GRACE_S: Final[float] = 5.0  # how long a child that already answered may take to exit


def settings_hash(obj: Mapping[str, Any]) -> str:
    """sha256 hex digest (64 chars) of the canonical JSON of ``obj``.

    ``obj`` should name the code (``code``), its version (``code_version``) and every setting
    that changes the answer (method, basis, spin, thresholds, sanity gates), so that two calls
    share a key exactly when they would return the same result.
    """
    return canonical_sha256(obj)


def peak_memory_mb() -> float:
    """Peak resident set size (MiB) of this process or of its finished children, whichever is
    larger. ``ru_maxrss`` is a lifetime peak: it is the cost of one call only in a fresh process
    (which is what :func:`run_with_timeout` gives)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0  # Linux reports KiB


def timed_call(
    fn: Callable[[Atoms], OracleResult],
    atoms: Atoms,
    *,
    level: str,
    code: str = "",
    code_version: str = "",
    settings_hash: str = "",
) -> OracleResult:
    """Call ``fn(atoms)``; return its result with ``wall_time_s`` and ``peak_memory_mb`` set.

    Any ``Exception`` becomes ``OracleResult.failure(level, "exception: <Type>: <msg>")`` with
    the given provenance. ``KeyboardInterrupt``/``SystemExit`` still propagate: a user's
    interrupt must stop a campaign (it resumes later), not be stored as a failed calculation.
    """
    start = time.perf_counter()
    try:
        result = fn(atoms)
        if not isinstance(result, OracleResult):
            raise TypeError(f"oracle function returned {type(result).__name__}, not OracleResult")
    except Exception as exc:
        message = " ".join(str(exc).split())[:500]
        result = OracleResult.failure(
            level,
            f"exception: {type(exc).__name__}: {message}",
            code=code,
            code_version=code_version,
            settings_hash=settings_hash,
        )
    return replace(result, wall_time_s=time.perf_counter() - start, peak_memory_mb=peak_memory_mb())


def _provenance(oracle: Oracle) -> dict[str, str]:
    """Level/code/hash of ``oracle`` for a failure built in the parent; never raises."""
    out = {"level": "?", "code": "", "code_version": "", "settings_hash": ""}
    for key, getter in (
        ("level", lambda: oracle.level),
        ("settings_hash", oracle.settings_hash),
        ("code", lambda: oracle.code),  # type: ignore[attr-defined]
        ("code_version", lambda: oracle.code_version),  # type: ignore[attr-defined]
    ):
        with contextlib.suppress(Exception):  # a failure report must not fail
            out[key] = str(getter())
    return out


def _leads_group(process: multiprocessing.process.BaseProcess) -> bool:
    """Whether the (live or zombie) child leads its own process group."""
    try:
        return process.pid is not None and os.getpgid(process.pid) == process.pid
    except OSError:
        return False


def _kill_group(process: multiprocessing.process.BaseProcess) -> None:
    """SIGKILL the child's process group (it made itself leader), else the child alone."""
    if _leads_group(process) and process.pid is not None:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
            return
    with contextlib.suppress(OSError):
        process.kill()


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "?"
        return f"{REASON_WORKER_DIED}: signal {-exitcode} ({name})"
    return f"{REASON_WORKER_DIED}: exit code {exitcode}"


def run_with_timeout(oracle: Oracle, atoms: Atoms, timeout_s: float) -> OracleResult:
    """Run ``oracle.compute(atoms)`` in a spawned child; give up after ``timeout_s`` seconds.

    The child starts its own process group; on timeout the whole group gets SIGKILL and the
    result is ``ok=False, reason="timeout"``. A child that dies without answering gives
    ``reason="worker_died: signal N (NAME)"`` or ``"worker_died: exit code N"``. The oracle
    and the atoms must be picklable (oracles are specs, DESIGN.md §4). ``wall_time_s`` of a
    failure is the parent's elapsed time (spawn included); ``diagnostics["child_pid"]`` names
    the child so a caller can check that it is gone.
    """
    from qaware.oracles._child import child_main

    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child_main, args=(sender, oracle, atoms))
    start = time.perf_counter()
    process.start()
    sender.close()  # only the child writes; our copy would hide its death (no EOF)
    reason = ""
    result: OracleResult | None = None
    try:
        ready = wait([receiver, process.sentinel], timeout=max(float(timeout_s), 0.0))
        if receiver in ready:
            try:
                result = receiver.recv()
            except (EOFError, OSError):
                result = None
        if result is None and not ready:
            reason = REASON_TIMEOUT
            _kill_group(process)
            process.join(_JOIN_GRACE_S)
        elif result is None:
            leader = _leads_group(process)  # a zombie still tells its group
            process.join(_JOIN_GRACE_S)
            reason = _death_reason(process.exitcode)
            if leader and process.pid is not None:  # kill what the dead child left running
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGKILL)
        else:
            process.join(_JOIN_GRACE_S)
    finally:
        if process.is_alive():
            _kill_group(process)
            process.join(_JOIN_GRACE_S)
        receiver.close()
    if result is not None:
        return result
    prov = _provenance(oracle)
    return OracleResult.failure(
        prov.pop("level"),
        reason,
        wall_time_s=time.perf_counter() - start,
        diagnostics={"child_pid": process.pid, "timeout_s": float(timeout_s)},
        **prov,
    )
