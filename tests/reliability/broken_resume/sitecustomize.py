"""A deliberately broken resume, loaded only into the drivers of the test of the test (this
folder goes first on their PYTHONPATH, so Python imports this file at start-up).

``QAWARE_BROKEN_RESUME`` picks the bug:

* ``trust-submitted``: a call that a killed driver left ``submitted`` is taken as finished,
  as if it had been marked done before its result was written: the resumed driver serves it
  as a lost (failed) result instead of re-attaching or recomputing it. The harness must report
  lost results.
* ``ignore-handles``: the resumed driver never re-attaches to a job that outlived the killed
  driver and recomputes the call instead. The harness must report calls made twice (on a
  backend whose jobs survive the driver).
"""

from __future__ import annotations

import os

_BUG = os.environ.get("QAWARE_BROKEN_RESUME", "")


def _trust_submitted() -> None:
    from qaware.oracles import runner
    from qaware.oracles.result import OracleResult
    from qaware.store import CallStatus

    plan = runner.OracleRunner._plan

    def broken_plan(self, group, record, attached):  # type: ignore[no-untyped-def]
        if record is not None and record.status == CallStatus.SUBMITTED:
            return OracleResult.failure(record.level, "lost: taken as done before it was written")
        return plan(self, group, record, attached)

    runner.OracleRunner._plan = broken_plan  # type: ignore[method-assign]


def _ignore_handles() -> None:
    from qaware.execution import submitit_backend

    def never_attach(self, handle):  # type: ignore[no-untyped-def]
        return None

    submitit_backend.SubmititExecutor.attach = never_attach  # type: ignore[method-assign]


if _BUG == "trust-submitted":
    _trust_submitted()
elif _BUG == "ignore-handles":
    _ignore_handles()
elif _BUG:
    raise SystemExit(f"QAWARE_BROKEN_RESUME={_BUG!r}: unknown bug")
