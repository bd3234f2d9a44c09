"""``qaware build-dataset``: a tiny EMT + replay data set end to end, and kill -9 in the middle
of a build: the rerun finishes it, recomputes nothing that was stored, and exports exactly what
an uninterrupted build exports.

The helper modules (a recipe and an EMT calculator that sleeps and logs every calculation) are
written into the test's folder and put on PYTHONPATH, so the spawned workers import them too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import ase.io
import pytest
from ase.calculators.emt import EMT

from qaware.cli import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, main

RECIPE = """\
import numpy as np
from ase.build import bulk


def structures(n=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.positions += rng.normal(0.0, 0.05, size=atoms.positions.shape)
        atoms.info["tag"] = "even" if i % 2 == 0 else "odd"
        out.append(atoms)
    alloy = bulk("Cu", "fcc", a=3.7, cubic=True)
    alloy[0].symbol = "Au"
    alloy.info["tag"] = "alloy"
    return out + [alloy]
"""

SLOW_EMT = """\
import os
import time

from ase.calculators.emt import EMT


class SlowEMT(EMT):
    '''EMT that sleeps ``delay`` s per structure and logs its info["index"] to $CALL_LOG.'''

    def __init__(self, delay=0.3, **kwargs):
        super().__init__(**kwargs)
        self.delay, self.logged = delay, False

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        if not self.logged:
            time.sleep(self.delay)
            with open(os.environ["CALL_LOG"], "a") as fh:
                fh.write(f"{atoms.info['index']}\\n")
            self.logged = True
        kwargs = {} if system_changes is None else {"system_changes": system_changes}
        super().calculate(atoms, list(properties), **kwargs)
"""

SPEC = """\
name: {name}
description: rattled Cu cells labelled by EMT, plus a recorded table
output: {output}
seed: 3
structures:
  - recipe: recipe.py:structures
    kwargs: {{n: {n}}}
oracles:
  - level: EMT
    kind: ase
    settings: {{calculator: "{calculator}", kwargs: {kwargs}}}
    timeout_s: 60
    max_retries: 0
execution: {{max_workers: 2}}
"""

REPLAY = """\
  - level: EMT@table
    kind: replay
    settings: {table: table.csv, quantity: formation_energy_per_atom}
    subset: {tags: [even, alloy]}
    isolate: false
"""


def write_folder(
    folder: Path, *, n: int, calculator: str, kwargs: str, outputs: list[str], replay: bool = True
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.py").write_text(RECIPE)
    (folder / "slow_emt.py").write_text(SLOW_EMT)
    (folder / "table.csv").write_text("formula,EMT@table\nCu,-0.01\n")  # no Cu3Au row
    for out in outputs:
        text = SPEC.format(name="cu", output=out, n=n, calculator=calculator, kwargs=kwargs)
        if replay:
            text = text.replace("execution:", REPLAY + "execution:")
        (folder / f"{out}.yaml").write_text(text)


def test_tiny_build_export_and_rerun(tmp_path, capsys, monkeypatch, driver_lock_holder):
    monkeypatch.setenv("QAWARE_NO_PROGRESS", "1")
    write_folder(tmp_path, n=3, calculator="ase.calculators.emt:EMT", kwargs="{}", outputs=["out"])
    spec = tmp_path / "out.yaml"
    # Ctrl-C after two results: exit code 3, both results kept
    from qaware.oracles.runner import OracleRunner

    evaluate = OracleRunner.evaluate

    def interrupted(self, tasks):
        results = evaluate(self, tasks)
        yield next(results)
        yield next(results)
        raise KeyboardInterrupt

    monkeypatch.setattr(OracleRunner, "evaluate", interrupted)
    assert main(["build-dataset", str(spec)]) == EXIT_INTERRUPTED
    assert "`qaware build-dataset " in capsys.readouterr().err
    monkeypatch.setattr(OracleRunner, "evaluate", evaluate)
    assert main(["build-dataset", str(spec)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "EMT: 4 ok, 0 failed, 0 gated, 0 pending (" in printed
    assert "EMT@table: 2 ok, 1 failed, 0 gated, 0 pending (" in printed
    computed = [int(x) for x in re.findall(r"\((\d+) computed now", printed)]
    assert sum(computed) == 7 - 2  # the two results stored before Ctrl-C are not recomputed
    frames = ase.io.read(tmp_path / "out" / "cu.extxyz", index=":")
    assert [f.info["tag"] for f in frames] == ["even", "odd", "even", "alloy"]
    for frame in frames:  # EMT's labels for the structure in the frame (positions to 1e-8 Å)
        atoms = frame.copy()
        atoms.calc = EMT()
        assert frame.info["energy_EMT"] == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
        assert frame.arrays["forces_EMT"] == pytest.approx(atoms.get_forces(), abs=1e-6)
    assert frames[0].info["energy_EMT_at_table"] == pytest.approx(-0.04)  # -0.01 eV/atom x 4
    assert "status_EMT_at_table" not in frames[1].info  # odd: not in that oracle's subset
    assert frames[3].info["reason_EMT_at_table"] == "not_in_table"
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "| EMT@table | `EMT_at_table` | 3 | 2 | 1 | 0 | 0 |" in readme
    assert "| 3 | AuCu3 |" in readme and "not_in_table" in readme
    events = [json.loads(x) for x in (tmp_path / "out/run/events.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "oracle_result" for e in events) == 7
    assert [e["event"] for e in events].count("interrupted") == 1
    # a rerun computes nothing; --export-only too
    assert main(["build-dataset", str(spec), "--workers", "1"]) == EXIT_OK
    assert "(0 computed now, 4 from the store)" in capsys.readouterr().out
    assert main(["build-dataset", str(spec), "--export-only"]) == EXIT_OK
    events = [json.loads(x) for x in (tmp_path / "out/run/events.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "oracle_result" for e in events) == 7
    # --retry-failed: the one failed pair (no table row) gets one more attempt, nothing else
    capsys.readouterr()
    assert main(["build-dataset", str(spec), "--retry-failed"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "EMT: 4 ok, 0 failed, 0 gated, 0 pending (0 computed now" in printed
    assert "EMT@table: 2 ok, 1 failed, 0 gated, 0 pending (1 computed now" in printed
    # a second build of the same output while one runs: refused, nothing written
    holder = driver_lock_holder(tmp_path / "out" / "run")
    before = (tmp_path / "out/run/events.jsonl").read_text()
    assert main(["build-dataset", str(spec)]) == EXIT_BAD_INPUT
    assert f"another qaware process drives this run directory (pid {holder.pid} " in (
        capsys.readouterr().err
    )
    assert (tmp_path / "out/run/events.jsonl").read_text() == before


def test_bad_specs_exit_with_code_2(tmp_path, capsys):
    write_folder(tmp_path, n=1, calculator="ase.calculators.emt:EMT", kwargs="{}", outputs=["o"])
    spec = tmp_path / "o.yaml"
    spec.write_text(spec.read_text().replace("max_retries: 0", "max_retires: 0"))
    assert main(["build-dataset", str(spec)]) == EXIT_BAD_INPUT
    assert (
        "oracles.0.max_retires: unknown key, did you mean 'max_retries'?" in capsys.readouterr().err
    )
    spec.write_text(spec.read_text().replace("max_retires: 0", "settings: {}"))
    assert main(["build-dataset", str(spec)]) == EXIT_BAD_INPUT
    assert main(["build-dataset", str(tmp_path / "none.yaml")]) == EXIT_BAD_INPUT
    assert main(["build-dataset", str(tmp_path / "o.yaml"), "--workers", "0"]) == EXIT_BAD_INPUT


def _session_processes(sid: int) -> list[int]:
    """Pids of live processes in session ``sid`` (the oracle children lead their own groups)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _kill_session(sid: int) -> None:
    deadline = time.monotonic() + 10
    while (pids := _session_processes(sid)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _logged(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


@pytest.mark.slow  # three builds of 9 isolated calls: 20-45 s on 2 shared cores
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to clean up the killed build")
def test_kill_9_midway_then_rerun_recomputes_nothing_stored(tmp_path):
    n = 8  # + 1 alloy
    write_folder(tmp_path, n=n, calculator="slow_emt:SlowEMT", kwargs="{delay: 0.3}",
                 outputs=["full", "killed"], replay=False)  # fmt: skip
    env = dict(os.environ, QAWARE_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "qaware.cli", "build-dataset"]

    def build(spec: str, log: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*command, spec], cwd=tmp_path, env=dict(env, CALL_LOG=str(tmp_path / log)),
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{log}.err", "w"),
            start_new_session=True,
        )  # fmt: skip

    assert build("full.yaml", "full.log").wait(timeout=240) == 0
    assert sorted(_logged(tmp_path / "full.log")) == list(range(n + 1))

    # kill -9 the whole build (driver, pool workers) once some results are stored
    events = tmp_path / "killed/run/events.jsonl"
    victim = build("killed.yaml", "killed.log")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:
        if events.exists() and events.read_text().count('"oracle_result"') >= 3:
            break
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    _kill_session(victim.pid)  # oracle children in their own process groups

    from qaware.store import RunDirectory

    with RunDirectory.open(tmp_path / "killed/run").store() as store:
        stored = {c.structure_hash for c in store.calls(status="done") if c.level == "EMT"}
    full = ase.io.read(tmp_path / "full/cu.extxyz", index=":")
    index_of = {f.info["structure_hash"]: f.info["index"] for f in full}
    stored_indices = {index_of[h] for h in stored}
    assert 3 <= len(stored_indices) < n, "the kill should land in the middle of the build"

    assert build("killed.yaml", "rerun.log").wait(timeout=240) == 0
    recomputed = _logged(tmp_path / "rerun.log")
    assert not stored_indices & set(recomputed), "a stored result was computed again"
    assert sorted(recomputed) == sorted(set(range(n + 1)) - stored_indices)
    assert (tmp_path / "killed/cu.extxyz").read_bytes() == (
        tmp_path / "full/cu.extxyz"
    ).read_bytes()


def test_a_staging_spec_fills_the_shared_store_without_exporting(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QAWARE_NO_PROGRESS", "1")
    write_folder(tmp_path, n=2, calculator="ase.calculators.emt:EMT", kwargs="{}",
                 outputs=["out"], replay=False)  # fmt: skip
    full = tmp_path / "out.yaml"
    stage = tmp_path / "stage.yaml"  # same store (output: out), one structure, no export
    stage.write_text(
        full.read_text().replace("name: cu", "name: cu_stage\nexport: false")
        .replace("    max_retries: 0\n", "    max_retries: 0\n    subset: {tags: [alloy]}\n")
    )  # fmt: skip
    assert main(["build-dataset", str(stage)]) == EXIT_OK
    assert "EMT: 1 ok, 0 failed, 0 gated, 0 pending (1 computed now" in capsys.readouterr().out
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert "README.md" not in written and not any(".extxyz" in name for name in written)
    assert main(["build-dataset", str(full)]) == EXIT_OK
    assert "(2 computed now, 1 from the store)" in capsys.readouterr().out  # the stage's result
    assert (tmp_path / "out" / "README.md").is_file()


def test_subset_passed_labels_only_where_the_prerequisite_is_ok(tmp_path, capsys, monkeypatch):
    """EMT only where the replay level is ok (the Cu cells tagged even; Cu3Au is not in the
    table, the odd cell is not asked): computed in one build, kept when the prerequisite later
    fails, and the same rule read from another spec's store."""
    monkeypatch.setenv("QAWARE_NO_PROGRESS", "1")
    write_folder(tmp_path, n=3, calculator="ase.calculators.emt:EMT", kwargs="{}",
                 outputs=["out"], replay=False)  # fmt: skip
    spec = tmp_path / "out.yaml"
    text = spec.read_text().replace(
        "    max_retries: 0\n", "    max_retries: 0\n    subset: {passed: {level: EMT@table}}\n"
    )
    spec.write_text(text.replace("execution:", REPLAY + "execution:"))
    assert main(["build-dataset", str(spec)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "EMT@table: 2 ok, 1 failed" in out
    assert "EMT: 2 ok, 0 failed, 0 gated, 0 pending (2 computed now, 0 from the store)" in out
    frames = ase.io.read(tmp_path / "out" / "cu.extxyz", index=":")
    labelled = [f.info["tag"] for f in frames if f.info.get("status_EMT") == "ok"]
    assert labelled == ["even", "even"]
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "- EMT labels 2 of the 4 structures: only where EMT@table is ok" in readme
    assert "- EMT@table labels 3 of the 4 structures: tags ['even', 'alloy']." in readme

    # the table loses Cu: the replay level fails everywhere, the stored EMT results stay
    (tmp_path / "table.csv").write_text("formula,EMT@table\nAu,-0.02\n")
    assert main(["build-dataset", str(spec)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "EMT@table: 0 ok, 3 failed" in out
    assert "EMT: 2 ok, 0 failed, 0 gated, 0 pending (0 computed now, 2 from the store)" in out

    # another spec names this one: its prerequisite is read from out/run (now: nothing ok)
    other = tmp_path / "other.yaml"
    other.write_text(
        spec.read_text()
        .replace("output: out", "output: other")
        .replace("{passed: {level: EMT@table}}", "{passed: {level: EMT@table, spec: out.yaml}}")
        .replace(REPLAY, "")
    )
    assert main(["build-dataset", str(other)]) == EXIT_OK
    assert "EMT: 0 ok, 0 failed, 0 gated, 0 pending (0 computed now" in capsys.readouterr().out
    (tmp_path / "table.csv").write_text("formula,EMT@table\nCu,-0.01\n")  # back: 2 ok again
    assert main(["build-dataset", str(spec)]) == EXIT_OK
    capsys.readouterr()
    assert main(["build-dataset", str(other)]) == EXIT_OK
    assert "EMT: 2 ok, 0 failed, 0 gated, 0 pending (2 computed now" in capsys.readouterr().out


def test_a_closed_level_exports_what_it_stored_and_computes_nothing_more(
    tmp_path, capsys, monkeypatch
):
    """``subset: {stored: true}``: a level labelled on one structure, then closed, keeps that one
    result in the export and never labels the others."""
    monkeypatch.setenv("QAWARE_NO_PROGRESS", "1")
    write_folder(tmp_path, n=3, calculator="ase.calculators.emt:EMT", kwargs="{}",
                 outputs=["out"], replay=False)  # fmt: skip
    spec = tmp_path / "out.yaml"
    text = spec.read_text()
    spec.write_text(
        text.replace("    max_retries: 0\n", "    max_retries: 0\n    subset: {first: 1}\n")
    )
    assert main(["build-dataset", str(spec)]) == EXIT_OK
    assert "EMT: 1 ok, 0 failed, 0 gated, 0 pending (1 computed now" in capsys.readouterr().out
    spec.write_text(
        text.replace("    max_retries: 0\n", "    max_retries: 0\n    subset: {stored: true}\n")
    )
    assert main(["build-dataset", str(spec)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "EMT: 1 ok, 0 failed, 0 gated, 0 pending (0 computed now, 1 from the store)" in out
    frames = ase.io.read(tmp_path / "out" / "cu.extxyz", index=":")
    assert sum(f.info.get("status_EMT") == "ok" for f in frames) == 1
    assert sum("energy_EMT" in f.info for f in frames) == 1
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "- EMT labels 1 of the 4 structures: only the structures it labelled before" in readme


def test_subset_passed_errors_name_the_level_and_the_spec(tmp_path, capsys):
    write_folder(tmp_path, n=1, calculator="ase.calculators.emt:EMT", kwargs="{}",
                 outputs=["out"], replay=False)  # fmt: skip
    spec = tmp_path / "out.yaml"
    base = spec.read_text()

    def with_passed(passed: str) -> str:
        return base.replace("    max_retries: 0\n", f"    max_retries: 0\n    subset: {passed}\n")

    spec.write_text(with_passed("{passed: {level: PBE}}"))
    assert main(["build-dataset", str(spec)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "subset.passed.level: 'PBE' must be another oracle of this spec" in err
    spec.write_text(with_passed("{passed: {level: EMT, spec: a.yaml}}"))
    (tmp_path / "a.yaml").write_text(base.replace("output: out", "output: a"))
    assert main(["build-dataset", str(spec)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "a.yaml has no store yet" in err and "build it first" in err


def test_reuse_copies_another_builds_calls_instead_of_computing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QAWARE_NO_PROGRESS", "1")
    monkeypatch.setenv("CALL_LOG", str(tmp_path / "calls.log"))
    write_folder(tmp_path, n=3, calculator="slow_emt:SlowEMT", kwargs="{delay: 0.0}",
                 outputs=["a", "b"], replay=False)  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    assert main(["build-dataset", str(tmp_path / "a.yaml")]) == EXIT_OK
    assert len((tmp_path / "calls.log").read_text().split()) == 4
    assert main(["build-dataset", str(tmp_path / "b.yaml"), "--reuse", "nowhere"]) == 2
    assert "--reuse: nowhere: not a qaware run directory" in capsys.readouterr().err
    assert (
        main(["build-dataset", str(tmp_path / "b.yaml"), "--reuse", str(tmp_path / "a/run")]) == 0
    )
    assert "EMT: 4 ok, 0 failed, 0 gated, 0 pending (0 computed now" in capsys.readouterr().out
    assert len((tmp_path / "calls.log").read_text().split()) == 4  # nothing computed again
    a = ase.io.read(tmp_path / "a" / "cu.extxyz", index=":")
    b = ase.io.read(tmp_path / "b" / "cu.extxyz", index=":")
    assert [f.info["energy_EMT"] for f in a] == [f.info["energy_EMT"] for f in b]
