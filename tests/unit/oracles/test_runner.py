"""OracleRunner and cached_compute: the store is the cache, failures are retried then kept,
results are stored as they arrive, and a killed driver's calls are re-attached or resubmitted.

The oracles here are fakes that count their calls in a file (one line per compute); the
executor is a thread pool whose jobs have ids and outlive a "driver" (like SLURM jobs).
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ase import Atoms

from qaware.errors import ExecutionError
from qaware.execution import QawareExecutor
from qaware.oracles.result import OracleResult
from qaware.oracles.runner import OracleRunner, Task, cached_compute
from qaware.store import CallStatus, CampaignStore, oracle_call_key
from qaware.structures import structure_hash


@dataclass(frozen=True)
class CountingOracle:
    """Energy = -(number of atoms) eV; appends the formula to ``log`` at every compute.

    fail_first: the first N computes of each formula fail (``scf_not_converged``).
    sleep:      seconds to sleep per formula (others: none).
    store_url:  when set, the compute opens the store and reports whether its own call row
                was already ``submitted`` (``diagnostics["row_seen"]``).
    """

    log: str
    level: str = "fake"
    fail_first: int = 0
    sleep: tuple[tuple[str, float], ...] = ()
    store_url: str = ""

    def settings_hash(self) -> str:
        return hashlib.sha256(f"counting|{self.level}|{self.fail_first}".encode()).hexdigest()

    def compute(self, atoms: Atoms) -> OracleResult:
        formula = atoms.get_chemical_formula()
        time.sleep(dict(self.sleep).get(formula, 0.0))
        with open(self.log, "a") as fh:
            fh.write(formula + "\n")
        diagnostics: dict[str, Any] = {}
        if self.store_url:
            key = oracle_call_key(structure_hash(atoms), self.settings_hash())
            with CampaignStore(self.store_url, campaign="t") as store:
                rows = [c for c in store.calls() if c.oracle_key == key]
            diagnostics["row_seen"] = bool(rows) and rows[0].status == CallStatus.SUBMITTED
        if calls(self.log).count(formula) <= self.fail_first:
            return OracleResult.failure(
                self.level, "scf_not_converged", settings_hash=self.settings_hash()
            )
        return OracleResult(
            ok=True,
            level=self.level,
            energy=-float(len(atoms)),
            settings_hash=self.settings_hash(),
            diagnostics=diagnostics,
        )


def calls(log: str | Path) -> list[str]:
    path = Path(log)
    return path.read_text().split() if path.exists() else []


class JobExecutor(QawareExecutor):
    """Threads with job ids; ``attach`` finds a job in ``registry`` (shared across executors,
    as a SLURM queue outlives the driver that submitted to it)."""

    backend = "jobs"

    def __init__(self, registry: dict[str, Future], workers: int = 2) -> None:
        self.registry, self._ids = registry, {}
        self._pool = ThreadPoolExecutor(workers)
        self._count = itertools.count(len(registry))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future = self._pool.submit(fn, *args, **kwargs)
        job = f"job-{next(self._count)}"
        self.registry[job], self._ids[id(future)] = future, job
        return future

    def handle(self, future: Future) -> str:
        return self._ids.get(id(future), "")

    def attach(self, handle: str) -> Future | None:
        return self.registry.get(handle)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


class BrokenExecutor(JobExecutor):
    """Every job fails as if its worker had died."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        future.set_exception(ExecutionError("local worker process died (pid 1 killed by SIGKILL)"))
        return future


def molecules(*formulas: str) -> list[Atoms]:
    return [Atoms(f, positions=[[0.8 * i, 0, 0] for i in range(len(Atoms(f)))]) for f in formulas]


def tasks_for(oracle: Any, structures: list[Atoms]) -> list[Task]:
    return [Task(None, a, oracle, structure_hash(a)) for a in structures]


@pytest.fixture
def store(tmp_path) -> Iterator[CampaignStore]:
    with CampaignStore(tmp_path / "campaign.db", campaign="t") as s:
        yield s


def run(store, oracle, structures, *, retries=0, registry=None, child=False, timeout=60.0,
        retry_failed=False):  # fmt: skip
    runner = OracleRunner(
        store, JobExecutor({} if registry is None else registry),
        timeout_s=timeout, max_retries=retries, run_in_child=child, retry_failed=retry_failed,
    )  # fmt: skip
    return list(runner.evaluate(tasks_for(oracle, structures)))


