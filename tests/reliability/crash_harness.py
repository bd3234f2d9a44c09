"""Crash harness shared by the reliability tests: run a real campaign in a subprocess, SIGKILL
it at seeded random moments, resume, and compare with an uninterrupted run of the same seed.

A *kill* is a seeded random choice among:

* ``step`` / ``evaluate``: the driver kills itself at its n-th pass of that crash point (after a
  step's writes but before the state file; after an oracle result is stored while other calls
  are in flight), see :mod:`qaware.faults`;
* ``retrain``: after retraining, before the model is saved;
* ``write``: inside a store transaction that wrote rows, before its commit (the n-th such
  transaction of the driver process, n < 25: a resumed driver may have few left);
* ``clock``: SIGKILL from outside at a random moment after start-up.

After each kill the same command (``python -m qaware run campaign.yaml``) is run again until the
campaign finishes. :func:`compare` then lists every way the killed run differs from the
reference: labelled set (structure, level, energy), candidate statuses, hits and discoveries,
per-cycle history, oracle calls made more often than in the reference (counted inside the
calculator, in every process), results lost, and the store's integrity. An empty list is a pass;
the tests of the test assert that a deliberately broken resume makes it non-empty.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))
from campaign_fixtures import write_campaign_inputs  # noqa: E402

from qaware.campaign import CampaignState  # noqa: E402
from qaware.store import CallStatus, CandidateStatus, RunDirectory  # noqa: E402

CALC = "campaign_fixtures:CountingEMT"
KILL_KINDS = ("step", "evaluate", "retrain", "write", "clock")
CALL_LOG = "calls.log"
SMALL = {"budget": 6, "cycles": 3}  # 3 cycles of 2 candidates: room for 6 kills, cheap in CI


@dataclass(frozen=True)
class Setup:
    """One campaign set-up: store, executor and size.

    store_url:   ``postgresql://`` URL of the store (None: SQLite ``campaign.db`` in the run).
    backend:     ``local`` (process pool) or ``submitit`` (submitit's local cluster: each call
                 a subprocess that outlives the driver).
    max_workers: oracle calls at once.
    budget, cycles: top-level calls and cycles of the campaign (a cycle evaluates 2).
    """

    store_url: str | None = None
    backend: str = "local"
    max_workers: int = 1
    budget: int = 16
    cycles: int = 8


@dataclass
class KillReport:
    """What :func:`run_with_kills` did: kills that landed, the step after which each landed,
    the kind of each (``KILL_KINDS``), and a message when the driver ended in any other way
    than SIGKILL or success."""

    kills: int = 0
    landed: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    failure: str = ""


def prepare(folder: Path, setup: Setup, template: Path | None = None) -> Path:
    """Campaign inputs in ``folder`` for ``setup``; the run directory is ``folder / "run"``.

    template: a folder prepared before (pool, trained validator, config) to copy instead of
    training the validator again; training is deterministic, so both give the same run.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if template is None:
        write_campaign_inputs(folder, budget=setup.budget, cycles=setup.cycles, calculator=CALC)
    else:
        for name in ("pool.extxyz", "seeds.extxyz", "validator.pt", "campaign.yaml"):
            shutil.copy(template / name, folder / name)
    config = (folder / "campaign.yaml").read_text()
    directory = next(line for line in config.splitlines() if line.startswith("run:"))
    config = config.replace(directory, directory.split("directory:")[0]
                            + f"directory: {folder / 'run'}, seed: 7}}")  # fmt: skip
    execution = f"execution: {{backend: {setup.backend}, max_workers: {setup.max_workers}"
    if setup.backend == "submitit":
        execution += ", submitit_cluster: local"
    config = config.replace("execution: {backend: local, max_workers: 1}", execution + "}")
    if setup.store_url:
        config += f'store: {{url: "{setup.store_url}"}}\n'
    (folder / "campaign.yaml").write_text(config)
    return folder / "campaign.yaml"


