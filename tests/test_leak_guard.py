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


def test_a_run_that_leaves_an_orphan_fails_and_the_orphan_is_killed(pytester):
    """A process whose parent died is no descendant of the test any more (init adopts it); the
    end-of-run check finds it by the run id in its environment."""
    pytester.makeconftest(
        CONFTEST.read_text().replace("CHILD_EXIT_GRACE_S = 15.0", "CHILD_EXIT_GRACE_S = 1.0")
    )
    pytester.makepyfile(
        test_orphan="""
import subprocess, sys

def test_orphans(tmp_path):
    code = ("import os, sys, time\\n"
            "if os.fork(): os._exit(0)\\n"
            "open(sys.argv[1], 'w').write(str(os.getpid()))\\n"
            "time.sleep(60)\\n")
    subprocess.run([sys.executable, "-c", code, str(tmp_path.parent.parent / "pid")], check=True)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*1 process(es) of this test run outlived it*"])
    import time

    import psutil

    pid = int(next(pytester.path.rglob("pid")).read_text())
    for _ in range(50):  # killed: gone, or a zombie until init reaps it
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"orphan {pid} still running")
