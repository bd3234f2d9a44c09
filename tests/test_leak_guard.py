"""The suite's guard against leaked child processes (tests/conftest.py) catches a leak."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


def test_a_test_that_leaves_a_child_running_fails_and_the_child_is_killed(pytester):
    pytester.makeconftest(
        CONFTEST.read_text().replace("CHILD_EXIT_GRACE_S = 15.0", "CHILD_EXIT_GRACE_S = 0.5")
    )
    pytester.makepyfile(
        test_leaky="""
import subprocess, sys

def test_leaks(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (tmp_path.parent.parent / "pid").write_text(str(proc.pid))

def test_waits_for_its_child():
    subprocess.run([sys.executable, "-c", "pass"], check=True)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*1 child process(es) still alive*", "*time.sleep(60)*"])
    import psutil

    pid = int(next(pytester.path.rglob("pid")).read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
