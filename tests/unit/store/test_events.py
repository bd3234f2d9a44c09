"""The event log: durable appends, and a torn last line after kill -9 is survived."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from qaware.errors import RunDirectoryError
from qaware.store import EventLog


def test_append_and_read_round_trip(tmp_path):
    log = EventLog(tmp_path / "events.jsonl")
    assert log.read() == []
    log.append("cycle_start", cycle=0)
    log.append("selected", cycle=0, candidate=np.int64(12), payload={"score": np.float32(0.5),
               "ids": np.arange(3)})  # fmt: skip
    events = log.read()
    assert [e["event"] for e in events] == ["cycle_start", "selected"]
    assert events[1]["candidate"] == 12
    assert events[1]["payload"] == {"score": 0.5, "ids": [0, 1, 2]}
    assert set(events[0]) == {"ts", "event", "cycle", "candidate", "payload"}
    assert events[0]["ts"] <= events[1]["ts"]


def test_a_torn_last_line_is_skipped_then_cut_before_the_next_append(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    for i in range(3):
        log.append("tick", payload={"i": i})
    with open(path, "ab") as fh:
        fh.write(b'{"ts": "2025-01-01T00:00:00", "event": "ti')  # killed mid-write
    assert [e["payload"]["i"] for e in EventLog(path).read()] == [0, 1, 2]
    fresh = EventLog(path)  # a resumed run
    fresh.append("tick", payload={"i": 3})
    assert [e["payload"]["i"] for e in fresh.read()] == [0, 1, 2, 3]
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_complete_line_missing_only_its_newline_is_kept(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"event": "a", "payload": {}}))
    log = EventLog(path)
    log.append("b")
    assert [e["event"] for e in log.read()] == ["a", "b"]


def test_corruption_before_the_last_line_is_an_error(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"event": "a"}\nnot json\n{"event": "b"}\n')
    with pytest.raises(RunDirectoryError, match="line 2"):
        EventLog(path).read()


def test_survives_kill_9_of_a_writer(tmp_path):
    path = tmp_path / "events.jsonl"
    writer = (
        "import sys\nfrom qaware.store.events import EventLog\n"
        "log = EventLog(sys.argv[1])\ni = 0\n"
        "while True:\n    log.append('tick', payload={'i': i, 'pad': 'x' * 5000})\n    i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer, str(path)])
    deadline = time.monotonic() + 30
    while (not path.exists() or path.stat().st_size < 50_000) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    events = EventLog(path).read()
    assert len(events) > 5
    assert [e["payload"]["i"] for e in events] == list(range(len(events)))
    log = EventLog(path)
    log.append("resumed")
    assert len(log.read()) == len(events) + 1
