"""The cluster paths of docs/components/cluster.md, run for real on this machine.

- The page's YAML blocks parse as run configs and their oracles build.
- The example's SLURM parameters reach submitit: with a fake ``sbatch``/``srun`` on the PATH (a
  test double for the cluster, not for qaware or submitit), the job script submitit writes holds
  every ``#SBATCH`` line of the page's table.
- ``qaware build-dataset`` through submitit's local cluster with SLURM parameters from the spec
  (the jobs see the config's ``timeout_min`` and ``stderr_to_stdout``) and through a Dask
  LocalCluster (each call runs on a Dask worker), both giving EMT's in-process energies.
- The page's dask-jobqueue script starts its scheduler and writes the expected job script
  (skipped without ``dask-jobqueue``, an optional package).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import ase.io
import pytest
from ase.calculators.emt import EMT

from qaware.cli import EXIT_OK, main
from qaware.config_io import parse_config
from qaware.execution import make_executor
from qaware.oracles.factory import build_oracle

PAGE = Path(__file__).resolve().parents[2] / "docs" / "components" / "cluster.md"


def blocks(language: str) -> list[str]:
    """The page's fenced code blocks of ``language``, in order."""
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.S)


def table_sbatch_lines() -> list[str]:
    """The ``#SBATCH`` lines of the page's key -> sbatch table."""
    return re.findall(r"\| `(#SBATCH [^`]+)` \|", PAGE.read_text())


# ------------------------------------------------------------------------------------------
# the page's configs


def test_every_yaml_block_of_the_page_is_a_valid_run_config():
    yamls = blocks("yaml")
    assert len(yamls) >= 3
    configs = [
        parse_config(text, source=f"cluster.md yaml block {k}") for k, text in enumerate(yamls)
    ]
    full = configs[0]
    assert full.execution.backend == "submitit"
    assert [o.level for o in full.oracles] == ["PBE", "HSE06"]
    for k, spec in enumerate(full.oracles):  # settings names are the oracle's real fields
        build_oracle(spec, index=k)
    assert {c.execution.backend for c in configs[1:]} == {"dask"}
    assert configs[2].execution.dask_address == "tcp://login1:8786"


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``sbatch`` that accepts every job as 4242 (and logs its arguments); ``srun`` that exists."""
    bin_dir = tmp_path / "fake-slurm-bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(
        '#!/bin/sh\necho "$@" >> "$(dirname "$0")/sbatch.log"\necho "Submitted batch job 4242"\n'
    )
    (bin_dir / "srun").write_text("#!/bin/sh\necho 'fake srun' >&2\nexit 1\n")
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_the_documented_slurm_parameters_reach_the_job_script(fake_slurm: Path, tmp_path: Path):
    pytest.importorskip("submitit")
    settings = parse_config(blocks("yaml")[0], source="cluster.md").execution
    assert settings.submitit_cluster == "auto"  # finds the (fake) srun: SLURM
    executor = make_executor(settings, folder=tmp_path / "jobs")
    try:
        future = executor.submit(math.sqrt, 4.0)
        handle = executor.handle(future)
    finally:
        executor.shutdown(wait=False)  # nothing will run: the fake queue never starts jobs
    assert handle.startswith("submitit:slurm:4242:")
    (script,) = (tmp_path / "jobs").rglob("4242_submission.sh")
    assert script.parent.parent == tmp_path / "jobs"  # one folder per call, under the folder
    text = script.read_text()
    expected = table_sbatch_lines()
    assert len(expected) >= 9
    missing = [line for line in expected if line not in text.splitlines()]
    assert not missing, f"{missing} not in\n{text}"
    setup = text.split("# setup", 1)[1].split("# command", 1)[0]
    assert "module load openmpi" in setup and "export OMP_NUM_THREADS=4" in setup
    assert "srun" in text.split("# command", 1)[1]
    (call,) = (fake_slurm / "sbatch.log").read_text().splitlines()  # one sbatch per call
    assert call.endswith(".sh")


# ------------------------------------------------------------------------------------------
# build-dataset through submitit's local cluster and a Dask LocalCluster

WHERE_EMT = """\
import os

from ase.calculators.emt import EMT


class WhereEMT(EMT):
    '''EMT that appends where it ran (process, submitit / Dask context) to $CALL_LOG.'''

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        try:
            from distributed import get_worker

            worker = get_worker().address
        except Exception:
            worker = ""
        fields = [
            str(os.getpid()),
            os.environ.get("SUBMITIT_EXECUTOR", ""),
            os.environ.get("SUBMITIT_LOCAL_TIMEOUT_S", ""),
            os.environ.get("SUBMITIT_STDERR_TO_STDOUT", ""),
            worker,
        ]
        with open(os.environ["CALL_LOG"], "a") as fh:
            fh.write("|".join(fields) + "\\n")
        kwargs = {} if system_changes is None else {"system_changes": system_changes}
        super().calculate(atoms, list(properties), **kwargs)
