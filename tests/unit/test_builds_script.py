"""scripts/builds.sh: one command to start, check or stop both data-set builds."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "builds.sh"), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_status_names_both_builds_and_a_wrong_verb_is_refused():
    status = _run("status")
    assert status.returncode == 0, status.stderr
    lines = [ln for ln in status.stdout.splitlines() if not ln.startswith(" ")]
    assert [ln.split(":")[0] for ln in lines] == ["track_x", "track_m"]
    assert all(ln.endswith(("not running", ")")) for ln in lines)
    wrong = _run("restart")
    assert wrong.returncode == 2 and "usage: bash scripts/builds.sh" in wrong.stderr
