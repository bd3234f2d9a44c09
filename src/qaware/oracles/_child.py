"""Entry point of the child process that :func:`qaware.oracles.base.run_with_timeout` spawns.

Kept in its own small module so that the spawned interpreter imports as little as possible
before it starts the calculation.
"""

from __future__ import annotations

import contextlib
import os
from multiprocessing.connection import Connection

from ase import Atoms

from qaware.oracles.result import OracleResult
from qaware.protocols import Oracle

__all__ = ["child_main"]


def child_main(conn: Connection, oracle: Oracle, atoms: Atoms) -> None:
    """Become a process-group leader, run ``oracle.compute(atoms)``, send the result back.

    Leading a process group lets the parent SIGKILL everything this calculation started
    (MPI ranks, helper processes) with one ``killpg``; it also takes the child out of the
    group a ``kill -9`` of the driver reaches, so the child asks the kernel to end it when its
    parent dies (a calculation nobody waits for would run on for hours). An oracle that raises
    despite the protocol is reported as ``exception: ...`` rather than as a dead worker.
    """
    from qaware.execution.local import die_with_parent

    # Already a leader (or not permitted): the parent then falls back to kill().
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    die_with_parent()
    from qaware.oracles.base import _provenance, timed_call

    result: OracleResult = timed_call(oracle.compute, atoms, **_provenance(oracle))
    try:
        conn.send(result)
    finally:
        conn.close()
