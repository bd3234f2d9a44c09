"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

# One BLAS/OpenMP thread per test process unless the caller says otherwise (scripts/test.sh
# does): on a busy 2-core machine, torch's default of a thread per core spin-waits, and a
# 2-second training fixture took 224 s under a plain `pytest` while a benchmark ran.
os.environ.setdefault("OMP_NUM_THREADS", "1")

POSTGRES_URL_ENV = "QAWARE_TEST_POSTGRES_URL"
# Seconds a test's child processes get to exit after it ends (a pool shutting down, a killed
# driver's workers noticing), and the helpers multiprocessing keeps for the whole process.
CHILD_EXIT_GRACE_S = 15.0
RUN_ID_ENV = "QAWARE_TEST_RUN"  # set by the controlling pytest process; children inherit it
_PROCESS_WIDE_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _live_children(pids_before: set[int] | None = None) -> list:
    """Live (not zombie) descendants of this test process, minus multiprocessing's own helpers
    and, when given, the ``pids_before`` that existed when the test started and whatever they
    started since (a module-scoped Dask cluster's nanny restarting a worker is not the test's)."""
    import psutil

    me, before = psutil.Process().pid, pids_before or set()
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE or child.pid in before:
                continue
            if any(h in " ".join(child.cmdline()) for h in _PROCESS_WIDE_HELPERS):
                continue
            if any(p.pid in before for p in child.parents() if p.pid != me):
                continue
        except psutil.NoSuchProcess:
            continue
        out.append(child)
    return out


def _kill_lingering(find: Callable[[], list]) -> list[str]:
    """Wait up to CHILD_EXIT_GRACE_S for ``find()`` to come back empty; kill what is left and
    return one line per process killed (pid, parent, command line)."""
    deadline = time.monotonic() + CHILD_EXIT_GRACE_S
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = []
    for proc in left:
        try:
            lines.append(f"pid {proc.pid} (parent {proc.ppid()}): {' '.join(proc.cmdline())[:200]}")
            proc.kill()
        except Exception:  # gone meanwhile
            continue
    return lines


@pytest.fixture(autouse=True)
def _no_leaked_child_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a live child process behind (a pool worker, a timeout child, a
    campaign driver): such a process outlives the run, holds memory and files, and in a user's
    session is a leak. Module- and session-scoped fixtures start theirs before this snapshot;
    tests marked ``shared_child_processes`` (a fixture's pool that replaces its own workers)
    are not checked."""
    if request.node.get_closest_marker("shared_child_processes"):
        yield
        return
    before = {child.pid for child in _live_children()}
    yield
    described = _kill_lingering(lambda: _live_children(before))
    if described:
        pytest.fail(
            f"{len(described)} child process(es) still alive {CHILD_EXIT_GRACE_S:.0f} s after "
            "the test (killed now):\n" + "\n".join(described)
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of an empty campaign database: an SQLite file, then a PostgreSQL schema.

    The PostgreSQL case needs ``QAWARE_TEST_POSTGRES_URL`` (``export
    QAWARE_TEST_POSTGRES_URL="$(scripts/start_postgres.sh)"``) and is skipped without it; when it
    is set, the server must answer. Each test gets its own schema (selected through the URL's
    ``search_path`` option), dropped afterwards, so tests never see each other's rows.
    """
    if request.param == "sqlite":
        yield str(tmp_path / "campaign.db")
        return
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set (run scripts/start_postgres.sh to get one)")
    import psycopg2

    schema = f"qaware_test_{uuid.uuid4().hex[:12]}"
    with psycopg2.connect(base) as con, con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    con.close()
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with psycopg2.connect(base) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
    con.close()


@pytest.fixture(scope="session")
def load_benchmark():
    """Import a script of ``benchmarks/`` by name (they are scripts, not a package); the module
    is registered under ``<name>_benchmark`` so dataclasses and pickling inside it work."""
    import importlib.util
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "benchmarks"

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"{name}_benchmark", folder / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def perov_standin_frames() -> tuple:
    """Every frame of ``data/perov_standin/perov_standin.extxyz.gz``, read once per test process
    (2,235 frames, ~1 s). Shared: copy a frame before changing it."""
    from pathlib import Path

    from qaware.structures.extxyz import read_extxyz_file

    path = Path(__file__).resolve().parents[1] / "data/perov_standin/perov_standin.extxyz.gz"
    if not path.exists():
        pytest.skip(f"{path} not built")
    return tuple(read_extxyz_file(path))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with slow tests first, the longest first (``@pytest.mark.slow(seconds=N)``: the
    test's rough wall time on 2 cores), each module kept whole so its fixtures are set up once.
    With two xdist workers, a two-minute test that starts last sets the suite's wall time."""
    longest: dict[object, float] = {}
    for item in items:
        marker = item.get_closest_marker("slow")
        if marker is not None:
            seconds = float(marker.kwargs.get("seconds", 1.0))
            longest[item.module] = max(longest.get(item.module, 0.0), seconds)
    items.sort(key=lambda item: -longest.get(item.module, 0.0))  # stable: order kept within


def pytest_configure(config: pytest.Config) -> None:
    """A fresh run id in the environment (the controlling process only: xdist workers and every
    process a test starts inherit it), so that orphans can be found after the run."""
    if not hasattr(config, "workerinput"):
        os.environ[RUN_ID_ENV] = uuid.uuid4().hex


def _processes_of_run(run_id: str) -> list:
    """Live processes whose environment carries ``run_id`` (this process's own does not: it set
    the variable after it started)."""
    import psutil

    out = []
    for proc in psutil.process_iter():
        try:
            alive = proc.pid != os.getpid() and proc.status() != psutil.STATUS_ZOMBIE
            if alive and proc.environ().get(RUN_ID_ENV) == run_id and not _own_tracker(proc):
                out.append(proc)
        except (psutil.Error, OSError):
            continue
    return out


def _own_tracker(proc: Any) -> bool:
    """multiprocessing's resource tracker of this very process (a plain ``pytest`` run without
    xdist starts it here): it exits when this process does, so it is no orphan."""
    cmdline = " ".join(proc.cmdline())
    return proc.ppid() == os.getpid() and "multiprocessing.resource_tracker" in cmdline


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    """After the run (xdist workers gone): fail it if a process started by a test is still
    alive. The per-test check sees only descendants; an orphan (its parent killed, as the crash
    tests do to drivers) is reparented to init and only this finds it."""
    yield
    run_id = os.environ.get(RUN_ID_ENV)
    if hasattr(session.config, "workerinput") or not run_id:
        return
    lines = _kill_lingering(lambda: _processes_of_run(run_id))
    if lines:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = f"{len(lines)} process(es) of this test run outlived it (killed now):"
        if reporter is not None:
            reporter.write_line(text, red=True)
            for line in lines:
                reporter.write_line("  " + line, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_HOLD_LOCK = """\
import os, sys, time
from qaware.store.driver_lock import driver_lock
with driver_lock(sys.argv[1], "holder"):
    if sys.argv[2] == "fork" and os.fork() == 0:  # a worker that outlives its driver
        time.sleep(60)
        os._exit(0)
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def driver_lock_holder() -> Iterator[Callable[..., Any]]:
    """Start another process that holds the driver lock of a run directory (optionally with a
    forked child); returns its Popen (read its first line: "held"). Killed at the end."""
    import contextlib
    import signal
    import subprocess
    import sys

    started: list[Any] = []

    def start(run_dir: Any, fork: bool = False) -> Any:
        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, str(run_dir), "fork" if fork else "no"],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
