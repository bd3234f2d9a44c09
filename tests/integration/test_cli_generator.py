"""``qaware train-generator`` and ``qaware generate`` on a tiny model (seconds)."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import spglib
from ase.io import read

from qaware.cli import EXIT_BAD_INPUT, EXIT_OK, main

DATA = Path(__file__).resolve().parents[1] / "data" / "structures"
PEROV = DATA / "perov_5_val_20.csv"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    argv = ["train-generator", str(PEROV), "-o", str(out), "--steps", "6", "--hidden", "16"]
    argv += ["--layers", "1", "--batch-size", "8", "--no-progress", "--descriptor-key", "dir_gap"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == EXIT_OK
    assert (out / "model.pt").is_file() and (out / "last.pt").is_file()
    assert len((out / "history.jsonl").read_text().splitlines()) == 6
    return out / "model.pt"


def test_generate_writes_extxyz_and_cif_zip_with_the_constraints(
    model, tmp_path, capsys, monkeypatch
):
    import qaware.generator.diffusion_generator as module

    monkeypatch.setattr(module, "progress_enabled", lambda: True)  # as on a terminal
    prefix = tmp_path / "samples"
    argv = ["generate", "--model", str(model), "-n", "4", "--composition", "SrTiO3"]
    argv += ["--nfe", "10", "-o", str(prefix), "--seed", "1"]
    code, out, err = run(argv, capsys)
    assert code == EXIT_OK, err
    frames = read(str(prefix) + ".extxyz", index=":")
    assert len(frames) == 4
    for atoms in frames:
        assert sorted(atoms.get_chemical_symbols()) == ["O", "O", "O", "Sr", "Ti"]
    with zipfile.ZipFile(str(prefix) + ".cif.zip") as zf:
        names = zf.namelist()
        assert len(names) == 4
        text = zf.read(names[0]).decode()
    assert "_cell_length_a" in text and "Sr" in text
    assert "generated 4 structures" in out
    assert "sample: 100%" in err and "4/4" in err  # the progress bar, on stderr


def test_generate_keeps_the_requested_space_group(model, tmp_path, capsys):
    prefix = tmp_path / "cubic"
    argv = ["generate", "-m", str(model), "-n", "3", "--spacegroup", "221", "--nfe", "10"]
    code, _, err = run([*argv, "--elements", "Sr,Ti,O", "-o", str(prefix)], capsys)
    assert code == EXIT_OK, err
    for atoms in read(str(prefix) + ".extxyz", index=":"):
        cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
        assert spglib.get_symmetry_dataset(cell, symprec=1e-3).number == 221
        assert set(atoms.get_chemical_symbols()) <= {"Sr", "Ti", "O"}


def test_descriptor_guidance_from_a_json_target(model, tmp_path, capsys):
    target = tmp_path / "gap.json"
    target.write_text(json.dumps({"q": [2.0]}))
    prefix = tmp_path / "guided"
    argv = ["generate", "-m", str(model), "-n", "2", "--nfe", "8", "--descriptors", str(target)]
    code, _, err = run([*argv, "--lam", "0.5", "-o", str(prefix)], capsys)
    assert code == EXIT_OK, err
    frames = read(str(prefix) + ".extxyz", index=":")
    assert [a.info["lam"] for a in frames] == [0.5, 0.5]


def test_bad_inputs_exit_2_with_a_message(model, tmp_path, capsys):
    target = tmp_path / "q.json"
    target.write_text(json.dumps([0.1, 0.2]))
    cases = [
        (["-m", str(tmp_path / "missing.pt")], "not found"),
        (["-m", str(model), "--descriptors", str(target)], "expected 1 values"),
        (["-m", str(model), "--lam", "0.3"], "--descriptors"),
        (["-m", str(model), "--spacegroup", "2"], "space_group"),
    ]
    for extra, message in cases:
        code, _, err = run(["generate", *extra, "-n", "2", "-o", str(tmp_path / "x")], capsys)
        assert code == EXIT_BAD_INPUT, (extra, err)
        assert message in err, (extra, err)


def test_yaml_config_is_validated_and_resolved(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"data: [{PEROV}]\nstepz: 3\n")
    code, _, err = run(["train-generator", str(bad)], capsys)
    assert code == EXIT_BAD_INPUT and "stepz" in err
    good = tmp_path / "good.yaml"
    good.write_text(
        f"data: [{PEROV}]\noutput: out\nsteps: 2\nbatch_size: 4\nmodel: {{hidden: 16, layers: 1}}\n"
    )
    code, out, err = run(["train-generator", str(good), "--no-progress"], capsys)
    assert code == EXIT_OK, err
    assert (tmp_path / "out" / "model.pt").is_file()
    assert "sha256" in out


def test_descriptor_target_formats(tmp_path):
    from qaware.commands.generator import read_descriptor_target

    path = tmp_path / "t.json"
    path.write_text(json.dumps({"q": [1, 2.5]}))
    assert read_descriptor_target(path) == [1.0, 2.5]
    q = {"dos": np.zeros(100).tolist(), "gap": 1.2, "elf": np.ones(20).tolist(), "response": 3.0}
    path.write_text(json.dumps(q))
    vec = read_descriptor_target(path)
    assert len(vec) == 122 and vec[100] == 1.2 and vec[-1] == 3.0


def test_generate_more_like_a_structure_through_the_proxy(tmp_path, capsys):
    """--descriptors like.extxyz: the shipped proxy turns the structure into q; the
    proxy-conditioned benchmark model samples toward it. Without --proxy: exit 2, why."""
    from ase.io import write

    from qaware.structures import read_structures

    repo = Path(__file__).resolve().parents[2]
    q_model = repo / "benchmarks" / "models" / "generator_perov5_q.pt"
    proxy = repo / "src" / "qaware" / "data" / "models" / "proxy_quickstart.pt"
    like = tmp_path / "like.extxyz"
    write(like, list(read_structures(PEROV))[:2])
    base = ["generate", "-m", str(q_model), "-n", "3", "--descriptors", str(like), "--lam", "0.5"]
    code, _, err = run([*base, "-o", str(tmp_path / "none")], capsys)
    assert code == EXIT_BAD_INPUT and "proxy" in err
    code, _, err = run([*base, "--proxy", str(proxy), "-o", str(tmp_path / "s")], capsys)
    assert code == EXIT_OK, err
    assert len(read(tmp_path / "s.extxyz", index=":")) == 3