def test_a_stored_result_is_served_and_never_recomputed(store, tmp_path):
    oracle = CountingOracle(str(tmp_path / "log"))
    structures = molecules("H2", "CO", "H2O")
    first = run(store, oracle, [*structures, structures[0].copy()])  # H2 twice: one call
    assert sorted(calls(oracle.log)) == ["CO", "H2", "H2O"]
    assert len(first) == 4 and not any(cached for _, _, cached in first)
    again = run(store, oracle, structures)
    assert sorted(calls(oracle.log)) == ["CO", "H2", "H2O"]  # nothing computed the 2nd time
    assert all(cached for _, _, cached in again)
    assert {t.atoms.get_chemical_formula(): r.energy for t, r, _ in again} == {
        "H2": -2.0, "CO": -2.0, "H2O": -3.0,
    }  # fmt: skip
    # another oracle setting is another key: computed
    run(store, CountingOracle(oracle.log, level="other"), structures[:1])
    assert calls(oracle.log).count("H2") == 2


def test_a_failure_is_retried_then_left_failed_with_its_reason(store, tmp_path):
    oracle = CountingOracle(str(tmp_path / "log"), fail_first=10)
    (out,) = run(store, oracle, molecules("CO"), retries=2)
    _, result, cached = out
    assert not result.ok and result.reason == "scf_not_converged" and not cached
    assert calls(oracle.log) == ["CO"] * 3  # 1 + 2 retries
    (row,) = store.calls()
    assert (row.status, row.attempt, row.result.reason) == ("failed", 3, "scf_not_converged")
    # spent: a later run serves the failure instead of computing it again
    (_, again, cached) = run(store, oracle, molecules("CO"), retries=2)[0]
    assert cached and not again.ok and len(calls(oracle.log)) == 3
    # a larger retry budget later gives the call its missing attempts
    run(store, oracle, molecules("CO"), retries=3)
    assert len(calls(oracle.log)) == 4 and next(store.calls()).attempt == 4


def test_retry_failed_gives_a_spent_failure_one_more_attempt_but_never_a_gated_one(store, tmp_path):
    from qaware.oracles.gates import GATES_FAILED

    oracle = CountingOracle(str(tmp_path / "log"), fail_first=1)
    run(store, oracle, molecules("CO"))  # fails, no retries: spent
    assert run(store, oracle, molecules("CO"))[0][2] and len(calls(oracle.log)) == 1
    ((_, result, cached),) = run(store, oracle, molecules("CO"), retry_failed=True)
    assert result.ok and not cached and len(calls(oracle.log)) == 2
    assert next(store.calls()).attempt == 2
    # a gate's verdict (stored as failed, with gates_failed) is not retried
    gated = OracleResult.failure(
        "fake", "multireference: T1 too large", settings_hash=oracle.settings_hash(),
        diagnostics={GATES_FAILED: ["t1"]},
    )  # fmt: skip
    (h2o,) = molecules("H2O")
    key = oracle_call_key(structure_hash(h2o), oracle.settings_hash())
    store.begin_call(None, h2o, oracle_key=key, level="fake")
    store.record_result(None, key, gated)
    ((_, again, cached),) = run(store, oracle, [h2o], retry_failed=True)
    assert cached and again.diagnostics[GATES_FAILED] == ["t1"]
    assert "H2O" not in calls(oracle.log)


@dataclass(frozen=True)
class GatedOracle(CountingOracle):
    """Every compute ends refused by a sanity gate (a deterministic verdict)."""

    def compute(self, atoms: Atoms) -> OracleResult:
        from qaware.oracles.gates import GATES_FAILED

        super().compute(atoms)  # logs the call
        return OracleResult.failure(
            self.level, "multireference: T1 too large", settings_hash=self.settings_hash(),
            diagnostics={GATES_FAILED: ["t1"]},
        )  # fmt: skip


