"""Bring existing structures into a run: read, check, hash, dedupe, store.

This is the first step of every run (seed data, a training set, user candidates) and, until
the campaign exists, the main job of the quick start. Every file is read and validated
*before* anything is written, so a bad file leaves the store untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from ase import Atoms

from qaware.config import QawareConfig
from qaware.errors import InvalidStructureError, RunDirectoryError
from qaware.structures import read_structures, structure_hash

__all__ = [
    "BUNDLED_EXAMPLE",
    "IngestSummary",
    "bundled_example_path",
    "ingest_structures",
    "open_run_directory",
]

log = logging.getLogger(__name__)

BUNDLED_EXAMPLE = "perov5_3d_oxides.csv"
"""240 perov-5 3d-transition-metal oxide perovskites shipped inside the package."""


def bundled_example_path() -> Path:
    """Path of the bundled example CSV (inside the installed package)."""
    return Path(str(resources.files("qaware.data").joinpath(BUNDLED_EXAMPLE)))


@dataclass
class IngestSummary:
    """What an ingest did: counts per file and the problems of skipped rows."""

    sources: list[str]
    n_read: int
    n_new: int
    n_duplicates: int
    skipped: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    ids: list[int] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)


def ingest_structures(
    paths: Sequence[str | Path],
    config: QawareConfig,
    *,
    on_error: Literal["raise", "skip"] = "raise",
    cycle: int = 0,
    origin: str = "ingest",
) -> IngestSummary:
    """Read ``paths``, validate every structure, and add the new ones to the run's store.

    Run directory and store come from ``config.run.directory`` / ``config.store.url``; the
    directory is created on first use and refused if it holds a run with another config.
    Structures already in the store (same canonical hash) are counted as duplicates.
    """
    start = time.perf_counter()
    structures: list[Atoms] = []
    skipped: list[str] = []
    for path in paths:
        log.info("reading %s", path)
        batch = read_structures(
            path,
            on_error=on_error,
            min_distance=config.screening.min_distance,
            max_atoms=config.screening.max_atoms,
        )
        structures.extend(batch)
        skipped.extend(str(err) for err in batch.skipped)
    if not structures:
        raise InvalidStructureError(
            "no valid structure to ingest", source=", ".join(str(p) for p in paths)
        )
    from tqdm import tqdm

    from qaware.execution import progress_enabled

    bar = tqdm(structures, desc="hashing", unit="structure", disable=not progress_enabled())
    hashes = [structure_hash(a) for a in bar]  # fail before writing anything
    run = open_run_directory(config)
    with run.store() as store:
        before = store.count()
        ids = store.add_candidates(structures, cycle=cycle, origin=origin, hashes=hashes)
        n_new = store.count() - before
    run.write_cycle_structures(cycle, "ingested", structures)
    run.events.append(
        "ingest",
        cycle=cycle,
        payload={
            "sources": [str(p) for p in paths],
            "n_read": len(structures),
            "n_new": n_new,
            "n_skipped": len(skipped),
            "n_unique_hashes": len(set(hashes)),
        },
    )
    return IngestSummary(
        sources=[str(p) for p in paths],
        n_read=len(structures),
        n_new=n_new,
        n_duplicates=len(structures) - n_new,
        skipped=skipped,
        elapsed_s=time.perf_counter() - start,
        ids=ids,
    )


def open_run_directory(config: QawareConfig):  # -> qaware.store.RunDirectory
    """Create the run directory of ``config``, or reopen it if it holds a run of the same config.

    A directory holding a run with a *different* configuration is refused (RunDirectoryError):
    results of two configurations never mix silently.
    """
    from qaware.config_io import differs_from_recorded
    from qaware.store import RunDirectory
    from qaware.store.run_directory import MARKER

    path = Path(config.run.directory)
    plain = config.model_dump(mode="json")
    if (path / MARKER).exists():
        run = RunDirectory.open(path)
        if differs_from_recorded(config, path):
            raise RunDirectoryError(
                f"{path}: holds a run with another configuration (see {path / 'config.yaml'}); "
                "choose a new run directory"
            )
        return run
    return RunDirectory.create(path, plain, store_url=config.store.url)
