"""One driver per run directory: a second one is refused while the first lives, and the lock
dies with its process (kill -9 included), not with its forked workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from qaware.errors import RunDirectoryError
from qaware.store.driver_lock import LOCK_FILE, driver_lock


def test_a_second_driver_is_refused_with_the_holders_pid(tmp_path, driver_lock_holder):
    holder = driver_lock_holder(tmp_path)
    refused = pytest.raises(RunDirectoryError, match=f"another qaware process .*pid {holder.pid} ")
    with refused, driver_lock(tmp_path):
        pass
    holder.kill()  # kill -9: the kernel releases the lock, nobody cleans up
    holder.wait()
    with driver_lock(tmp_path, "me"):
        assert f'"pid": {os.getpid()}' in (tmp_path / LOCK_FILE).read_text()
    with driver_lock(tmp_path):  # released at the end of the block
        pass


def test_a_killed_drivers_forked_worker_does_not_keep_the_lock(tmp_path, driver_lock_holder):
    holder = driver_lock_holder(tmp_path, fork=True)
    worker = [c.pid for c in psutil.Process(holder.pid).children()]
    assert len(worker) == 1
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert psutil.pid_exists(worker[0])  # the orphaned worker lives on
    with driver_lock(tmp_path):
        pass


def test_the_same_process_cannot_take_it_twice(tmp_path):
    probe = "import sys\nfrom qaware.store.driver_lock import driver_lock\n"
    probe += "with driver_lock(sys.argv[1]): pass"
    with driver_lock(tmp_path):
        refused = pytest.raises(RunDirectoryError, match="this process already drives it")
        with refused, driver_lock(tmp_path):
            pass
        other = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True)
        assert b"another qaware process" in other.stderr  # the refused second lost nothing
    with driver_lock(tmp_path):
        pass
