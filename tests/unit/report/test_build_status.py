"""`qaware status` on a data-set build: stage, computed of to-compute, pace, ETA, per level."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qaware.report.build_status import build_progress, is_build

T0 = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)


def _log(folder: Path, events: list[tuple[int, str, dict]]) -> Path:
    """events.jsonl with (seconds after T0, event, payload) lines, as the EventLog writes them."""
    lines = [
        json.dumps({"ts": (T0 + timedelta(seconds=s)).isoformat(), "event": name,
                    "cycle": None, "candidate": None, "payload": payload})
        for s, name, payload in events
    ]  # fmt: skip
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _result(level: str, ok: bool, wall: float | None = None) -> dict:
    out = {"level": level, "ok": ok, "reason": "" if ok else "multireference", "index": 0}
    return out if wall is None else {**out, "wall_time_s": wall}


def test_a_running_stage_shows_its_pace_eta_and_levels(tmp_path):
    run = _log(
        tmp_path,
        [
            (0, "dataset_build_started", {"name": "light", "structures": 5, "pairs": 10}),
            (5, "dataset_exported", {"name": "light"}),
            (10, "dataset_build_started", {"name": "full", "structures": 8, "pairs": 16}),
            (80, "dataset_computing", {"name": "full", "to_compute": 6, "served": 10}),
            (80, "oracle_result", _result("PBE", True)),
            (140, "oracle_result", _result("CCSD(T)", False)),
        ],
    )  # fmt: skip  (the builder logs the count with the first result, as here)
    assert is_build(run)
    text = build_progress(run, now=T0 + timedelta(seconds=200))
    assert "stage full (started 2026-11-27 08:00:10): 8 structures, 16" in text
    assert "computed 2 of 6 (the rest was in the store)" in text
    assert "0:01:00 per call, ETA 0:04:00 for the 4 left" in text
    assert "last result 08:02:20 (0:01:00 ago)" in text
    assert "PBE: 1 ok, 0 not ok" in text and "CCSD(T): 0 ok, 1 not ok" in text
    assert "stage running or stopped before its end" in text
    assert text.endswith("stages before (latest last): light")


def test_with_one_result_the_pace_is_that_calls_wall_time_not_zero(tmp_path):
    (tmp_path / "a").mkdir()
    one = _log(tmp_path / "a", [
        (0, "dataset_build_started", {"name": "hse", "structures": 9, "pairs": 9}),
        (700, "dataset_computing", {"name": "hse", "to_compute": 5, "served": 4}),
        (700, "oracle_result", _result("HSE06", True, wall=690.0)),
    ])  # fmt: skip
    text = build_progress(one, now=T0 + timedelta(seconds=800))
    assert "0:11:30 per call, ETA 0:46:00 for the 4 left" in text
    (tmp_path / "b").mkdir()  # a result without its wall time: no pace is better than 0
    bare = _log(tmp_path / "b", [
        (0, "dataset_build_started", {"name": "hse", "structures": 9, "pairs": 9}),
        (700, "dataset_computing", {"name": "hse", "to_compute": 5, "served": 4}),
        (700, "oracle_result", _result("HSE06", True)),
    ])  # fmt: skip
    text = build_progress(bare, now=T0 + timedelta(seconds=800))
    assert "pace after 2 results; last result 08:11:40" in text and "ETA" not in text


def test_a_finished_stage_and_one_served_whole_from_the_store(tmp_path):
    (tmp_path / "a").mkdir()
    done = _log(tmp_path / "a", [
        (0, "dataset_build_started", {"name": "s", "structures": 1, "pairs": 1}),
        (1, "dataset_computing", {"name": "s", "to_compute": 1, "served": 0}),
        (31, "oracle_result", _result("EMT", True)),
        (32, "dataset_exported", {"name": "s"}),
    ])  # fmt: skip
    text = build_progress(done, now=T0 + timedelta(seconds=40))
    assert "computed 1 of 1" in text and "ETA" not in text and "stage exported" in text
    (tmp_path / "b").mkdir()
    cached = _log(tmp_path / "b", [
        (0, "dataset_build_started", {"name": "s", "structures": 1, "pairs": 1}),
        (1, "dataset_exported", {"name": "s"}),
    ])  # fmt: skip
    assert "all pairs served from the store" in build_progress(cached)
    (tmp_path / "c").mkdir()
    starting = _log(tmp_path / "c", [(0, "dataset_build_started", {"name": "s", "pairs": 1})])
    assert "nothing computed yet (the stage's first call runs" in build_progress(starting)


def test_an_older_build_without_the_to_compute_count_and_a_campaign(tmp_path):
    (tmp_path / "old").mkdir()
    old = _log(tmp_path / "old", [
        (0, "dataset_build_started", {"name": "s", "structures": 2, "pairs": 4}),
        (60, "oracle_result", _result("PBE", True)),
    ])  # fmt: skip
    assert "computed 1 so far (how many are to compute: qaware.log)" in build_progress(old)
    (tmp_path / "campaign").mkdir()
    campaign = _log(tmp_path / "campaign", [(0, "cycle_started", {}), (1, "oracle_result", {})])
    assert not is_build(campaign) and build_progress(campaign) is None
