"""base.py: settings hash, never-raising timed call, child process with a hard timeout."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from qaware.oracles.base import (
    canonical_json,
    peak_memory_mb,
    run_with_timeout,
    settings_hash,
    timed_call,
)
from qaware.oracles.result import OracleResult

WATER = Atoms("OH2", positions=[[0, 0, 0], [0.76, 0.59, 0], [-0.76, 0.59, 0]])


@pytest.fixture(scope="module")
def fakes():
    """The fake-oracle module, importable by name in a spawned child (folder on sys.path)."""
    folder = str(Path(__file__).parent)
    sys.path.insert(0, folder)
    try:
        yield importlib.import_module("oracle_fakes")
    finally:
        sys.path.remove(folder)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0); it is dead if /proc says so
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split()[2] == "Z"


# -- settings_hash -------------------------------------------------------------------------
def test_settings_hash_is_sha256_hex_and_ignores_key_order():
    a = settings_hash({"code": "pyscf", "code_version": "2.14.0", "basis": "def2-SVP", "x": 1})
    b = settings_hash({"x": 1, "basis": "def2-SVP", "code_version": "2.14.0", "code": "pyscf"})
    assert a == b
    assert len(a) == 64
    assert int(a, 16) >= 0


@pytest.mark.parametrize(
    "change", [{"basis": "def2-TZVP"}, {"code_version": "2.15.0"}, {"x": 1.0000001}]
)
def test_settings_hash_changes_with_any_setting(change):
    base = {"code": "pyscf", "code_version": "2.14.0", "basis": "def2-SVP", "x": 1.0}
    assert settings_hash(base) != settings_hash({**base, **change})


def test_canonical_json_handles_tuples_numpy_and_dataclasses():
    @dataclass(frozen=True)
    class Gate:
        tol: float = 0.1

    text = canonical_json({"b": (1, 2), "a": np.float64(0.5), "g": Gate(), "n": np.arange(2)})
    assert text == '{"a":0.5,"b":[1,2],"g":{"tol":0.1},"n":[0,1]}'
    assert canonical_json({"v": float("nan")}) != canonical_json({"v": float("inf")})


# -- timed_call ----------------------------------------------------------------------------
def test_timed_call_turns_an_exception_into_a_failure_with_provenance():
    def boom(atoms: Atoms) -> OracleResult:
        raise RuntimeError("SCF exploded\n  badly")

    result = timed_call(boom, WATER, level="PBE", code="pyscf", settings_hash="ab" * 32)
    assert not result.ok
    assert result.reason == "exception: RuntimeError: SCF exploded badly"
    assert result.level == "PBE"
    assert result.code == "pyscf"
    assert result.settings_hash == "ab" * 32


def test_timed_call_rejects_a_function_that_returns_no_result():
    result = timed_call(lambda atoms: 1.0, WATER, level="PBE")  # type: ignore[arg-type,return-value]
    assert not result.ok
    assert result.reason.startswith("exception: TypeError")


def test_timed_call_measures_wall_time_and_memory():
    def slow(atoms: Atoms) -> OracleResult:
        time.sleep(0.2)
        return OracleResult(ok=True, level="L", energy=-1.0)

    result = timed_call(slow, WATER, level="L")
    assert result.ok
    assert result.energy == -1.0
    assert 0.2 <= result.wall_time_s < 2.0
    assert result.peak_memory_mb is not None
    assert result.peak_memory_mb > 10


def test_peak_memory_grows_when_the_process_allocates():
    before = peak_memory_mb()
    block = np.ones(80 * 2**20 // 8)  # 80 MiB, touched
    assert peak_memory_mb() >= before + 40 or before > 500
    del block


# -- run_with_timeout ----------------------------------------------------------------------
def test_run_with_timeout_returns_the_child_result(fakes):
    result = run_with_timeout(fakes.EchoOracle(), WATER, timeout_s=60)
    assert result.ok
    assert result.energy == 3.0
    assert result.forces.shape == (3, 3)
    assert result.diagnostics["pid"] != os.getpid()
    # the child led its own process group, so a kill reaches everything it started
    assert result.diagnostics["pgid"] == result.diagnostics["pid"]
    assert _gone(result.diagnostics["pid"])


def test_timeout_kills_the_child_and_its_process_group(fakes, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    oracle = fakes.SleepOracle(seconds=60, grandchild_pidfile=str(pidfile))
    start = time.perf_counter()
    result = run_with_timeout(oracle, WATER, timeout_s=4.0)
    assert time.perf_counter() - start < 15
    assert not result.ok
    assert result.reason == "timeout"
    assert result.level == "fake"
    assert result.settings_hash == "0" * 64
    assert result.wall_time_s >= 4.0
    assert _gone(result.diagnostics["child_pid"])
    assert pidfile.exists(), "the child never started its grandchild: timeout too short?"
    grandchild = int(pidfile.read_text())
    deadline = time.time() + 5
    while not _gone(grandchild) and time.time() < deadline:
        time.sleep(0.1)
    assert _gone(grandchild), "the grandchild survived: the process group was not killed"


def test_the_child_dies_with_a_killed_parent(fakes, tmp_path):
    """kill -9 of the process that waits on the calculation (a pool worker, the driver) must not
    leave the calculation running for nobody: it leads its own process group, so only its own
    parent-death signal ends it."""
    import subprocess

    pidfile = tmp_path / "child.pid"
    code = (
        "import oracle_fakes\n"
        "from ase import Atoms\n"
        "from qaware.oracles.base import run_with_timeout\n"
        f"run_with_timeout(oracle_fakes.SleepOracle(seconds=120, pidfile={str(pidfile)!r}), "
        "Atoms('H'), timeout_s=300)\n"
    )
    path = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    parent = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.time() + 60
        while not (pidfile.exists() and pidfile.read_text()) and time.time() < deadline:
            time.sleep(0.1)
        assert pidfile.exists(), "the calculation never started"
        child = int(pidfile.read_text())
        parent.kill()
        parent.wait(10)
        deadline = time.time() + 5
        while not _gone(child) and time.time() < deadline:
            time.sleep(0.1)
        alive = not _gone(child)
        if alive:
            os.kill(child, signal.SIGKILL)
        assert not alive, "the calculation outlived the process waiting for it"
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"signal_number": signal.SIGSEGV}, "worker_died: signal 11 (SIGSEGV)"),
        ({"signal_number": signal.SIGKILL}, "worker_died: signal 9 (SIGKILL)"),
        ({"exit_code": 3}, "worker_died: exit code 3"),
    ],
)
def test_a_dying_child_is_reported_not_raised(fakes, kwargs, reason):
    result = run_with_timeout(fakes.DyingOracle(**kwargs), WATER, timeout_s=60)
    assert not result.ok
    assert result.reason == reason


def test_an_oracle_that_raises_in_the_child_is_an_exception_failure(fakes):
    result = run_with_timeout(fakes.RaisingOracle(), WATER, timeout_s=60)
    assert not result.ok
    assert result.reason == "exception: ValueError: bad input"
    assert result.settings_hash == "0" * 64
