"""benchmarks/_provenance.py: a result is dirty only when code or data differ from the commit,
not when other results (or its own earlier write) are uncommitted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _provenance


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "benchmarks" / "results" / "a.json").write_text("{}\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    monkeypatch.setattr(_provenance, "REPO", tmp_path)
    return tmp_path


def test_uncommitted_results_leave_the_tree_clean(repo):
    (repo / "benchmarks" / "results" / "a.json").write_text('{"x": 1}\n')
    info = _provenance._git()
    assert info is not None and info["dirty"] is False and len(info["commit"]) == 40


def test_changed_code_makes_it_dirty(repo):
    (repo / "code.py").write_text("x = 2\n")
    assert _provenance._git()["dirty"] is True
