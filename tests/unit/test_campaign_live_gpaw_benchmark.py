"""benchmarks/campaign_live_gpaw.py: the live campaign's oracles are the Track X build's (same
settings hash, so ``store.reuse`` finds the build's calls), its pool and hull seeds follow the
documented rules, and its config is a valid campaign config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from ase import Atoms

from qaware.config import OracleSpec, QawareConfig
from qaware.datasets.spec import load_dataset_spec
from qaware.oracles.factory import build_oracle

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import campaign_live_gpaw as bench  # noqa: E402


def test_the_oracles_have_the_track_x_builds_settings_hash() -> None:
    spec = load_dataset_spec(REPO / "data" / "track_x" / "spec.yaml")
    built = {o.level: build_oracle(o).settings_hash() for o in spec.oracles}
    mine = {o["level"]: build_oracle(OracleSpec.model_validate(o)).settings_hash()
            for o in bench.oracle_specs()}  # fmt: skip
    assert mine == {lv: built[lv] for lv in ("PBE", "HSE06")}


def _frame(symbols: str, tag: str, **levels: bool) -> Atoms:
    a = Atoms(symbols, positions=[[0.0, 0.0, 1.5 * i] for i in range(len(Atoms(symbols)))])
    a.info["tag"] = tag
    for level, ok in levels.items():
        a.info[f"status_{level}"] = "ok" if ok else "failed"
        if ok:
            a.info[f"energy_{level}"] = -1.0
    return a


def test_pool_and_seeds_follow_the_rules() -> None:
    frames = [
        _frame("O2", "ref:element", HSE06=True),
        _frame("Sr", "ref:element", HSE06=True),
        _frame("Ti2", "ref:element", HSE06=True),
        _frame("La2", "ref:element", HSE06=True),
        _frame("Zn", "ref:element", HSE06=False),  # its HSE06 reference failed
        _frame("SrTiO3", "X3=O3", PBE=True),  # pool
        _frame("SrZnO3", "X3=O3", PBE=True),  # no Zn reference
        _frame("LaTiO3", "X3=O3", PBE=True),  # La: left out for cost
        _frame("SrTiO3", "X3=O3", PBE=True, HSE06=True),  # already labelled at HSE06
        _frame("SrTiO2N", "X3=O2N", PBE=True),  # another family
        _frame("SrO", "ref:oxide", HSE06=True),  # seed (labelled by the build)
        _frame("Ti2O4", "ref:oxide"),  # seed (the campaign labels it)
        _frame("Ti4O6", "ref:oxide"),  # 10 atoms: left out for cost
        _frame("ZnO", "ref:oxide", HSE06=True),  # Zn is not a pool element
        _frame("BaO", "ref:oxide"),  # not in the HSE06 subset
    ]
    for a in frames[10:14]:
        a.info["hse06"] = True
    pool, seeds = bench.choose(frames)
    assert pool == [5] and seeds == [10, 11]


def test_the_campaign_config_is_valid_and_reuses_the_build(tmp_path: Path) -> None:
    args = argparse.Namespace(budget=6, batch=2, cycles=3, workers=2)
    cfg = bench.campaign_config(tmp_path / "run", tmp_path / "v.pt", [tmp_path / "store"], 20, args)
    parsed = QawareConfig.model_validate(yaml.safe_load(yaml.safe_dump(cfg)))
    assert parsed.store.reuse == [str(tmp_path / "store")]
    assert [f.name for f in parsed.fidelities] == ["PBE", "HSE06"]
    assert parsed.campaign.budget == 6 and parsed.campaign.candidates_per_cycle == 20
    assert parsed.generator.kind == "pool"
    assert parsed.campaign.reference_structures == [str(bench.WORK / "references.extxyz")]


def test_the_pool_is_recorded_once_and_read_back_by_hash(tmp_path, monkeypatch) -> None:
    from qaware.structures import structure_hash

    frames = [
        _frame("O2", "ref:element", HSE06=True),
        _frame("Sr", "ref:element", HSE06=True),
        _frame("Ti2", "ref:element", HSE06=True),
        _frame("SrTiO3", "X3=O3", PBE=True),
    ]
    for a in frames:
        a.info["structure_hash"] = structure_hash(a)
    data = tmp_path / "track_x.extxyz"
    data.write_text("x")
    monkeypatch.setattr(bench, "POOL_FILE", tmp_path / "pool.json")
    monkeypatch.setattr(bench, "REPO", tmp_path)
    assert bench.chosen(frames, data) == ([3], [])
    # a later snapshot: the cell got an HSE06 label and moved; the recorded pool still holds it
    frames[3].info.update(status_HSE06="ok", energy_HSE06=-1.0)
    later = [frames[3], *frames[:3]]
    assert bench.chosen(later, data) == ([0], [])


def test_a_checkout_without_the_run_resumes_from_the_committed_snapshot(tmp_path, monkeypatch):
    """The run directory is not committed; its snapshot is, and a fresh checkout starts from it
    (the run and the validator it started from), never over a live run."""
    import sqlite3

    work, snap = tmp_path / "runs", tmp_path / "snapshots"
    monkeypatch.setattr(bench, "WORK", work)
    monkeypatch.setattr(bench, "SNAPSHOT", snap)
    (work / "run").mkdir(parents=True)
    with sqlite3.connect(work / "run" / "campaign.db") as db:
        db.execute("CREATE TABLE calls (id INTEGER, energy REAL)")
        db.execute("INSERT INTO calls VALUES (1, -7.5)")
    (work / "run" / "events.jsonl").write_text('{"event": "done"}\n{"event": "tor')
    for name in bench.KEPT:
        (work / name).write_bytes(name.encode())
    assert not bench.restore_snapshot()  # nothing committed yet
    bench.save_snapshot()
    assert not bench.restore_snapshot()  # a live run is never overwritten
    import shutil

    shutil.rmtree(work)
    assert bench.restore_snapshot()
    with sqlite3.connect(work / "run" / "campaign.db") as db:
        assert db.execute("SELECT energy FROM calls").fetchall() == [(-7.5,)]
    assert (work / "run" / "events.jsonl").read_text() == '{"event": "done"}\n'
    assert all((work / name).read_bytes() == name.encode() for name in bench.KEPT)
