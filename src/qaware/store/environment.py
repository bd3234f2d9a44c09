"""What the run ran on: Python, package versions, host and the qaware git commit.

Versions come from installed package metadata (:mod:`importlib.metadata`), so nothing heavy
(torch, pyscf, gpaw) is imported just to ask. The git commit is a courtesy: a wheel install has
none, and nothing fails without it.
"""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "environment_info", "git_commit", "package_versions"]

PACKAGES: tuple[str, ...] = (
    "qaware",
    "numpy",
    "scipy",
    "torch",
    "ase",
    "pymatgen",
    "spglib",
    "e3nn",
    "pyscf",
    "gpaw",
    "ase-db-backends",
    "psycopg2-binary",
)
"""Distributions whose versions a run records (absent ones are reported as None)."""


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """``{distribution: version}`` from installed metadata; None for one that is not installed."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(path: str | Path | None = None) -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the git checkout holding ``path``, or None.

    ``path`` defaults to the installed qaware package (an editable install sits in a checkout).
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha, "dirty": bool(status.strip())} if sha else None


def environment_info() -> dict[str, Any]:
    """Everything a run records about its environment, as plain JSON."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "packages": package_versions(),
        "git": git_commit(),
    }
