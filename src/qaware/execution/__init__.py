"""Executors: run picklable oracle calls in a local process pool, on SLURM (submitit) or Dask.

Importing this package imports no backend: submitit and distributed are imported when an
executor is made. ``make_executor(ExecutionSettings(...))`` is the usual entry point.
"""

from qaware.execution.base import QawareExecutor
from qaware.execution.factory import make_executor
from qaware.execution.progress import as_completed_with_progress, progress_enabled
from qaware.execution.settings import Backend, ExecutionSettings

__all__ = [
    "Backend",
    "ExecutionSettings",
    "QawareExecutor",
    "as_completed_with_progress",
    "make_executor",
    "progress_enabled",
]
