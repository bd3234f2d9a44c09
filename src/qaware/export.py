"""Export a run's candidates, with what is known about them, to extxyz, CIF or CDVAE CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ase import Atoms

from qaware.store import RunDirectory
from qaware.store import keys as kv
from qaware.structures import write_structures

__all__ = ["export_candidates"]

# bookkeeping keys of the store that say nothing about the material (see qaware.store.keys)
_INTERNAL_KEYS = frozenset({kv.KIND, kv.CAMPAIGN, kv.STATUS, kv.CYCLE, kv.STRUCTURE_HASH})


def export_candidates(
    run_dir: str | Path,
    output: str | Path,
    *,
    fmt: Literal["extxyz", "cif", "csv"] = "extxyz",
    status: str | None = None,
) -> int:
    """Write the run's candidates (optionally only those in ``status``) and return how many.

    Each structure carries its store id, cycle, state, structure hash and score fields in
    ``info`` (extxyz and CSV keep them; CIF keeps the structure and its id as block name).
    """
    run = RunDirectory.open(run_dir)
    structures: list[Atoms] = []
    with run.store() as store:
        for rec in store.candidates(status=status):
            atoms = rec.atoms.copy()
            atoms.calc = None
            fields = {k: v for k, v in rec.key_value_pairs.items() if k not in _INTERNAL_KEYS}
            atoms.info.update(fields)
            atoms.info.update(
                {
                    "candidate_id": rec.id,
                    "cycle": rec.cycle,
                    "status": rec.status,
                    "structure_hash": rec.structure_hash,
                }
            )
            atoms.info.setdefault("material_id", f"qaware-{rec.id}")
            structures.append(atoms)
    write_structures(structures, output, format=fmt)
    return len(structures)
