"""Run directories: layout, reopening, format versions, config hashes, cycle files, models."""

from __future__ import annotations

import hashlib
import json

import ase.io
import numpy as np
import pytest
import yaml
from ase.build import bulk

from qaware.errors import RunDirectoryError, StoreError
from qaware.store import CandidateStatus, RunDirectory
from qaware.store.run_directory import FORMAT_VERSION, MARKER

CONFIG = {
    "seed": 7,
    "oracle": {"level": "HSE06", "ecut_ev": 350.0, "kpts": [2, 2, 2]},
    "acquisition": {"weights": {"divergence": 0.7, "uncertainty": 0.3}, "batch": 8},
}


def test_create_writes_the_layout_and_open_reads_it(tmp_path):
    run = RunDirectory.create(tmp_path / "run", CONFIG)
    root = run.path
    for name in ("config.yaml", "config.sha256", "environment.json", "events.jsonl", MARKER,
                 "campaign.db", "cycles", "models"):  # fmt: skip
        assert (root / name).exists(), name
    assert yaml.safe_load((root / "config.yaml").read_text()) == CONFIG
    marker = json.loads((root / MARKER).read_text())
    assert marker["format_version"] == FORMAT_VERSION
    assert marker["qaware_version"]
    env = json.loads((root / "environment.json").read_text())
    assert env["packages"]["ase"] == ase.__version__
    assert env["python"].count(".") == 2
    again = RunDirectory.open(root)
    assert again.campaign == run.campaign
    assert again.load_config() == CONFIG


def test_store_persists_through_reopening(tmp_path):
    run = RunDirectory.create(tmp_path / "run", CONFIG)
    with run.store() as store:
        ids = store.add_candidates([bulk("Cu", "fcc", a=3.6)], cycle=0)
        store.set_status(ids, CandidateStatus.SCORED)
    run.events.append("scored", cycle=0, payload={"n": 1})
    again = RunDirectory.open(run.path)
    with again.store() as store:
        assert store.get(ids[0]).status == CandidateStatus.SCORED
    assert [e["event"] for e in again.events.read()] == ["scored"]


def test_store_url_is_recorded_and_used(tmp_path, store_url):
    run = RunDirectory.create(tmp_path / "run", CONFIG, store_url=store_url)
    with run.store() as store:
        store.add_candidates([bulk("Cu", "fcc", a=3.6)], cycle=0)
    with RunDirectory.open(run.path).store() as store:
        assert store.url == store_url
        assert store.count() == 1


def test_config_changes_are_detected_by_content_not_format(tmp_path):
    run = RunDirectory.create(tmp_path / "run", CONFIG)
    reordered = {"acquisition": CONFIG["acquisition"], "oracle": CONFIG["oracle"], "seed": 7}
    assert not run.config_changed(reordered)
    assert not run.config_changed(yaml.safe_load((run.path / "config.yaml").read_text()))
    changed = json.loads(json.dumps(CONFIG))
    changed["oracle"]["ecut_ev"] = 400.0
    assert run.config_changed(changed)
    assert run.config_changed({**CONFIG, "seed": 8})
    assert run.config_changed({**CONFIG, "extra": None})


def test_refuses_newer_format_missing_marker_and_non_empty_target(tmp_path):
    run = RunDirectory.create(tmp_path / "run", CONFIG)
    marker = json.loads((run.path / MARKER).read_text())
    marker.update(format_version=FORMAT_VERSION + 1, qaware_version="9.9.9")
    (run.path / MARKER).write_text(json.dumps(marker))
    with pytest.raises(RunDirectoryError, match=r"9\.9\.9.*upgrade qaware"):
        RunDirectory.open(run.path)
    with pytest.raises(RunDirectoryError, match="not a qaware run directory"):
        RunDirectory.open(tmp_path)
    with pytest.raises(RunDirectoryError, match="not an empty directory"):
        RunDirectory.create(run.path, CONFIG)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / MARKER).write_text(json.dumps({"format_version": 1}))
    with pytest.raises(RunDirectoryError, match=r"config\.yaml is missing"):
        RunDirectory.open(tmp_path / "half")


def test_cycle_structures_are_written_per_cycle(tmp_path):
    run = RunDirectory.create(tmp_path / "run", CONFIG)
    atoms = [bulk("Cu", "fcc", a=3.6), bulk("NaCl", "rocksalt", a=5.64)]
    path = run.write_cycle_structures(3, "selected", atoms)
    assert path == run.path / "cycles" / "cycle_0003" / "selected.extxyz"
    back = ase.io.read(path, index=":")
    assert [a.get_chemical_formula() for a in back] == ["Cu", "ClNa"]
    np.testing.assert_allclose(back[1].positions, atoms[1].positions)
    assert run.write_cycle_structures(3, "empty", []).stat().st_size == 0
    with pytest.raises(RunDirectoryError, match="bad file name"):
        run.write_cycle_structures(3, "../escape", atoms)


def test_models_are_saved_with_their_sha256(tmp_path):
    run = RunDirectory.create(tmp_path / "run", CONFIG)
    blob = bytes(range(256)) * 100
    digest = run.save_model("validator_c0003.pt", blob)
    assert digest == hashlib.sha256(blob).hexdigest()
    sidecar = (run.path / "models" / "validator_c0003.pt.sha256").read_text()
    assert sidecar == f"{digest}  validator_c0003.pt\n"
    source = tmp_path / "gen.pt"
    source.write_bytes(b"generator weights")
    assert run.save_model("gen.pt", source) == hashlib.sha256(b"generator weights").hexdigest()
    assert run.model_path("validator_c0003.pt").read_bytes() == blob
    (run.path / "models" / "validator_c0003.pt").write_bytes(blob[:-1] + b"\x00")
    with pytest.raises(RunDirectoryError, match="does not match its recorded sha256"):
        run.model_path("validator_c0003.pt")


def test_a_bad_store_url_fails_before_anything_is_written(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(StoreError, match="cannot open campaign store"):
        RunDirectory.create(target, CONFIG, store_url="postgresql://nobody@127.0.0.1:9/none")
    assert list(target.iterdir()) == []
    RunDirectory.create(target, CONFIG)  # the same place works once the problem is fixed
