"""Labelled structures replayed in every validator retraining (``validator.training_data``).

A warm start on the run's own labels alone forgets what the checkpoint learned from its training
set (a few dozen campaign labels against hundreds of training structures): the run's labels are
therefore trained together with the checkpoint's data, as MACE's multi-head fine-tuning replays
its pre-training set. The files are extxyz with labels as ``qaware train-validator`` reads them
(``energy_<LEVEL>`` in ``info``; a data-set export fits). They are also known structures: a
candidate that matches one is not a discovery (DESIGN.md: novelty against the training data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from qaware.errors import ConfigError, InvalidStructureError

__all__ = ["LabelledStructure", "load_training_data"]


@dataclass(frozen=True)
class LabelledStructure:
    """One replayed structure: its hash, the structure, total energies (eV) per ladder level."""

    structure_hash: str
    atoms: Atoms
    energies: dict[str, float]


def load_training_data(
    files: Sequence[str], base_dir: Path, levels: Sequence[str]
) -> list[LabelledStructure]:
    """Every frame of ``files`` with a finite energy at one of ``levels`` at least, once per
    structure hash (the first frame wins). ConfigError naming the file when a file is missing
    or unreadable, or holds no energy at any of ``levels``."""
    from qaware.campaign.components import resolve
    from qaware.structures.hashing import structure_hash
    from qaware.validator.data import read_labels
    from qaware.validator.workflow import read_frames

    out: dict[str, LabelledStructure] = {}
    for f in files:
        where = f"validator.training_data: {f}"
        try:
            frames = read_frames([resolve(f, base_dir)])
            labelled = []
            for i, atoms in enumerate(frames):
                energy = read_labels(atoms, levels, index=i).energy
                if np.isfinite(energy).any():
                    labelled.append((atoms, energy))
        except (ConfigError, InvalidStructureError) as err:
            raise ConfigError(f"{where}: {err}") from None
        if not labelled:
            raise ConfigError(
                f"{where}: none of its {len(frames)} structures has an energy at "
                f"{list(levels)} (info keys energy_<LEVEL>, as qaware train-validator reads)"
            )
        for atoms, energy in labelled:
            bare = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
            key = structure_hash(bare)
            values = {lv: float(e) for lv, e in zip(levels, energy, strict=True) if np.isfinite(e)}
            out.setdefault(key, LabelledStructure(key, bare, values))
    return list(out.values())
