"""Dask backend on one LocalCluster shared by the module (startup costs a few seconds)."""

from __future__ import annotations

import os
import time

import pytest

from qaware.errors import ExecutionError, InvalidStructureError
from qaware.execution import ExecutionSettings, make_executor

dask = pytest.importorskip("dask")
pytest.importorskip("distributed")
# The cluster's nanny (in this process) restarts a killed worker as a new child process; the
# module fixture shuts it down, so the leak check (tests/conftest.py) is not for these tests.
pytestmark = pytest.mark.shared_child_processes


@pytest.fixture(scope="module")
def executor():
    # One worker death is enough to give up on a task (default 3: three restarts per test).
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        ex = make_executor(ExecutionSettings(backend="dask", max_workers=2))
    yield ex
    ex.shutdown()


def test_emt_energy_on_a_worker_matches_in_process(executor, tasks, copper) -> None:
    future = executor.submit(tasks.emt_energy, copper)
    assert future.result(timeout=60) == pytest.approx(tasks.emt_energy(copper), abs=1e-10)
    assert executor.submit(tasks.worker_pid).result(timeout=60) != os.getpid()


def test_map_keeps_input_order(executor, tasks) -> None:
    delays = [0.6, 0.0, 0.3, 0.0]
    results = list(
        executor.map(lambda xd: tasks.square_after(*xd), zip(range(4), delays, strict=True))
    )
    assert results == [0, 1, 4, 9]


def test_task_exceptions_keep_type_and_fields(executor, tasks) -> None:
    with pytest.raises(ValueError, match="negative occupancy"):
        executor.submit(tasks.raise_value_error, "negative occupancy").result(timeout=60)
    with pytest.raises(InvalidStructureError) as info:
        executor.submit(tasks.raise_invalid_structure, 2).result(timeout=60)
    assert info.value.index == 2


def test_task_keywords_do_not_collide_with_dask_submit_keywords(executor, tasks) -> None:
    got = executor.submit(tasks.echo_kwargs, key="k", pure=True, workers=3).result(timeout=60)
    assert got == {"key": "k", "pure": True, "workers": 3}


def test_handle_is_the_task_key_and_cannot_be_reattached(executor, tasks) -> None:
    future = executor.submit(tasks.square_after, 4)
    assert future.result(timeout=60) == 16
    assert executor.handle(future).startswith("square_after-")
    assert executor.attach(executor.handle(future)) is None


def test_dead_worker_is_an_execution_error_and_the_cluster_goes_on(executor, tasks) -> None:
    with pytest.raises(ExecutionError, match="exit_abruptly"):
        executor.submit(tasks.exit_abruptly, 1).result(timeout=60)
    assert executor.submit(tasks.square_after, 5).result(timeout=60) == 25


def test_finished_task_is_released_while_the_driver_keeps_its_future(executor, tasks) -> None:
    # A result left on a worker is recomputed when that worker dies: it must be let go.
    future = executor.submit(tasks.square_after, 6)
    assert future.result(timeout=60) == 36
    key = executor.handle(future)

    def known(dask_scheduler, key=key) -> bool:
        return key in dask_scheduler.tasks

    deadline = time.monotonic() + 10
    while executor.client.run_on_scheduler(known) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not executor.client.run_on_scheduler(known)
    assert future.result() == 36


def test_cancel_of_a_queued_task(executor, tasks) -> None:
    blockers = [executor.submit(tasks.square_after, i, 1.0) for i in range(2)]
    queued = executor.submit(tasks.square_after, 3)
    assert queued.cancel()
    assert queued.cancelled()
    assert [f.result(timeout=60) for f in blockers] == [0, 1]
