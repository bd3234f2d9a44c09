"""submitit backend on its local cluster: real jobs in subprocesses, re-attach after a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qaware.errors import ConfigError, ExecutionError, InvalidStructureError
from qaware.execution import ExecutionSettings, make_executor
from qaware.execution.submitit_backend import _pid_running

pytest.importorskip("submitit")


def _settings(**kw: object) -> ExecutionSettings:
    return ExecutionSettings(backend="submitit", submitit_cluster="local", **kw)


@pytest.fixture
def executor(tmp_path: Path):
    with make_executor(_settings(max_workers=2), folder=tmp_path / "jobs") as ex:
        yield ex


def test_emt_energy_in_a_job_matches_in_process(executor, tasks, copper, tmp_path) -> None:
    future = executor.submit(tasks.emt_energy, copper)
    assert future.result(timeout=120) == pytest.approx(tasks.emt_energy(copper), abs=1e-10)
    handle = executor.handle(future)
    assert handle.startswith("submitit:local:")
    job_folder = Path(handle.split(":", 3)[3])
    assert job_folder.parent == tmp_path / "jobs"  # one folder per job, under the given folder
    assert any(job_folder.glob("*_result.pkl"))


def test_map_keeps_input_order(executor, tasks) -> None:
    delays = [0.8, 0.0, 0.0]
    results = list(
        executor.map(lambda xd: tasks.square_after(*xd), zip([1, 2, 3], delays, strict=True))
    )
    assert results == [1, 4, 9]


def test_task_exceptions_keep_their_type_and_worker_traceback(executor, tasks) -> None:
    with pytest.raises(ValueError, match="SCF did not converge") as info:
        executor.submit(tasks.raise_value_error, "SCF did not converge").result(timeout=120)
    assert "raise_value_error" in str(info.value.__cause__)  # the job's traceback text
    with pytest.raises(InvalidStructureError) as info2:
        executor.submit(tasks.raise_invalid_structure, 4).result(timeout=120)
    assert info2.value.index == 4


def test_job_that_dies_is_an_execution_error(executor, tasks) -> None:
    with pytest.raises(ExecutionError, match="ended without a result"):
        executor.submit(tasks.exit_abruptly, 1).result(timeout=120)
    assert executor.submit(tasks.square_after, 5).result(timeout=120) == 25


def test_restarted_driver_attaches_to_finished_and_running_jobs(tasks, tmp_path) -> None:
    folder = tmp_path / "jobs"
    first = make_executor(_settings(), folder=folder)
    done = first.submit(tasks.square_after, 6)
    assert done.result(timeout=120) == 36
    running = first.submit(tasks.square_after, 7, 1.5)
    handles = [first.handle(done), first.handle(running)]
    first.shutdown(wait=False)  # the driver goes away; the second job keeps running

    second = make_executor(_settings(), folder=folder)  # a new driver with only the handles
    futures = [second.attach(h) for h in handles]
    assert all(f is not None for f in futures)
    assert not futures[1].done()  # re-attached while its job still runs
    assert [f.result(timeout=120) for f in futures] == [36, 49]
    second.shutdown()


def test_attach_refuses_bad_handles_and_skips_foreign_or_lost_ones(executor, tmp_path) -> None:
    assert executor.attach("") is None
    assert executor.attach("tcp-key-123") is None
    assert executor.attach(f"submitit:local:123:{tmp_path / 'gone'}") is None
    with pytest.raises(ExecutionError, match="malformed submitit handle"):
        executor.attach("submitit:local")


def test_local_cluster_runs_at_most_max_workers_jobs(tasks, tmp_path) -> None:
    with make_executor(_settings(max_workers=1), folder=tmp_path / "jobs") as ex:
        first = ex.submit(tasks.square_after, 2, 0.5)
        second = ex.submit(tasks.square_after, 3)
        assert ex.handle(first) != ""
        assert ex.handle(second) == ""  # waiting for a slot: no job yet
        assert [first.result(timeout=120), second.result(timeout=120)] == [4, 9]
        assert ex.handle(second) != ""


def test_unknown_submitit_parameter_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"execution\.slurm.*partitionn"):
        make_executor(_settings(slurm={"slurm_partitionn": "gpu"}), folder=tmp_path)


def test_submitit_needs_a_folder() -> None:
    with pytest.raises(ConfigError, match=r"execution\.folder"):
        make_executor(_settings())


def test_cancel_stops_the_running_job(executor, tasks) -> None:
    future = executor.submit(tasks.square_after, 2, 60.0)
    pid = int(executor.handle(future).split(":")[2])  # local cluster: job id = process id
    time.sleep(0.5)
    assert future.cancel()
    assert future.cancelled()
    deadline = time.monotonic() + 20
    while _pid_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pid_running(pid)