def test_a_gated_result_is_never_retried_whatever_the_retry_budget(store, tmp_path):
    oracle = GatedOracle(str(tmp_path / "log"))
    ((_, result, cached),) = run(store, oracle, molecules("CO"), retries=3)
    assert not result.ok and not cached and calls(oracle.log) == ["CO"]  # not 1 + 3 calls
    (row,) = store.calls()
    assert (row.status, row.attempt) == ("failed", 1)
    # a later run with a larger budget serves the verdict instead of recomputing it
    ((_, again, cached),) = run(store, oracle, molecules("CO"), retries=5)
    assert cached and again.reason == result.reason and calls(oracle.log) == ["CO"]


def test_a_retry_that_succeeds_is_stored_as_done(store, tmp_path):
    oracle = CountingOracle(str(tmp_path / "log"), fail_first=1)
    ((_, result, _),) = run(store, oracle, molecules("H2O"), retries=1)
    assert result.ok and result.energy == -3.0
    (row,) = store.calls()
    assert (row.status, row.attempt) == ("done", 2)
    assert store.find_result(row.oracle_key).energy == -3.0


def test_a_timeout_is_recorded_as_failed(store, tmp_path):
    folder = str(Path(__file__).parent)  # oracle_fakes must be importable in the spawned child
    sys.path.insert(0, folder)
    try:
        fakes = importlib.import_module("oracle_fakes")
        start = time.monotonic()
        ((_, result, _),) = run(
            store, fakes.SleepOracle(seconds=60), molecules("H2"), child=True, timeout=1.0
        )
    finally:
        sys.path.remove(folder)
    assert time.monotonic() - start < 30
    assert not result.ok and result.reason == "timeout"
    (row,) = store.calls()
    assert row.status == "failed" and row.result.reason == "timeout"


def test_each_result_is_stored_before_the_next_is_awaited(store, tmp_path):
    oracle = CountingOracle(
        str(tmp_path / "log"), sleep=(("CO", 2.0),), store_url=str(tmp_path / "campaign.db")
    )
    h2, co = molecules("H2", "CO")
    runner = OracleRunner(store, JobExecutor({}), timeout_s=60, max_retries=0, run_in_child=False)
    results = runner.evaluate(tasks_for(oracle, [co, h2]))
    task, result, _ = next(results)  # H2 finishes first although submitted second
    assert task.atoms.get_chemical_formula() == "H2" and result.diagnostics["row_seen"]
    rows = {r.atoms.get_chemical_formula(): r.status for r in store.calls()}
    assert rows == {"H2": "done", "CO": "submitted"}  # stored at once; CO still running
    task, result, _ = next(results)
    assert task.atoms.get_chemical_formula() == "CO" and result.diagnostics["row_seen"]


def test_a_lost_worker_is_a_failed_call_not_an_exception(store, tmp_path):
    oracle = CountingOracle(str(tmp_path / "log"))
    runner = OracleRunner(store, BrokenExecutor({}), timeout_s=9, max_retries=1)
    ((_, result, _),) = list(runner.evaluate(tasks_for(oracle, molecules("H2"))))
    assert not result.ok and result.reason.startswith("executor: ExecutionError: local worker")
    (row,) = store.calls()
    assert (row.status, row.attempt) == ("failed", 2)


def test_a_result_from_another_oracle_is_refused_as_inconsistent(store, tmp_path):
    @dataclass(frozen=True)
    class Liar(CountingOracle):
        def compute(self, atoms: Atoms) -> OracleResult:
            return OracleResult(ok=True, level="PBE", energy=1.0)

    ((_, result, _),) = run(store, Liar(str(tmp_path / "log")), molecules("H2"))
    assert not result.ok and result.reason.startswith("inconsistent_result: result level 'PBE'")


def test_resume_reattaches_live_jobs_and_resubmits_lost_ones(store, tmp_path):
    oracle = CountingOracle(str(tmp_path / "log"))
    alive, lost = molecules("H2", "CO")
    # a driver that died after submitting both: one job still runs on the cluster ...
    registry: dict[str, Future] = {}
    job: Future = Future()
    done_elsewhere = OracleResult(
        ok=True, level="fake", energy=-42.0, settings_hash=oracle.settings_hash()
    )
    job.set_result(done_elsewhere)
    registry["job-cluster"] = job
    for atoms, handle in ((alive, "job-cluster"), (lost, "")):
        key = oracle_call_key(structure_hash(atoms), oracle.settings_hash())
        store.begin_call(None, atoms, oracle_key=key, level="fake", handle=handle)
    # ... and one submitted by an oracle this driver does not know: left alone
    store.begin_call(None, molecules("N2")[0], oracle_key="k" + "0" * 32, level="x")
    runner = OracleRunner(store, JobExecutor(registry), timeout_s=9, max_retries=0)
    out = {t.atoms.get_chemical_formula(): r for t, r, _ in runner.resume([oracle])}
    assert out["H2"].energy == -42.0  # re-attached, not recomputed
    assert out["CO"].energy == -2.0 and calls(oracle.log) == ["CO"]  # resubmitted once
    rows = {r.atoms.get_chemical_formula(): (r.status, r.attempt) for r in store.calls()}
    assert rows == {"H2": ("done", 1), "CO": ("done", 2), "N2": ("submitted", 1)}
    handles = {r.atoms.get_chemical_formula(): r.handle for r in store.calls()}
    assert handles["CO"].startswith("job-")  # the new job id was saved for the next restart


