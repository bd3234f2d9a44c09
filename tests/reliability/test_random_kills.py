"""Crash harness: SIGKILL a real campaign at seeded random moments, resume, compare.

The driver (``python -m qaware run``) is killed ``QAWARE_CRASH_KILLS`` times (default 20), each
time by a seeded random choice: SIGKILL from outside at a random moment after start-up, or from
inside at the n-th pass of a crash point (after a step's writes but before the state file, after
an oracle result is stored while others are in flight, after retraining before the model is
saved; see :mod:`qaware.campaign.faults`), and restarted each time with the same command.
The finished run must equal an uninterrupted run of the same seed: same labelled set (structure,
level, energy), same statuses, hits and discoveries; no oracle call finished twice (counted
inside the calculator); the SQLite store passes its integrity check.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
sys.path.insert(0, str(INTEGRATION))
from campaign_fixtures import write_campaign_inputs  # noqa: E402

from qaware.campaign import CampaignState  # noqa: E402
from qaware.store import CallStatus, RunDirectory  # noqa: E402


def _env(call_log: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(INTEGRATION), "OMP_NUM_THREADS": "1",
            "QAWARE_NO_PROGRESS": "1", "QAWARE_TEST_CALL_LOG": str(call_log)}  # fmt: skip


def _start(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    (folder / "driver.log").touch()
    out = open(folder / "driver.log", "a")  # noqa: SIM115  (closed with the process)
    cmd = [sys.executable, "-m", "qaware", "run", "campaign.yaml"]
    return subprocess.Popen(cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)


def _snapshot(run: Path) -> tuple[list, dict, list]:
    with RunDirectory.open(run).store() as store:
        labelled = sorted((c.structure_hash, c.level, round(float(c.result.energy), 8))
                          for c in store.calls(status=CallStatus.DONE)
                          if c.result is not None and c.result.energy is not None)  # fmt: skip
        rows = {
            c.structure_hash: (
                c.status,
                c.key_value_pairs.get("hit"),
                c.key_value_pairs.get("discovery"),
            )
            for c in store.candidates()
        }
    state = CampaignState.load(run)
    return labelled, rows, [(s.cycle, s.top_calls, s.hits, s.discoveries) for s in state.history]


@pytest.mark.slow
def test_random_kills_then_resume_equal_an_uninterrupted_run(tmp_path):
    calc = "campaign_fixtures:CountingEMT"
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    for d in (ref, cut):
        d.mkdir()
        write_campaign_inputs(d, budget=16, cycles=8, calculator=calc)
    proc = _start(ref, _env(ref / "calls.log"))
    assert proc.wait(300) == 0, (ref / "driver.log").read_text()[-3000:]

    rng = np.random.default_rng(2026)
    kills, want = 0, int(os.environ.get("QAWARE_CRASH_KILLS", "20"))
    landed: list[str] = []  # the last finished step at each kill
    while True:
        env = _env(cut / "calls.log")
        how = str(rng.choice(["step", "evaluate", "retrain", "clock"])) if kills < want else ""
        if how in ("step", "evaluate"):  # the driver kills itself at its n-th pass of the point
            env["QAWARE_CRASH_AT"] = f"{how}:{int(rng.integers(1, 3))}"
        elif how == "retrain":
            env["QAWARE_CRASH_AT"] = "retrain:1"
        proc = _start(cut, env)
        if how == "clock":  # SIGKILL from outside at a random moment after start-up
            log, size = cut / "driver.log", (cut / "driver.log").stat().st_size
            while proc.poll() is None and log.stat().st_size == size:
                time.sleep(0.02)
            deadline = time.monotonic() + rng.uniform(0.0, 0.6)  # a cycle takes ~1 s here
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        code = proc.wait(300)
        if code == 0:
            break
        assert code == -signal.SIGKILL, (cut / "driver.log").read_text()[-3000:]
        kills += 1
        state = cut / "run" / "campaign_state.json"
        landed.append(CampaignState.load(cut / "run").step if state.exists() else "start-up")
    assert kills >= want, f"only {kills} kills landed before the run finished"
    print("kills after steps:", Counter(landed))
    assert len(set(landed)) >= 4, landed  # the kills spread over the campaign's steps

    assert _snapshot(cut / "run") == _snapshot(ref / "run")
    ref_calls = Counter((ref / "calls.log").read_text().splitlines())
    cut_calls = Counter((cut / "calls.log").read_text().splitlines())
    assert set(cut_calls) == set(ref_calls)
    # a call may be computed again only if a kill interrupted it before its result was stored:
    # at most one call is in flight at a time here (one worker), so at most one per kill
    assert sum(cut_calls[k] - ref_calls[k] for k in cut_calls) <= kills
    with sqlite3.connect(cut / "run" / "campaign.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert CampaignState.load(cut / "run").stopped.startswith("budget spent")
