"""submitit re-attach by named handle: the handle exists before the job, a restarted driver finds
every job that started (running or finished) and resubmits only the ones that never started."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from qaware.errors import ExecutionError
from qaware.execution import ExecutionSettings, make_executor

cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # jobs need not import this file


def _executor(folder: Path, workers: int):
    settings = ExecutionSettings(backend="submitit", submitit_cluster="local", max_workers=workers)
    return make_executor(settings, folder=folder)


def _square_after(x: float, delay_s: float) -> float:
    time.sleep(delay_s)
    return x * x


def test_named_handles_survive_a_dead_driver_and_find_only_started_jobs(tmp_path) -> None:
    first = _executor(tmp_path, workers=1)
    handles = [first.named_handle(f"call-{i}") for i in range(2)]  # known before submitting
    running = first.submit_named("call-0", _square_after, 6, 1.5)
    queued = first.submit_named("call-1", _square_after, 7, 0.0)  # waits for the only slot
    assert [first.handle(running), first.handle(queued)] == handles
    deadline = time.monotonic() + 60
    while not list((tmp_path / "call-0").glob("*_submitted.pkl")):
        assert time.monotonic() < deadline, "the first job never started"
        time.sleep(0.05)
    first.shutdown(wait=False)  # the driver dies: the queued call never gets a job

    second = _executor(tmp_path, workers=1)  # a restarted driver with only the stored handles
    again = second.attach(handles[0])
    assert again is not None and again.result(timeout=120) == 36  # the job that outlived it
    assert second.attach(handles[1]) is None  # never started: the caller resubmits
    with pytest.raises(ExecutionError, match="exists"):
        second.submit_named("call-0", _square_after, 1, 0.0)  # a name is one submission
    with pytest.raises(ExecutionError, match="job name"):
        second.named_handle("../escape")
    second.shutdown()
