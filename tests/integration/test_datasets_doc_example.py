"""The toy of docs/components/datasets.md runs as written: its recipe and spec are cut out of the
page, built, rebuilt (nothing recomputed) and loaded with the calls the page shows."""

from __future__ import annotations

import re
from pathlib import Path

from qaware.cli import main
from qaware.datasets import (
    build_dataset,
    dataset_file,
    elemental_references,
    formation_energies,
    level_keys,
    level_status,
    load_dataset_spec,
    read_dataset,
)

PAGE = Path(__file__).resolve().parents[2] / "docs" / "components" / "datasets.md"


def _block(text: str, first_line: str) -> str:
    """The fenced code block whose first line is ``first_line``."""
    for body in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL):
        if body.startswith(first_line + "\n"):
            return body
    raise AssertionError(f"{PAGE.name}: no code block starting with {first_line!r}")


def test_the_documented_toy_builds_resumes_and_loads(tmp_path: Path, capsys) -> None:
    text = PAGE.read_text()
    (tmp_path / "recipe.py").write_text(_block(text, "# recipe.py"))
    (tmp_path / "spec.yaml").write_text(_block(text, "# spec.yaml"))
    spec = load_dataset_spec(tmp_path / "spec.yaml")
    first = build_dataset(spec, spec_path=tmp_path / "spec.yaml")
    assert first.n_structures == 8
    assert first.counts["EMT"]["ok"] == 8 and first.counts["LJ"]["ok"] == 2
    assert first.counts["EMT"]["computed"] == 8
    assert main(["status", str(tmp_path / "out" / "run")]) == 0
    status = capsys.readouterr().out
    assert "stage toy" in status and "computed 10 of 10" in status and "stage exported" in status
    again = build_dataset(spec, spec_path=tmp_path / "spec.yaml")
    assert again.counts["EMT"]["computed"] == again.counts["LJ"]["computed"] == 0
    assert again.counts["EMT"]["cached"] == 8  # the page's "0 computed now, ... from the store"
    assert main(["status", str(tmp_path / "out" / "run")]) == 0
    assert "all pairs served from the store" in capsys.readouterr().out

    frames = read_dataset(dataset_file(tmp_path / "out", "toy"))
    assert level_keys(frames) == ["EMT", "LJ"]
    assert [level_status(f, "LJ") for f in frames].count("ok") == 2
    assert [f.info["tag"] for f in frames if level_status(f, "LJ") == "ok"] == ["Cu", "Cu"]
    refs = elemental_references(frames[:1], "EMT", reference_tags=["Cu"])
    e_form = formation_energies(frames, "EMT", refs)
    assert e_form[0] == 0.0  # the reference cell itself
    cu = [i for i, f in enumerate(frames) if f.info["tag"] == "Cu"]
    assert all(abs(e_form[i]) < 0.1 for i in cu)  # other lattice constants: small strain energy
