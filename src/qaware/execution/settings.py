"""Where oracle calls run: the ``execution`` section of a run configuration.

One pydantic model, embedded as ``QawareConfig.execution``. Field names are part of the config
file format: rename none without a migration. Unknown keys are refused (``extra="forbid"``), so a
typo such as ``max_worker`` fails with its key path instead of being ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Backend", "ExecutionSettings"]

Backend = Literal["local", "submitit", "dask"]


class ExecutionSettings(BaseModel):
    """Which executor runs the oracle calls, and how it is sized.

    backend:          ``local`` (process pool on this machine, the default), ``submitit`` (one
                      SLURM job per call; plain subprocesses when there is no SLURM) or ``dask``
                      (a Dask cluster, local or remote).
    max_workers:      calls running at once: local pool size, Dask LocalCluster worker count,
                      and the cap on simultaneous subprocesses for submitit's local cluster
                      (SLURM itself is not capped: the queue decides).
    folder:           submitit's job folder (pickles, logs, results). ``None``: the directory the
                      caller of :func:`qaware.execution.make_executor` passes (the campaign passes
                      a folder inside the run directory). Must be on a filesystem the compute
                      nodes share.
    slurm:            keyword arguments for submitit's ``AutoExecutor.update_parameters``:
                      generic ones (``timeout_min``, ``cpus_per_task``, ``mem_gb``, ``nodes``,
                      ``gpus_per_node``, ``tasks_per_node``, ``name``) and SLURM-specific ones
                      with the ``slurm_`` prefix (``slurm_partition``, ``slurm_account``,
                      ``slurm_qos``, ``slurm_additional_parameters``...).
    submitit_cluster: ``None``/``"auto"``: SLURM when ``srun`` is on the PATH, else local
                      subprocesses; ``"local"``/``"slurm"`` force one; ``"debug"`` runs each
                      call in the driver process (for debugging; cannot be re-attached).
    dask_address:     scheduler address (``tcp://host:8786``) of a running Dask cluster;
                      ``None`` starts a LocalCluster of ``max_workers`` single-threaded worker
                      processes that lives as long as the executor.
    mp_context:       start method of the local pool. ``spawn`` (default) is the safe choice
                      with torch / PySCF / OpenMP threads in the driver; ``fork`` is faster to
                      start but can deadlock when the driver already runs threads.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    backend: Backend = Field(
        "local", description="local (process pool), submitit (SLURM or local jobs), dask."
    )
    max_workers: int = Field(
        2, ge=1, description="Oracle calls at once (local pool, Dask LocalCluster, submitit local)."
    )
    folder: Path | None = Field(
        None,
        description="submitit job folder (logs, pickles, results); null: inside the run directory.",
    )
    slurm: dict[str, Any] = Field(
        default_factory=dict,
        description="submitit update_parameters: timeout_min, cpus_per_task, mem_gb, "
        "slurm_partition, slurm_account, ...",
    )
    submitit_cluster: Literal["auto", "local", "slurm", "debug"] | None = Field(
        None, description="null/auto: SLURM if srun is found, else local subprocesses."
    )
    dask_address: str | None = Field(
        None, description="Dask scheduler address; null starts a LocalCluster of max_workers."
    )
    mp_context: Literal["spawn", "forkserver", "fork"] = Field(
        "spawn", description="Start method of the local process pool (spawn is thread-safe)."
    )
