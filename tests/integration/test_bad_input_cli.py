"""Every file of the bad-input corpus through the command a user would run (issue 10, item 3).

Structure files go through ``qaware ingest FILE --run-dir D``, run configurations through
``qaware run CONFIG`` and the run directory from a newer qaware through ``resume``, ``status``,
``ingest``, ``export``, ``report`` and ``run``. Each must exit with code 2 and print one
``error:`` line that names the file and the row/frame/block, atom or key at fault, with no
traceback (unless ``--debug``), and must leave the store exactly as it was: an existing run
directory byte for byte, a new one not created at all.

The commands run in-process through :func:`qaware.cli.main` (what the console script calls);
one subprocess per kind of input checks the real process exit code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qaware.cli import EXIT_BAD_INPUT, EXIT_OK, main

DATA = Path(__file__).resolve().parents[1] / "data"
BAD = DATA / "bad"
GOOD_CSV = DATA / "structures" / "perov_5_val_20.csv"

# structure file: words the error line must hold besides the file name (where, then what)
STRUCTURES: dict[str, tuple[str, ...]] = {
    "malformed.cif": ("block 0", "could not be parsed"),
    "truncated.cif": ("block 0", "truncated or malformed"),
    "truncated_at_line.cif": ("block 0", "field '_chemical_formula_sum'", "Sr1 Ti1 O3"),
    "unknown_element.cif": ("block 0", "atom 4", "unknown element 'Xq'"),
    "zero_volume.cif": ("block 0", "field 'cell'", "volume 0"),
    "degenerate_cell.cif": ("block 0", "field 'cell'", "degenerate"),
    "overlapping_atoms.cif": ("block 0", "atom 2", "0.039 Å apart"),
    "partial_occupancy.cif": ("block 0", "atom 0", "partially occupied"),
    "no_data_block.cif": ("no 'data_' block",),
    "second_block_bad.cif": ("block 1", "atom 2", "data_second"),
    "empty.cif": ("file is empty",),
    "garbage.cif": ("binary",),
    "truncated.extxyz": ("frame 0", "declares 5 atoms but only 3"),
    "nan_coordinates.extxyz": ("frame 0", "atom 3", "not finite"),
    "missing_cell.extxyz": ("frame 0", "field 'cell'", "missing or zero cell"),
    "bad_count_line.extxyz": ("frame 0", "'five'"),
    "second_frame_bad.extxyz": ("frame 1", "line 6", "'oops'"),
    "close_atoms.extxyz": ("frame 0", "atom 0", "0.2 Å apart"),
    "unknown_element.xyz": ("frame 0", "atom 1", "'Qq'"),
    "latin1.extxyz": ("not UTF-8",),
    "broken_row.csv": ("row 2", "field 'cif'", "2 fields but the header has 4"),
    "missing_cif_column.csv": ("field 'cif'", "no 'cif' column"),
    "bad_cif_in_row.csv": ("row 1", "field 'cif'", "'oops'"),
    "empty_cif_cell.csv": ("row 1", "field 'cif'", "cif cell is empty"),
    "header_only.csv": ("no structures found",),
    "mixed_good_bad.csv": ("row 2", "atom 2", "0.039 Å apart"),
    "empty.csv": ("file is empty",),
    "structure.pdb": ("extension '.pdb'",),
    "too_many_atoms.extxyz": ("frame 0", "field 'numbers'", "10000 atoms", "limit of 200"),
    "no_atoms.extxyz": ("frame 0", "field 'numbers'", "no atoms"),
}

# run configuration: (line, key path, words of the problem)
CONFIGS: dict[str, tuple[int | None, str | None, tuple[str, ...]]] = {
    "unknown_key.yaml": (
        6,
        "campaign.patiense",
        (
            "unknown key",
            "did you mean 'patience'",
        ),
    ),
    "wrong_type.yaml": (6, "campaign.batch_size", ("valid integer", "'eight'")),
    "negative_budget.yaml": (5, "campaign.budget", ("greater than or equal to 1", "-5")),
    "malformed.yaml": (6, None, ("invalid YAML",)),
    "not_a_mapping.yaml": (None, None, ("top level must be a mapping", "list")),
}

NEWER_RUN = "newer_version_run"
NEWER_WORDS = ("qaware_run.json", "field 'format_version' is 2", "qaware 9.0.0", "upgrade")


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``qaware argv`` in-process; (exit code, stdout, stderr).

    The CLI adds a ``qaware.log`` handler per run directory for the rest of the process (one
    command per process in real use); it is detached here so that one test's log lines never
    land in another test's run directory.
    """
    try:
        code = main([str(a) for a in argv])
    finally:
        logger = logging.getLogger("qaware")
        for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
            logger.removeHandler(handler)
            handler.close()
    out = capsys.readouterr()
    return code, out.out, out.err


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path -> hex); directories too."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_one_clear_error(err: str, out: str, source: Path, words: tuple[str, ...]) -> str:
    """Exactly one ``error:`` line, naming ``source`` and every word; no traceback anywhere."""
    assert "Traceback" not in err + out
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert all(not line.startswith(" ") for line in err.splitlines()), err  # no continuation
    line = lines[0]
    assert str(source) in line, line
    for word in words:
        assert word in line, (word, line)
    return line


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory holding 20 ingested perov-5 structures."""
    run_dir = tmp_path_factory.mktemp("good") / "run"
    code = main(["ingest", str(GOOD_CSV), "--run-dir", str(run_dir)])
    logger = logging.getLogger("qaware")
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        logger.removeHandler(handler)
        handler.close()
    assert code == EXIT_OK
    return run_dir


def test_the_corpus_has_every_defect_the_issue_names_and_each_is_tested():
    entries = {p.name for p in BAD.iterdir() if p.suffix not in (".py", ".md")}
    assert entries == set(STRUCTURES) | set(CONFIGS) | {NEWER_RUN}
    assert len(entries) >= 30
    readme = (BAD / "README.md").read_text()
    for name in entries:
        assert f"| {name}" in readme, name


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_ingest_of_a_bad_file_exits_2_names_the_place_and_writes_nothing(
    name: str, good_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = BAD / name
    before = snapshot(good_run)
    code, out, err = cli(["ingest", source, "--run-dir", good_run], capsys)
    assert code == EXIT_BAD_INPUT
    assert_one_clear_error(err, out, source, STRUCTURES[name])
    assert snapshot(good_run) == before, "a rejected ingest changed the run directory"
    fresh = tmp_path / "fresh"
    code, out, err = cli(["ingest", GOOD_CSV, source, "--run-dir", fresh], capsys)
    assert code == EXIT_BAD_INPUT, "one bad file among good ones refuses the whole ingest"
    assert_one_clear_error(err, out, source, STRUCTURES[name])
    assert not fresh.exists(), "a rejected ingest must not create the run directory"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_run_with_a_bad_config_exits_2_names_the_key_and_creates_no_run(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / name
    shutil.copyfile(BAD / name, config)
    line_no, key, words = CONFIGS[name]
    code, out, err = cli(["run", config], capsys)
    assert code == EXIT_BAD_INPUT
    where = f"{config}:{line_no}" if line_no else str(config)
    line = assert_one_clear_error(err, out, config, (where, *words))
    if key is not None:
        assert f"{where} {key}: " in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "nothing else may be written"


def test_ingest_and_resume_with_a_bad_config_leave_the_run_untouched(
    good_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "negative_budget.yaml"
    shutil.copyfile(BAD / "negative_budget.yaml", config)
    before = snapshot(good_run)
    for argv in (
        ["ingest", GOOD_CSV, "--config", config, "--run-dir", good_run],
        ["resume", good_run, "--config", config],
    ):
        code, out, err = cli(argv, capsys)
        assert code == EXIT_BAD_INPUT, argv
        assert_one_clear_error(err, out, config, ("campaign.budget", "-5"))
    assert snapshot(good_run) == before


@pytest.fixture
def newer_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / NEWER_RUN
    shutil.copytree(BAD / NEWER_RUN, run_dir)
    return run_dir


@pytest.mark.parametrize(
    "command", ["resume", "status", "export", "report", "ingest", "run", "resume --config"]
)
def test_a_run_dir_from_a_newer_qaware_is_refused_before_anything_is_written(
    command: str, newer_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(newer_run)
    good_config = tmp_path / "good.yaml"
    good_config.write_text(f"run:\n  directory: {newer_run}\ncampaign:\n  budget: 10\n")
    argv = {
        "ingest": ["ingest", GOOD_CSV, "--run-dir", newer_run],
        "run": ["run", good_config],
        "resume --config": ["resume", newer_run, "--config", good_config],
    }.get(command, [command, newer_run])
    code, out, err = cli(argv, capsys)
    assert code == EXIT_BAD_INPUT
    assert_one_clear_error(err, out, newer_run / "qaware_run.json", NEWER_WORDS)
    assert snapshot(newer_run) == before, "the newer run directory was written to"


def test_resume_of_a_missing_or_foreign_directory_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    code, out, err = cli(["resume", missing], capsys)
    assert code == EXIT_BAD_INPUT
    assert_one_clear_error(err, out, missing, ("not a qaware run directory",))
    assert not missing.exists()
    foreign = tmp_path / "photos"
    foreign.mkdir()
    code, out, err = cli(["resume", foreign], capsys)
    assert code == EXIT_BAD_INPUT
    assert_one_clear_error(err, out, foreign, ("no qaware_run.json",))
    assert list(foreign.iterdir()) == [], "no qaware.log in a directory that is not a run"


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = BAD / "nan_coordinates.extxyz"
    code, _, err = cli(["--debug", "ingest", source, "--run-dir", tmp_path / "r"], capsys)
    assert code == EXIT_BAD_INPUT
    assert "Traceback" in err and "InvalidStructureError" in err
    assert "error: " in err and "atom 3" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["ingest", BAD / "overlapping_atoms.cif", "--run-dir", "{tmp}/run"],
        ["run", BAD / "unknown_key.yaml"],
        ["status", BAD / NEWER_RUN],
    ],
    ids=["structure", "config", "run-dir"],
)
def test_the_real_process_exits_2_with_one_line(argv: list[object], tmp_path: Path) -> None:
    args = [str(a).replace("{tmp}", str(tmp_path)) for a in argv]
    env = {**os.environ, "QAWARE_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "qaware", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(argv[1]) in errors[0]
    assert list(tmp_path.iterdir()) == []
