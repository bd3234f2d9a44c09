"""``qaware train-validator`` and ``qaware score`` on a few frames of the perov_standin data set."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk

from qaware.cli import EXIT_BAD_INPUT, EXIT_OK, main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "perov_standin"
LOW, TOP = "GGA+U@SevenNet-MF-0", "r2SCAN@SevenNet-MF-0"
METALS_3D = {"Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn"}


def _tiny_frames(frames) -> list:
    """12 X3=O3 + 12 X3=O2N frames to train on, then 8 validation and 8 test frames of X3=ON2
    whose elements all occur in the training frames (so every reference energy is fitted);
    ``info["part"]`` says which (the split's group key). Copies: ``frames`` are shared."""
    both_3d = [a.copy() for a in frames if {a.info["a_site"], a.info["b_site"]} <= METALS_3D]
    train = [a for a in both_3d if a.info["tag"] == "X3=O3"][:12] + [
        a for a in both_3d if a.info["tag"] == "X3=O2N"
    ][:12]
    seen = {s for a in train for s in a.get_chemical_symbols()}
    held = [a for a in both_3d if a.info["tag"] == "X3=ON2" and set(a.symbols) <= seen][:16]
    for part, chosen in (("train", train), ("val", held[:8]), ("test", held[8:])):
        for a in chosen:
            a.info["part"] = part
    return train + held


def _config(tmp: Path, frames, extra: str = "", **train) -> Path:
    ase.io.write(tmp / "tiny.extxyz", frames, format="extxyz")
    settings = {"epochs": 3, "batch_size": 10, "seed": 0, **train}
    text = f"""
data: [tiny.extxyz]
references: {DATA / "references.json"}
ladder:
  - {{name: "{LOW}", weight: 0.5, kind: stand-in}}
  - {{name: "{TOP}", weight: 1.0, cost: 3, kind: stand-in}}
split: {{group_key: part, test_groups: [test], validation_groups: [val]}}
model: {{channels: 4, n_layers: 1, radial_hidden: 8, n_heads: 3, head_hidden: 8, cutoff: 4.0}}
train: {json.dumps(settings)}
output: out/model.pt
{extra}"""
    path = tmp / "train.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, perov_standin_frames) -> Path:
    tmp = tmp_path_factory.mktemp("validator")
    frames = _tiny_frames(perov_standin_frames)
    assert main(["train-validator", str(_config(tmp, frames))]) == EXIT_OK
    return tmp


def test_train_validator_cross_family_calibration(tmp_path, perov_standin_frames, capsys):
    """Three training families (the two training tags and the validation part): one model per
    fold predicts families it never saw, and their errors set the checkpoint's σ factors and
    Δ-correction factor."""
    from qaware.validator import MFValidator

    frames = _tiny_frames(perov_standin_frames)
    for a in frames:
        if a.info["part"] == "train":
            a.info["part"] = f"train {a.info['tag']}"
    extra = "calibration: {method: cross_family, folds: 3, shrink_corrections: true}\n"
    assert main(["train-validator", str(_config(tmp_path, frames, extra))]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.count("cross-family calibration: model") == 3
    assert "out-of-family errors" in out
    validator = MFValidator.load(tmp_path / "out" / "model.pt")
    # the Δ correction is shrunk on the same out-of-family predictions (not the validation part)
    assert f"Δ correction {TOP}: ×" in out
    assert validator.shrinkage[TOP].n == validator.calibration[TOP].n
    assert validator.model.correction_factor[1] == pytest.approx(validator.shrinkage[TOP].factor)
    assert {c.method for c in validator.calibration.values()} <= {
        "cross_family",
        "cross_family (all levels)",
    }
    for f, level in enumerate(validator.ladder.names):
        scale = validator.calibration[level].scale
        assert float(validator.model.std_scale[f]) == pytest.approx(scale, rel=1e-6)


def test_train_validator_shrinks_delta_corrections(tmp_path, perov_standin_frames, capsys):
    """``calibration.shrink_corrections``: the top level's factor is fitted on the validation
    part, printed, kept in the checkpoint (buffer and metadata), and the scores use it."""
    from qaware.validator import MFValidator

    frames = _tiny_frames(perov_standin_frames)
    extra = "calibration: {shrink_corrections: true}\n"
    assert main(["train-validator", str(_config(tmp_path, frames, extra))]) == EXIT_OK
    assert f"Δ correction {TOP}: ×" in capsys.readouterr().out
    validator = MFValidator.load(tmp_path / "out" / "model.pt")
    assert set(validator.shrinkage) == {TOP} and validator.shrinkage[TOP].n == 8
    factor = validator.shrinkage[TOP].factor
    assert 0.0 <= factor <= 1.0
    assert validator.model.correction_factor.tolist() == pytest.approx([1.0, factor])


def test_train_validator_writes_a_loadable_calibrated_checkpoint(trained, capsys):
    from qaware.validator import MFValidator

    model = trained / "out" / "model.pt"
    assert model.is_file() and (trained / "out" / "model.pt.sha256").is_file()
    assert not (trained / "out" / "model.partial.pt").exists()
    validator = MFValidator.load(model)
    assert validator.ladder.names == (LOW, TOP)
    assert validator.ladder.top.kind == "stand-in"
    # calibrated on the 8 validation structures: the σ factor is no longer the initial 1
    assert set(validator.calibration) == {LOW, TOP}
    assert np.all(validator.model.std_scale.numpy() != 1.0)


def test_score_table_has_every_level_and_a_consistent_divergence(trained, tmp_path, capsys):
    frames = ase.io.read(trained / "tiny.extxyz", index=":")
    ase.io.write(tmp_path / "cands.extxyz", frames[:7], format="extxyz")
    table = tmp_path / "scores.csv"
    argv = ["score", str(tmp_path / "cands.extxyz"), "--model", str(trained / "out/model.pt")]
    assert main([*argv, "-o", str(table)]) == EXIT_OK
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 7
    for row in rows:
        low, top = float(row[f"e_form_per_atom[{LOW}]"]), float(row[f"e_form_per_atom[{TOP}]"])
        assert float(row["D_signed"]) == pytest.approx(low - top, abs=2e-6)
        assert float(row["D_abs"]) == pytest.approx(abs(low - top), abs=2e-6)
        assert float(row["D_rel"]) == pytest.approx(abs(low - top) / (abs(top) + 0.05), abs=1e-5)
        assert float(row["sigma_top"]) > 0
        # formation energies are referenced: far from the raw total energy per atom (≈ −7 eV)
        assert abs(low - float(row[f"energy_per_atom[{LOW}]"])) > 1.0
        assert 0.0 <= float(row["domain_distance"]) < 10.0  # the model's own data: near
    # an element cell the model never saw: scored, but outside its domain, and a warning says so
    ase.io.write(tmp_path / "metal.extxyz", bulk("Cu", "fcc", a=3.61), format="extxyz")
    capsys.readouterr()
    metal = ["score", str(tmp_path / "metal.extxyz"), "--model", str(trained / "out/model.pt")]
    assert main(metal) == EXIT_OK
    out, err = capsys.readouterr()
    distance = float(next(csv.DictReader(out.splitlines()))["domain_distance"])
    assert distance > 1.0 and "outside the validator's training data" in err
    # the same table on stdout without -o
    assert main(argv) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[0].startswith("source,index,formula")


def test_bad_config_key_and_missing_model_exit_2_naming_the_problem(
    tmp_path, capsys, perov_standin_frames
):
    path = _config(tmp_path, _tiny_frames(perov_standin_frames))
    path.write_text(path.read_text().replace("channels:", "chanels:"))
    assert main(["train-validator", str(path)]) == EXIT_BAD_INPUT
    assert "model.chanels" in capsys.readouterr().err
    code = main(["score", str(tmp_path / "tiny.extxyz"), "--model", str(tmp_path / "no.pt")])
    assert code == EXIT_BAD_INPUT
    assert "no.pt" in capsys.readouterr().err


def _element_cells(frames, levels, mu: dict[str, dict[str, float]], skip=()) -> list:
    """One 2-atom cell per element of ``frames``, tagged ref:element, with E = 2 μ at each level
    (the layout and settings hash of the data set's own frames)."""
    from qaware.datasets.spec import level_key

    cells = []
    for el in sorted({s for a in frames for s in a.get_chemical_symbols()} - set(skip)):
        cell = bulk(el, "sc", a=2.8).repeat((2, 1, 1))
        cell.info.update(tag="ref:element", part="train")
        for lv in levels:
            k = level_key(lv)
            cell.info[f"energy_{k}"] = 2 * mu[lv][el]
            cell.info[f"status_{k}"] = "ok"
            cell.info[f"settings_hash_{k}"] = frames[0].info[f"settings_hash_{k}"]
        cells.append(cell)
    return cells


def test_train_validator_takes_references_from_the_data(tmp_path, perov_standin_frames, capsys):
    """``references: {from_tags: [...]}``: μ from the data's own element cells; frames whose
    element has no such cell are left out before training, and the message names the element."""
    from qaware.validator import MFValidator

    raw = json.loads((DATA / "references.json").read_text())
    mu = {lv: raw[lv]["mu_ev_per_atom"] for lv in (LOW, TOP)}
    frames = _tiny_frames(perov_standin_frames)
    dropped = next(s for s in frames[-1].get_chemical_symbols() if s != "O")  # a test metal
    n_out = sum(dropped in a.get_chemical_symbols() for a in frames)
    frames += _element_cells(frames, (LOW, TOP), mu, skip=[dropped])
    path = _config(tmp_path, frames)
    text = path.read_text().replace(
        f"references: {DATA / 'references.json'}", "references: {from_tags: [ref:element]}"
    )
    path.write_text(text)
    assert main(["train-validator", str(path)]) == EXIT_OK
    err = capsys.readouterr().err
    assert f"left out {n_out} frames" in err and f"{dropped} (no {LOW}/{TOP})" in err
    validator = MFValidator.load(tmp_path / "out" / "model.pt")
    for lv in (LOW, TOP):
        refs = validator.references[lv]
        assert refs.level == lv and dropped not in refs.mu
        assert refs.mu == pytest.approx({el: mu[lv][el] for el in refs.mu})


def test_references_from_tags_without_cells_is_a_clear_error(
    tmp_path, perov_standin_frames, capsys
):
    path = _config(tmp_path, _tiny_frames(perov_standin_frames))
    text = path.read_text().replace(
        f"references: {DATA / 'references.json'}", "references: {from_tags: [ref:element]}"
    )
    path.write_text(text)
    assert main(["train-validator", str(path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "from_tags ['ref:element']" in err and LOW in err
