"""Provenance of a benchmark result: what ran, on what data, with which seeds, on which machine.

Every benchmark writes ``benchmarks/results/<name>.json`` through :class:`Recorder`, so each
result carries the command, git commit (and whether the tree was dirty), data files with sha256,
seeds, the machine (cores, CPU model, memory, GPU or none), wall time and package versions
(DESIGN.md §5)::

    from _provenance import Recorder          # benchmarks/ is on sys.path when run as a script

    rec = Recorder("store", seeds={"structures": 0}, data_files=[csv_path])
    ...                                       # run the benchmark
    rec.write(RESULTS / "store.json", {"insert_rows_per_s": 4100.0, ...})
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qaware._canonical import file_sha256 as sha256_file

__all__ = ["REPO", "RESULTS", "Recorder", "machine_info", "sha256_file"]

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
)


def _redact(text: str) -> str:
    """Hide passwords in URLs (``scheme://user:secret@host`` -> ``scheme://user:***@host``)."""
    return re.sub(r"(://[^:/@\s]+):[^@\s]*@", r"\1:***@", text)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _gpus() -> list[str]:
    """GPU names from nvidia-smi, or from torch when it is already imported; [] for none."""
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=20, check=True,
            ).stdout  # fmt: skip
            return [line.strip() for line in out.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    torch = sys.modules.get("torch")  # never import torch just to ask
    if torch is not None and torch.cuda.is_available():
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """Cores (all and usable by this process), CPU model, memory, GPUs ("none" when absent)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpus = _gpus()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gib": _memory_gib(),
        "gpu": gpus or "none",
        "thread_env": {v: os.environ[v] for v in _THREAD_VARS if v in os.environ},
    }


def _git() -> dict[str, Any] | None:
    """The commit, and whether tracked files outside ``benchmarks/results/`` differ from it.

    Results are outputs, not what produced them: a benchmark that writes its file more than once
    (after each split) or runs after another's result landed uncommitted is still clean code.
    """
    try:
        from qaware.store.environment import git_commit
    except ImportError:
        return None
    info = git_commit(REPO)
    if info is None:
        return None
    status = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "--", ".",
         ":(exclude)benchmarks/results"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if status.returncode == 0:
        info["dirty"] = bool(status.stdout.strip())
    return info


def _packages() -> dict[str, str | None]:
    try:
        from qaware.store.environment import package_versions
    except ImportError:
        return {}
    return package_versions()


class Recorder:
    """Collects a benchmark's provenance from start (construction) to :meth:`write`.

    name:       benchmark name (``store``, ``track_r``...), stored in the result.
    seeds:      every seed that changes the result, by role.
    data_files: input files; each is recorded with its path (relative to the repo) and sha256.
    """

    def __init__(
        self,
        name: str,
        *,
        seeds: Mapping[str, int] | None = None,
        data_files: Sequence[str | Path] = (),
    ) -> None:
        self.name = name
        self.seeds = dict(seeds or {})
        self.data_files = [Path(p) for p in data_files]
        self.started = datetime.now(UTC)
        self._load_at_start = _loadavg()
        self._t0 = time.perf_counter()

    def add_data_file(self, path: str | Path) -> None:
        self.data_files.append(Path(path))

    def provenance(self) -> dict[str, Any]:
        """Everything known about this run so far (wall time up to now)."""
        files = []
        for path in self.data_files:
            rel = path.resolve()
            shown = rel.relative_to(REPO) if rel.is_relative_to(REPO) else rel
            files.append(
                {"path": str(shown), "sha256": sha256_file(path), "bytes": path.stat().st_size}
            )
        return {
            "command": _redact(shlex.join([Path(sys.executable).name, *sys.argv])),
            "git": _git(),
            "data_files": files,
            "seeds": self.seeds,
            "machine": machine_info(),
            "python": sys.version.split()[0],
            "packages": _packages(),
            "started_utc": self.started.isoformat(),
            "finished_utc": datetime.now(UTC).isoformat(),
            "wall_time_s": round(time.perf_counter() - self._t0, 3),
            # 1-, 5-, 15-minute load averages: timings on a shared machine need this context
            "load_average": {"start": self._load_at_start, "end": _loadavg()},
        }

    def write(self, path: str | Path, results: Mapping[str, Any]) -> Path:
        """Write ``{"benchmark", "results", "provenance"}`` as indented JSON; return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"benchmark": self.name, "results": dict(results), "provenance": self.provenance()}
        path.write_text(json.dumps(doc, indent=2, default=_plain) + "\n")
        return path


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars/arrays and paths inside results."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
