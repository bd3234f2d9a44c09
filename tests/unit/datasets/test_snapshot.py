"""snapshot_run: a consistent, complete copy of a run directory that a build keeps writing."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from qaware.datasets.snapshot import restore_run, snapshot_run
from qaware.store import CampaignStore


def _cells(n: int) -> list[Atoms]:
    rng = np.random.default_rng(0)
    return [Atoms("SrTiO3", scaled_positions=rng.random((5, 3)), cell=np.eye(3) * 4.0, pbc=True)
            for _ in range(n)]  # fmt: skip


def test_the_copy_holds_every_committed_row_and_whole_event_lines(tmp_path):
    src, dst = tmp_path / "run", tmp_path / "snap" / "run"
    src.mkdir()
    (src / "jobs").mkdir()
    (src / "jobs" / "big.pkl").write_bytes(b"x" * 1000)
    (src / "report").mkdir()  # rebuilt by `qaware report`, not committed
    (src / "report" / "report.html").write_text("<html></html>")
    (src / "events.jsonl").write_text('{"a": 1}\n{"b": 2}\n{"c": 3')  # a line being written
    (src / "driver.lock").write_text('{"pid": 1}\n')  # the live build's, not the snapshot's
    with CampaignStore(src / "campaign.db", campaign="c") as store:
        store.add_candidates(_cells(7), cycle=0, hashes=[f"h{i}" for i in range(7)])
        # the build still holds its store open while the snapshot is taken
        dst.parent.mkdir()
        dst.mkdir()
        (dst / "stale.txt").write_text("from an older snapshot")
        assert snapshot_run(src, dst) == dst
    assert not (dst / "campaign.db").exists()  # committed as text only
    first = _files(dst / "store")
    assert (dst / "events.jsonl").read_text() == '{"a": 1}\n{"b": 2}\n'
    assert not (dst / "jobs").exists() and not (dst / "stale.txt").exists()
    assert not (dst / "report").exists() and not (dst / "driver.lock").exists()
    assert not dst.with_name("run.tmp").exists()
    restored = restore_run(dst, tmp_path / "again")
    with CampaignStore(restored / "campaign.db", campaign="c") as copy:
        assert sorted(c.structure_hash for c in copy.candidates()) == [f"h{i}" for i in range(7)]
    assert (restored / "models").is_dir() and (restored / "events.jsonl").exists()
    snapshot_run(src, dst)
    assert _files(dst / "store") == first  # same store, same bytes
    with pytest.raises(FileExistsError, match="never overwritten"):
        restore_run(dst, restored)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_gzipped_snapshot_of_the_earlier_format_still_restores(tmp_path):
    src, old = tmp_path / "run", tmp_path / "old"
    src.mkdir()
    with CampaignStore(src / "campaign.db", campaign="c") as store:
        store.add_candidates(_cells(3), cycle=0, hashes=["a", "b", "c"])
    old.mkdir()
    with open(src / "campaign.db", "rb") as raw, gzip.open(old / "campaign.db.gz", "wb") as gz:
        shutil.copyfileobj(raw, gz)
    restored = restore_run(old, tmp_path / "again")
    with CampaignStore(restored / "campaign.db", campaign="c") as copy:
        assert sorted(c.structure_hash for c in copy.candidates()) == ["a", "b", "c"]


def test_a_folder_without_a_store_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no campaign\.db"):
        snapshot_run(tmp_path, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=r"no store/"):
        restore_run(tmp_path, tmp_path / "out")