def test_cached_compute_computes_once(store, tmp_path):
    oracle = CountingOracle(str(tmp_path / "log"))
    (h2,) = molecules("H2")
    first = cached_compute(store, oracle, h2)
    second = cached_compute(store, oracle, h2.copy())
    assert first.ok and second.energy == first.energy == -2.0
    assert calls(oracle.log) == ["H2"]
    failing = CountingOracle(str(tmp_path / "log2"), fail_first=1)
    assert not cached_compute(store, failing, h2).ok  # stored as failed, not served
    assert cached_compute(store, failing, h2).ok and len(calls(failing.log)) == 2


def test_a_done_call_of_a_reused_store_is_copied_not_recomputed(store, tmp_path):
    oracle = CountingOracle(str(tmp_path / "log"), fail_first=1)
    with CampaignStore(tmp_path / "earlier.db", campaign="build") as earlier:
        run(earlier, oracle, molecules("H2", "CO"), retries=1)  # both done on the 2nd attempt
        run(earlier, oracle, molecules("H2O"))  # failed, no retry
        assert [c.status for c in earlier.calls()] == ["done", "done", "failed"]
        before = len(calls(oracle.log))
        runner = OracleRunner(store, JobExecutor({}), timeout_s=60.0, max_retries=1,
                              run_in_child=False, reuse=[earlier])  # fmt: skip
        out = {t.atoms.get_chemical_formula(): (r, c) for t, r, c in
               runner.evaluate(tasks_for(oracle, molecules("H2", "CO", "H2O")))}  # fmt: skip
    assert out["H2"][1] and out["CO"][1] and not out["H2O"][1]
    # only H2O ran: a failure in the other store is no truth
    assert calls(oracle.log)[before:] == ["H2O"]
    assert out["H2"][0].energy == -2.0 and "earlier.db" in out["H2"][0].diagnostics["reused_from"]
    copied = {c.atoms.get_chemical_formula(): c for c in store.calls()}
    assert {f: c.status for f, c in copied.items()} == {"H2": "done", "CO": "done", "H2O": "done"}
    assert copied["CO"].result.diagnostics["reused_from"] == out["CO"][0].diagnostics["reused_from"]
    # the copy is this store's own now: served without the other store
    again = run(store, oracle, molecules("H2", "CO"))
    assert all(c for _, _, c in again) and calls(oracle.log)[before:] == ["H2O"]


@dataclass(frozen=True)
class NamedOracle(CountingOracle):
    """The same calculation whatever its ladder name (the hash leaves the level out)."""

    def settings_hash(self) -> str:
        return hashlib.sha256(b"named").hexdigest()


def test_a_reused_result_takes_this_runs_level_name(store, tmp_path):
    with CampaignStore(tmp_path / "earlier.db", campaign="build") as earlier:
        run(earlier, NamedOracle(str(tmp_path / "log"), level="HSE06"), molecules("CO"))
        runner = OracleRunner(store, JobExecutor({}), timeout_s=60.0, max_retries=0,
                              run_in_child=False, reuse=[earlier])  # fmt: skip
        oracle = NamedOracle(str(tmp_path / "log"), level="hybrid")
        ((_, result, cached),) = runner.evaluate(tasks_for(oracle, molecules("CO")))
    assert cached and result.level == "hybrid" and result.diagnostics["reused_level"] == "HSE06"
    assert calls(oracle.log) == ["CO"]
    assert next(store.calls()).level == "hybrid"
