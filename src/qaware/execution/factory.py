"""Build the executor a run's ``execution`` settings ask for."""

from __future__ import annotations

from pathlib import Path

from qaware.errors import ConfigError
from qaware.execution.base import QawareExecutor
from qaware.execution.settings import ExecutionSettings

__all__ = ["make_executor"]


def make_executor(settings: ExecutionSettings, *, folder: Path | None = None) -> QawareExecutor:
    """The executor for ``settings``; the backend's package is imported only now.

    folder: where backend files go when ``settings.folder`` is unset (the campaign passes a
            directory inside the run directory); only submitit writes files.

    Raises :class:`~qaware.errors.MissingDependencyError` (naming the pip extra) when the
    backend is not installed, :class:`~qaware.errors.ConfigError` for unusable settings and
    :class:`~qaware.errors.ExecutionError` when the backend cannot start.
    """
    if settings.backend == "local":
        from qaware.execution.local import LocalExecutor

        return LocalExecutor(settings.max_workers, settings.mp_context)
    if settings.backend == "submitit":
        from qaware.execution.submitit_backend import SubmititExecutor

        job_folder = settings.folder if settings.folder is not None else folder
        if job_folder is None:
            raise ConfigError(
                "execution.folder: the submitit backend needs a folder for its job files "
                "(set execution.folder or pass folder= to make_executor)"
            )
        return SubmititExecutor(
            job_folder,
            cluster=settings.submitit_cluster,
            parameters=settings.slurm,
            max_running=settings.max_workers,
        )
    if settings.backend == "dask":
        from qaware.execution.dask_backend import DaskExecutor

        return DaskExecutor(settings.dask_address, max_workers=settings.max_workers)
    raise ConfigError(f"execution.backend: unknown backend {settings.backend!r}")
