"""Crash harness: SIGKILL a real campaign at seeded random moments, resume, compare.

Each test kills the driver (``python -m qaware run``) several times at seeded random moments
(see :mod:`crash_harness`), restarts it with the same command until the campaign ends, and requires
the finished run to equal an uninterrupted run of the same seed (SQLite, local executor): same
labelled set, statuses, hits, discoveries and per-cycle history; no result lost; no oracle call
computed more often than the kills can explain (counted inside the calculator, in every
process); a sound database. Three set-ups: SQLite + local process pool (20 kills), PostgreSQL +
local pool, SQLite + submitit's local cluster (jobs outlive the driver and must be re-attached:
no call may run twice).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crash_harness import KILL_KINDS, SMALL, Setup, compare, prepare, run_with_kills


@pytest.mark.slow(seconds=110)
def test_sqlite_local_pool_20_kills(tmp_path, reference):
    setup = Setup()
    template, ref = reference(setup)
    cut = tmp_path / "cut"
    prepare(cut, setup, template=template)
    want = int(os.environ.get("QAWARE_CRASH_KILLS", "20"))
    report = run_with_kills(cut, want, seed=2026)
    assert not report.failure, report.failure
    assert report.kills >= want, f"only {report.kills} kills landed before the run finished"
    print("kills after steps:", Counter(report.landed), "kinds:", Counter(report.kinds))
    assert len(set(report.landed)) >= 4, report.landed  # spread over the campaign's steps
    assert set(report.kinds) == set(KILL_KINDS), report.kinds  # every kind of kill landed
    # a pool worker dies with the driver: at most the one call in flight (one worker) is
    # computed again per kill
    problems = compare(ref, cut, report, repeats_allowed=report.kills)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_local_pool_kills(tmp_path, reference, postgres_url):
    setup = Setup(store_url=postgres_url, **SMALL)
    template, ref = reference(setup)
    cut = tmp_path / "cut"
    prepare(cut, setup, template=template)
    report = run_with_kills(cut, 6, seed=11)
    assert not report.failure, report.failure
    assert report.kills >= 6, report.landed
    problems = compare(ref, cut, report, repeats_allowed=report.kills)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_submitit_jobs_outlive_killed_drivers_and_are_reattached(tmp_path, reference):
    setup = Setup(backend="submitit", max_workers=2, **SMALL)
    template, ref = reference(setup)
    cut = tmp_path / "cut"
    prepare(cut, setup, template=template)
    # kills while jobs run: right after a result is stored (others in flight), inside a store
    # transaction (a result written but not committed: the job's pickle must serve it again),
    # or at a random moment of a run (a job takes about a second to start here)
    kinds = ("evaluate", "write", "clock")
    report = run_with_kills(cut, 6, seed=5, kinds=kinds, clock_window_s=4.0)
    assert not report.failure, report.failure
    assert report.kills >= 6, report.landed
    assert "write" in report.kinds, report.kinds
    reattached = (cut / "driver.log").read_text().count("re-attached call")
    assert reattached >= 1, "no kill left a job running: the test did not test re-attach"
    problems = compare(ref, cut, report, repeats_allowed=0)  # a job's call never runs twice
    assert not problems, "\n".join(problems)
