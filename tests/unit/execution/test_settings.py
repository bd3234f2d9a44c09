"""ExecutionSettings as a config section, and what importing the package costs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from qaware.execution import ExecutionSettings, make_executor
from qaware.execution.local import LocalExecutor


def test_defaults_are_a_two_process_spawn_pool() -> None:
    settings = ExecutionSettings()
    assert (settings.backend, settings.max_workers, settings.mp_context) == ("local", 2, "spawn")
    with make_executor(settings) as ex:
        assert isinstance(ex, LocalExecutor)
        assert (ex.max_workers, ex.mp_context) == (2, "spawn")


def test_round_trips_through_a_plain_dict() -> None:
    settings = ExecutionSettings(
        backend="submitit",
        folder="runs/r1/jobs",
        slurm={"timeout_min": 120, "slurm_partition": "cpu", "mem_gb": 8},
        submitit_cluster="slurm",
    )
    again = ExecutionSettings.model_validate(settings.model_dump(mode="json"))
    assert again == settings
    assert str(again.folder) == "runs/r1/jobs"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"max_worker": 4}, "max_worker"),  # typo: unknown key
        ({"backend": "ray"}, "backend"),
        ({"max_workers": 0}, "max_workers"),
        ({"mp_context": "thread"}, "mp_context"),
        ({"submitit_cluster": "pbs"}, "submitit_cluster"),
    ],
)
def test_bad_values_are_rejected_with_their_key(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ExecutionSettings.model_validate(data)
    assert field in str(info.value)


def test_assignment_is_validated() -> None:
    settings = ExecutionSettings()
    with pytest.raises(ValidationError):
        settings.max_workers = -1


def test_importing_the_package_imports_no_backend() -> None:
    code = (
        "import sys, qaware.execution; "
        "print(sorted(m for m in ('submitit', 'distributed', 'dask', 'tqdm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
