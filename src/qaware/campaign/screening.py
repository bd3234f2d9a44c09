"""Screening of generated structures: geometry, charge balance, structure hash, novelty.

Each structure gets a :class:`Verdict` from :func:`screen_one`, a pure function of the
structure, the rules and the known structures. :func:`screen_batch` runs it over a batch, in
worker processes when the batch is large (the StructureMatcher novelty test costs a few ms a
structure, so 10⁵ candidates are minutes of CPU); the verdicts come back in input order and do
not depend on the number of workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Literal

from ase import Atoms

from qaware.campaign.novelty import KnownStructures

__all__ = ["PARALLEL_MIN", "ScreenRules", "Verdict", "screen_batch", "screen_one", "screen_workers"]

log = logging.getLogger("qaware.campaign")

PARALLEL_MIN = 2_000  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class ScreenRules:
    """What a generated structure must pass (the ``screening`` section of a config)."""

    min_distance: float = 0.5
    max_atoms: int | None = 200
    charge_balanced: bool = False
    source: str = "generated"  # named in rejection messages: "cycle 3 sample, row 17: ..."


@dataclass(frozen=True)
class Verdict:
    """``new`` (with its hash), ``rejected`` (with the reason) or ``known``."""

    outcome: Literal["new", "rejected", "known"]
    structure_hash: str | None = None
    reason: str | None = None


def screen_one(atoms: Atoms, index: int, rules: ScreenRules, known: KnownStructures) -> Verdict:
    """The verdict on structure ``index`` of a batch."""
    from qaware.errors import InvalidStructureError
    from qaware.metrics.generation import compositional_validity
    from qaware.structures.checks import validate_structure
    from qaware.structures.hashing import structure_hash

    try:
        validate_structure(
            atoms,
            source=rules.source,
            index=index,
            min_distance=rules.min_distance,
            max_atoms=rules.max_atoms,
        )
    except InvalidStructureError as err:
        return Verdict("rejected", reason=str(err))
    if rules.charge_balanced and not compositional_validity(atoms):
        return Verdict("rejected", reason=f"{rules.source}, row {index}: not charge balanced")
    shash = structure_hash(atoms)
    if not known.is_novel(atoms, shash):
        return Verdict("known", structure_hash=shash)
    return Verdict("new", structure_hash=shash)


def screen_workers() -> int:
    """Processes for screening: the cores this process may use, or ``QAWARE_SCREEN_WORKERS``.

    The screen runs on the driver's machine between oracle batches, whatever executor runs the
    oracle calls, so it is not sized by ``execution.max_workers`` (one oracle call at a time on
    a laptop still leaves the other cores idle). On a shared login node set the variable.
    """
    from qaware.errors import ConfigError

    raw = os.environ.get("QAWARE_SCREEN_WORKERS", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            msg = f"environment variable QAWARE_SCREEN_WORKERS must be a whole number, got {raw!r}"
            raise ConfigError(msg) from None
        return max(1, value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# -- worker side: the rules and known structures arrive once per process ------------------------
_RULES: ScreenRules | None = None
_KNOWN: KnownStructures | None = None


def _init_worker(rules: ScreenRules, known: KnownStructures) -> None:
    from qaware.execution.local import die_with_parent

    die_with_parent()
    global _RULES, _KNOWN
    _RULES, _KNOWN = rules, known


def _screen_in_worker(item: tuple[int, Atoms]) -> Verdict:
    assert _RULES is not None and _KNOWN is not None, "worker not initialised"
    return screen_one(item[1], item[0], _RULES, _KNOWN)


def screen_batch(
    structures: Sequence[Atoms],
    rules: ScreenRules,
    known: KnownStructures,
    *,
    workers: int = 1,
) -> list[Verdict]:
    """Verdicts for ``structures`` in order; ``workers`` > 1 screens a batch of at least
    :data:`PARALLEL_MIN` in that many ``spawn`` processes (with a progress bar on a terminal)."""
    from tqdm import tqdm

    from qaware.execution.progress import progress_enabled

    items = list(enumerate(structures))
    bar = tqdm(total=len(items), desc="screening", unit="structure", disable=not progress_enabled())
    with bar:
        if workers <= 1 or len(items) < PARALLEL_MIN:
            out = []
            for i, atoms in items:
                out.append(screen_one(atoms, i, rules, known))
                bar.update(1)
            return out
        log.info("screening %d structures in %d processes", len(items), workers)
        chunk = max(1, min(500, len(items) // (8 * workers)))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(rules, known)
        ) as pool:
            out = []
            for verdict in pool.map(_screen_in_worker, items, chunksize=chunk):
                out.append(verdict)
                bar.update(1)
            return out
