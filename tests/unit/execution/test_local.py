"""The local process-pool executor: real work in spawned workers, crashes, recovery."""

from __future__ import annotations

import os
import signal
import time

import pytest

from qaware.errors import ExecutionError, InvalidStructureError
from qaware.execution import ExecutionSettings, make_executor
from qaware.execution.local import LocalExecutor


@pytest.fixture
def executor():
    with make_executor(ExecutionSettings(backend="local", max_workers=2)) as ex:
        yield ex


def test_emt_energy_in_worker_matches_in_process(executor, tasks, copper) -> None:
    future = executor.submit(tasks.emt_energy, copper)
    assert future.result(timeout=60) == pytest.approx(tasks.emt_energy(copper), abs=1e-10)
    assert executor.submit(tasks.worker_pid).result(timeout=60) != os.getpid()


def test_map_keeps_input_order_when_completion_order_differs(executor, tasks) -> None:
    # The first item sleeps longest, so it finishes last.
    delays = [0.6, 0.0, 0.3, 0.0]
    results = list(
        executor.map(lambda xd: tasks.square_after(*xd), zip(range(4), delays, strict=True))
    )
    assert results == [0, 1, 4, 9]


def test_task_exceptions_keep_type_message_and_fields(executor, tasks) -> None:
    with pytest.raises(ValueError, match="no such element: Xx"):
        executor.submit(tasks.raise_value_error, "no such element: Xx").result(timeout=60)
    with pytest.raises(InvalidStructureError) as info:
        executor.submit(tasks.raise_invalid_structure, 17).result(timeout=60)
    assert (info.value.source, info.value.index) == ("pool.extxyz", 17)
    assert "pool.extxyz, row 17" in str(info.value)


@pytest.mark.parametrize(
    ("task", "args", "status"),
    [("exit_abruptly", (3,), "exit code 3"), ("kill_self", (signal.SIGKILL,), "SIGKILL")],
)
def test_dead_worker_is_an_execution_error_and_the_pool_recovers(
    executor, tasks, copper, task, args, status
) -> None:
    future = executor.submit(getattr(tasks, task), *args)
    with pytest.raises(ExecutionError, match=status) as info:
        future.result(timeout=60)
    assert task in str(info.value)
    assert executor.restarts == 1
    # Later submissions run in a fresh pool and give the right answer.
    assert executor.submit(tasks.emt_energy, copper).result(timeout=60) == pytest.approx(
        tasks.emt_energy(copper), abs=1e-10
    )
    assert list(executor.map(tasks.square_after, [1, 2, 3])) == [1, 4, 9]


def test_functions_defined_in_the_driver_reach_spawned_workers(executor) -> None:
    offset = 10  # a closure over a local variable: only cloudpickle can ship it
    assert executor.submit(lambda x: x + offset, 5).result(timeout=60) == 15


def test_queued_call_can_be_cancelled_and_local_work_is_not_attachable(tasks) -> None:
    with LocalExecutor(max_workers=1) as ex:
        first = ex.submit(tasks.square_after, 2, 1.0)
        time.sleep(0.5)  # let the first call reach the only worker
        extra = [ex.submit(tasks.square_after, 3) for _ in range(3)]
        assert extra[-1].cancel()
        assert extra[-1].cancelled()
        assert first.result(timeout=60) == 4
        assert [f.result(timeout=60) for f in extra[:-1]] == [9, 9]
        assert ex.handle(first) == ""
        assert ex.attach("submitit:local:1:/nonexistent") is None


def test_submit_after_shutdown_is_refused(tasks) -> None:
    ex = LocalExecutor(max_workers=1)
    assert ex.submit(tasks.square_after, 3).result(timeout=60) == 9
    ex.shutdown()
    with pytest.raises(ExecutionError, match="shut down"):
        ex.submit(tasks.square_after, 3)


_DRIVER = """
import os, sys, time
from qaware.execution.local import LocalExecutor
ex = LocalExecutor(1)
fut = ex.submit(os.getpid)
print(fut.result(), flush=True)
ex.submit(time.sleep, 600)
time.sleep(600)
"""


def _gone_within(pid: int, seconds: float) -> bool:
    """True once no process ``pid`` exists, polling for at most ``seconds``."""
    import os
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_workers_die_with_a_killed_driver(tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        driver = subprocess.Popen([sys.executable, "-c", _DRIVER], stdout=f)
    try:
        deadline = time.monotonic() + 60
        while not out.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.2)
        worker = int(out.read_text().split()[0])
        os.kill(worker, 0)  # alive while the driver lives
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
        if not _gone_within(worker, 10):
            raise AssertionError(f"worker {worker} outlived its killed driver")
    finally:
        driver.kill()


_ORPHAN_DRIVER = """
import multiprocessing, os, sys, time

def late_initializer(path):
    time.sleep(2.0)  # still starting up when the driver dies
    from qaware.execution.local import die_with_parent
    die_with_parent()
    open(path, "w").write("survived")
    time.sleep(60)

if __name__ == "__main__":
    spawn = multiprocessing.get_context("spawn")
    child = spawn.Process(target=late_initializer, args=(sys.argv[1],))
    child.start()
    print(child.pid, flush=True)
    os._exit(0)  # the driver is gone before the child's initializer runs
"""


def test_a_worker_whose_driver_died_during_its_start_up_exits(tmp_path) -> None:
    """The initializer used to take getppid() (then init) for the parent and live on forever."""
    import os
    import subprocess
    import sys

    marker = tmp_path / "survived.txt"
    script = tmp_path / "driver.py"
    script.write_text(_ORPHAN_DRIVER)
    done = subprocess.run([sys.executable, str(script), str(marker)], capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    child = int(done.stdout.split()[0])
    if not _gone_within(child, 30):
        os.kill(child, 9)
        raise AssertionError(f"worker {child} outlived the driver that spawned it")
    assert not marker.exists()