def driver_env(folder: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of the driver (and of the jobs it starts): calls counted in ``calls.log``."""
    path = os.pathsep.join(filter(None, (str(INTEGRATION), os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1",
           "QAWARE_NO_PROGRESS": "1", "QAWARE_TEST_CALL_LOG": str(folder / CALL_LOG)}  # fmt: skip
    env.pop("QAWARE_CRASH_AT", None)
    for key, value in (extra or {}).items():
        env[key] = os.pathsep.join((value, env[key])) if key == "PYTHONPATH" else value
    return env


def start(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    """``python -m qaware run campaign.yaml`` in ``folder``, output appended to driver.log."""
    (folder / "driver.log").touch()
    with open(folder / "driver.log", "a") as out:  # the child keeps its own descriptor
        cmd = [sys.executable, "-m", "qaware", "run", "campaign.yaml"]
        return subprocess.Popen(cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)


def run_uninterrupted(folder: Path, extra_env: dict[str, str] | None = None) -> None:
    """Run the campaign in ``folder`` to the end; raises with the log tail if it fails."""
    code = start(folder, driver_env(folder, extra_env)).wait(600)
    if code != 0:
        raise AssertionError(f"reference run exited {code}:\n{_tail(folder)}")


def run_with_kills(
    folder: Path,
    kills: int,
    *,
    seed: int,
    kinds: tuple[str, ...] = KILL_KINDS,
    clock_window_s: float = 0.6,
    extra_env: dict[str, str] | None = None,
) -> KillReport:
    """Run the campaign in ``folder``, SIGKILLing the driver ``kills`` times, then to the end.

    kinds:          the kill kinds drawn from (seeded by ``seed``).
    clock_window_s: a ``clock`` kill lands uniformly within this many seconds after the driver
                    first writes to its log (about one cycle of the small campaign).
    """
    rng = np.random.default_rng(seed)
    report = KillReport()
    while True:
        env = driver_env(folder, extra_env)
        how = str(rng.choice(list(kinds))) if report.kills < kills else ""
        if how in ("step", "evaluate"):
            env["QAWARE_CRASH_AT"] = f"{how}:{int(rng.integers(1, 3))}"
        elif how == "retrain":
            env["QAWARE_CRASH_AT"] = "retrain:1"
        elif how == "write":
            env["QAWARE_CRASH_AT"] = f"write:{int(rng.integers(1, 25))}"
        proc = start(folder, env)
        if how == "clock":
            _kill_later(proc, folder / "driver.log", float(rng.uniform(0.0, clock_window_s)))
        code = proc.wait(600)
        if code == 0:
            return report
        if code != -signal.SIGKILL:
            report.failure = f"driver exited {code} (not killed):\n{_tail(folder)}"
            return report
        report.kills += 1
        report.kinds.append(how)
        state = folder / "run" / "campaign_state.json"
        report.landed.append(CampaignState.load(folder / "run").step if state.exists() else "")


def _kill_later(proc: subprocess.Popen, log: Path, delay_s: float) -> None:
    size = log.stat().st_size
    while proc.poll() is None and log.stat().st_size == size:  # wait for start-up
        time.sleep(0.02)
    deadline = time.monotonic() + delay_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)


def _tail(folder: Path) -> str:
    return (folder / "driver.log").read_text(errors="replace")[-3000:]


def snapshot(run: Path) -> dict[str, object]:
    """What must not depend on kills: labelled set, candidate rows, per-cycle history."""
    with RunDirectory.open(run).store() as store:
        labelled = sorted((c.structure_hash, c.level, round(float(c.result.energy), 8))
                          for c in store.calls(status=CallStatus.DONE)
                          if c.result is not None and c.result.energy is not None)  # fmt: skip
        rows = {c.structure_hash: (str(c.status), c.key_value_pairs.get("hit"),
                                   c.key_value_pairs.get("discovery"))
                for c in store.candidates()}  # fmt: skip
    state = CampaignState.load(run)
    history = [(s.cycle, s.top_calls, s.hits, s.discoveries) for s in state.history]
    return {"labelled": labelled, "candidates": rows, "history": history, "stopped": state.stopped}


def compare(ref: Path, cut: Path, report: KillReport, *, repeats_allowed: int) -> list[str]:
    """Every difference between the killed run in ``cut`` and the reference in ``ref``.

    repeats_allowed: oracle calls the killed run may have computed more often than the
    reference (a backend whose workers die with the driver recomputes at most the calls in
    flight at each kill; a backend that re-attaches to its jobs must recompute none: 0).
    """
    problems = [report.failure] if report.failure else []
    if report.failure:
        return problems
    want, got = snapshot(ref / "run"), snapshot(cut / "run")
    lost = set(want["labelled"]) - set(got["labelled"])  # type: ignore[call-overload]
    if lost:
        problems.append(f"{len(lost)} labelled results lost, e.g. {sorted(lost)[:3]}")
    for part in ("labelled", "candidates", "history", "stopped"):
        if want[part] != got[part]:
            problems.append(f"{part} differ from the uninterrupted run:\n  ref {want[part]}\n"
                            f"  got {got[part]}")  # fmt: skip
    ref_calls, cut_calls = _calls(ref), _calls(cut)
    if set(cut_calls) != set(ref_calls):
        problems.append(f"different oracle calls: {set(cut_calls) ^ set(ref_calls)}")
    repeats = sum(max(0, cut_calls[k] - ref_calls[k]) for k in cut_calls)
    if repeats > repeats_allowed:
        twice = sorted(k for k in cut_calls if cut_calls[k] > ref_calls[k])[:3]
        problems.append(f"{repeats} oracle calls made twice (allowed {repeats_allowed}): {twice}")
    return problems + integrity_problems(cut / "run")


def _calls(folder: Path) -> Counter[str]:
    log = folder / CALL_LOG
    return Counter(log.read_text().splitlines() if log.exists() else [])


def integrity_problems(run: Path) -> list[str]:
    """The database's own check plus the store's invariants, as messages ([] when sound).

    Invariants: one call row per oracle key and one candidate row per structure hash; every
    call row names an existing candidate (or none); a finished campaign leaves no call
    ``submitted``; every ``done`` call holds its result and every ``done`` candidate its
    ``done`` top-level call.
    """
    directory = RunDirectory.open(run)
    url = directory.marker.get("store_url")
    problems = _postgres_problems(str(url)) if url else _sqlite_problems(run / "campaign.db")
    with directory.store() as store:
        calls, candidates = list(store.calls()), list(store.candidates())
    ids = {c.id for c in candidates}
    problems += [f"{n} call rows for oracle key {k}"
                 for k, n in Counter(c.oracle_key for c in calls).items() if n > 1]  # fmt: skip
    hashes = Counter(c.structure_hash for c in candidates)
    problems += [f"{n} candidate rows for structure {h}" for h, n in hashes.items() if n > 1]
    for c in calls:
        where = f"call row {c.id} ({c.level}, key {c.oracle_key})"
        if c.candidate_id is not None and c.candidate_id not in ids:
            problems.append(f"{where}: candidate {c.candidate_id} does not exist")
        if c.status == CallStatus.SUBMITTED:
            problems.append(f"{where}: still submitted after the campaign finished")
        if c.status == CallStatus.DONE and (c.result is None or not c.result.ok):
            problems.append(f"{where}: done without an ok result")
    top = CampaignState.load(run)
    done_calls = {c.candidate_id for c in calls if c.status == CallStatus.DONE}
    for cand in candidates:
        if cand.status == CandidateStatus.DONE and cand.id not in done_calls:
            problems.append(f"candidate {cand.id} done without a done call (cycle {top.cycle})")
    return problems


def _sqlite_problems(path: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as con:
        verdict = [row[0] for row in con.execute("PRAGMA integrity_check")]
        dangling = con.execute("PRAGMA foreign_key_check").fetchall()
    con.close()
    problems = [] if verdict == ["ok"] else [f"{path}: integrity_check says {verdict[:5]}"]
    return problems + ([f"{path}: foreign_key_check: {dangling[:5]}"] if dangling else [])


def _postgres_problems(url: str) -> list[str]:
    """ase.db's PostgreSQL tables: no key/value or species row without its system row, and
    every index valid (amcheck's B-tree check where the extension can be created)."""
    import psycopg2

    problems = []
    con = psycopg2.connect(url)
    try:
        with con.cursor() as cur:
            for table in ("keys", "text_key_values", "number_key_values", "species"):
                cur.execute(f"SELECT count(*) FROM {table} t LEFT JOIN systems s ON s.id = t.id "
                            "WHERE s.id IS NULL")  # fmt: skip
                (orphans,) = cur.fetchone()
                if orphans:
                    problems.append(f"postgres: {orphans} rows of {table} without a system row")
            cur.execute("SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c "
                        "ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = current_schema() AND NOT i.indisvalid")  # fmt: skip
            problems += [f"postgres: invalid index {name}" for (name,) in cur.fetchall()]
    finally:
        con.close()
    return problems
