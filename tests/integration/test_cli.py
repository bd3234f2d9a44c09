"""The command line: the quick-start job, status, export, init, and exit codes on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qaware.cli import EXIT_BAD_INPUT, EXIT_OK, main
from qaware.config_io import load_config
from qaware.structures import read_structures, structure_hash

DATA = Path(__file__).resolve().parents[1] / "data"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_the_commands(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == EXIT_OK
    for command in ("init", "ingest", "status", "export"):
        assert command in out


def test_init_writes_a_loadable_template_and_refuses_to_overwrite(tmp_path, capsys):
    path = tmp_path / "q.yaml"
    assert run(["init", str(path)], capsys)[0] == EXIT_OK
    assert load_config(path).campaign.patience == 3
    code, _, err = run(["init", str(path)], capsys)
    assert code == EXIT_BAD_INPUT and "exists already" in err
    assert run(["init", str(path), "--force"], capsys)[0] == EXIT_OK


@pytest.fixture(scope="module")
def example_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "example"
    assert main(["ingest", "--example", "--run-dir", str(run_dir)]) == EXIT_OK
    return run_dir


def test_quick_start_job_stores_every_bundled_structure(example_run, capsys):
    for name in ("config.yaml", "config.sha256", "campaign.db", "events.jsonl", "qaware.log"):
        assert (example_run / name).exists(), name
    assert (example_run / "cycles/cycle_0000/ingested.extxyz").exists()
    code, out, _ = run(["status", str(example_run)], capsys)
    assert code == EXIT_OK
    total = next(line for line in out.splitlines() if line.strip().startswith("total"))
    assert total.split()[1] == "240"
    code, out, _ = run(["ingest", "--example", "--run-dir", str(example_run)], capsys)
    assert code == EXIT_OK and "0 new, 240 already stored" in out


@pytest.mark.parametrize("fmt", ["extxyz", "cif", "csv"])
def test_export_round_trips_the_stored_structures(example_run, tmp_path, fmt, capsys):
    out_file = tmp_path / f"all.{fmt}"
    code, out, _ = run(["export", str(example_run), "--format", fmt, "-o", str(out_file)], capsys)
    assert code == EXIT_OK and "wrote 240 structures" in out
    back = read_structures(out_file)
    assert len(back) == 240
    stored = read_structures(example_run / "cycles/cycle_0000/ingested.extxyz")
    assert {structure_hash(a) for a in back} == {structure_hash(a) for a in stored}
    if fmt != "cif":
        assert {a.info["status"] for a in back} == {"generated"}


def test_bad_file_exits_2_and_writes_nothing(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, _, err = run(
        ["ingest", str(DATA / "bad/overlapping_atoms.cif"), "--run-dir", str(run_dir)], capsys
    )
    assert code == EXIT_BAD_INPUT
    assert "overlapping_atoms.cif" in err and "apart" in err
    assert not run_dir.exists(), "a rejected ingest must not create the run directory"


def test_skip_bad_keeps_the_good_rows_and_names_the_bad_ones(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, out, _ = run(
        ["ingest", str(DATA / "bad/mixed_good_bad.csv"), "--run-dir", str(run_dir), "--skip-bad"],
        capsys,
    )
    assert code == EXIT_OK
    assert "skipped: " in out and "mixed_good_bad.csv" in out
    assert "1 skipped" in out or " skipped" in out


def test_same_run_dir_with_another_config_is_refused(example_run, tmp_path, capsys):
    other = tmp_path / "other.yaml"
    other.write_text(f"run: {{seed: 99, directory: {example_run}}}\n")
    code, _, err = run(["ingest", "--example", "--config", str(other)], capsys)
    assert code == EXIT_BAD_INPUT and "another configuration" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "/nonexistent/run"], "not a qaware run directory"),
        (["ingest"], "nothing to ingest"),
        (["ingest", "--example", "--config", "/nonexistent.yaml"], "config file not found"),
        (["export", ".", "--format", "pdb"], "'pdb' is not one of"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_usage_exits_2_with_a_message(argv, message, capsys):
    code, out, err = run(argv, capsys)
    assert code == EXIT_BAD_INPUT
    assert message in out + err


def test_bad_config_names_the_key(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"run: {{directory: {tmp_path / 'r'}}}\ncampaign:\n  budgte: 3\n")
    code, _, err = run(["ingest", "--example", "--config", str(cfg)], capsys)
    assert code == EXIT_BAD_INPUT and "campaign.budgte: unknown key, did you mean 'budget'?" in err


def test_module_entry_point(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "qaware", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "ingest" in proc.stdout
    assert shutil.which("qaware") is not None, "the console script is installed"