"""

RECIPE = """\
import numpy as np
from ase.build import bulk


def structures(n=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.positions += rng.normal(0.0, 0.05, size=atoms.positions.shape)
        out.append(atoms)
    return out
"""

SPEC = """\
name: cu
description: rattled Cu cells labelled by EMT on {backend}
output: out
seed: 1
structures:
  - recipe: recipe.py:structures
    kwargs: {{n: 3}}
oracles:
  - level: EMT
    kind: ase
    settings: {{calculator: "where_emt:WhereEMT"}}
    timeout_s: 120
    max_retries: 0
    isolate: false
execution:
{execution}
"""

SUBMITIT_EXECUTION = """\
  backend: submitit
  submitit_cluster: local
  max_workers: 2
  slurm:
    timeout_min: 45
    stderr_to_stdout: true
    slurm_partition: standard     # SLURM only: checked, then ignored by the local cluster
    slurm_account: mat123
"""

DASK_EXECUTION = """\
  backend: dask
  max_workers: 2
"""


def build(folder: Path, backend: str, execution: str, monkeypatch: pytest.MonkeyPatch):
    """Run ``qaware build-dataset`` on 3 Cu cells; return (frames, call-log rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "where_emt.py").write_text(WHERE_EMT)
    (folder / "recipe.py").write_text(RECIPE)
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(backend=backend, execution=execution))
    log = folder / "calls.log"
    monkeypatch.setenv("CALL_LOG", str(log))
    monkeypatch.setenv("QAWARE_NO_PROGRESS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.syspath_prepend(str(folder))
    assert main(["build-dataset", str(spec)]) == EXIT_OK
    frames = ase.io.read(folder / "out" / "cu.extxyz", index=":")
    rows = [line.split("|") for line in log.read_text().splitlines()]
    return frames, rows


def assert_emt_energies(frames: list) -> None:
    assert len(frames) == 3
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = EMT()
        assert frame.info["energy_EMT"] == pytest.approx(atoms.get_potential_energy(), abs=1e-6)


@pytest.mark.slow  # 3 submitit jobs, each a fresh Python process: 8-21 s on 2 busy cores
def test_build_dataset_through_submitit_local_with_slurm_parameters_from_the_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("submitit")
    frames, rows = build(tmp_path, "submitit", SUBMITIT_EXECUTION, monkeypatch)
    assert_emt_energies(frames)
    assert len(rows) == 3
    assert {pid for pid, *_ in rows}.isdisjoint({str(os.getpid())})  # ran in jobs
    assert len({pid for pid, *_ in rows}) == 3  # one job per call
    for _, executor, timeout_s, stderr_to_stdout, _ in rows:
        assert executor == "local"
        assert timeout_s == str(45 * 60)  # timeout_min from the spec reached the job
        assert stderr_to_stdout == "1"
    jobs = tmp_path / "out" / "run" / "jobs"
    results = list(jobs.rglob("*_result.pkl"))
    assert len(results) == 3
    assert not list(jobs.rglob("*_log.err"))  # stderr_to_stdout: one log per job


@pytest.mark.slow  # a LocalCluster of 2 worker processes: 5-17 s on 2 busy cores
def test_build_dataset_through_a_dask_local_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    frames, rows = build(tmp_path, "dask", DASK_EXECUTION, monkeypatch)
    assert_emt_energies(frames)
    assert len(rows) == 3
    assert all(row[4].startswith(("tcp://", "inproc://")) for row in rows), rows  # Dask workers
    assert str(os.getpid()) not in {row[0] for row in rows}
    assert len({row[4] for row in rows}) <= 2  # max_workers: 2


# ------------------------------------------------------------------------------------------
# dask-jobqueue (optional): the page's script


def test_the_documented_dask_jobqueue_script_starts_a_scheduler(
    fake_slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("dask_jobqueue")
    (script,) = blocks("python")
    script = script.replace("/scratch/me/dask-logs", str(tmp_path / "dask-logs"))
    script = script.replace('"port": 8786', '"port": 0').replace('":8787"', '":0"')
    namespace: dict = {"input": lambda *_: "", "print": lambda *_, **__: None}
    exec(compile(script, str(PAGE), "exec"), namespace)
    cluster = namespace["cluster"]
    try:
        assert cluster.scheduler_address.startswith("tcp://")
        job = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p standard", "#SBATCH -A mat123", "#SBATCH --cpus-per-task=4",
                 "#SBATCH -t 08:00:00", "#SBATCH --qos=normal"):  # fmt: skip
        assert line in job, job
    assert "source /shared/venvs/qaware/bin/activate" in job
    assert "--nthreads 1" in job and "--nworkers 4" in job
