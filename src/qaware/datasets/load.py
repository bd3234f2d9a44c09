"""Read an exported data set back and reference its energies (formation energies per level).

An export (:mod:`qaware.datasets.export`) is ``<name>.extxyz`` or ``<name>.extxyz.gz``; every
frame carries, per level key ``k``, ``status_<k>``, ``energy_<k>`` (eV, ok results only) and
``settings_hash_<k>``. Formation energies of one level are referenced to that level's own
reference frames in the same data set (DESIGN.md §3: same oracle, same settings):

    e_form(x, k) = (E_k(x) − Σ_i n_i μ_i(k)) / N,     μ_i(k) = E_k(ref_i) / n_atoms(ref_i)

where ``ref_i`` is the frame chosen by ``reference_tags`` that holds only element i (a periodic
element cell, half an O2 molecule in a box, or an isolated atom).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
from ase import Atoms

from qaware.errors import ConfigError
from qaware.thermo import ElementalReferences, formation_energy_per_atom

__all__ = [
    "STATUS_PREFIX",
    "dataset_file",
    "elemental_references",
    "formation_energies",
    "level_keys",
    "level_status",
    "read_dataset",
]

STATUS_PREFIX: Final[str] = "status_"


def dataset_file(folder: str | Path, name: str) -> Path:
    """``<folder>/<name>.extxyz.gz`` or ``<folder>/<name>.extxyz``, whichever exists.

    Raises ConfigError naming both when neither exists (or when both do: which is current?).
    """
    base = Path(folder) / f"{name}.extxyz"
    gz = base.with_name(base.name + ".gz")
    found = [p for p in (gz, base) if p.is_file()]
    if len(found) != 1:
        what = "neither" if not found else "both"
        raise ConfigError(f"data set {name!r}: {what} of {gz} and {base} exist")
    return found[0]


def read_dataset(path: str | Path) -> list[Atoms]:
    """Every frame of an exported data set (``.extxyz`` or ``.extxyz.gz``)."""
    from qaware.structures.extxyz import read_extxyz_file

    return read_extxyz_file(path)


def level_keys(frames: Iterable[Atoms]) -> list[str]:
    """The level keys of a data set (``status_<k>`` in any frame), in first-seen order."""
    keys: dict[str, None] = {}
    for frame in frames:
        for name in frame.info:
            if name.startswith(STATUS_PREFIX):
                keys.setdefault(name[len(STATUS_PREFIX) :], None)
    return list(keys)


def level_status(frame: Atoms, key: str) -> str:
    """``ok``, ``failed``, ``gated``, ``pending``, or ``absent`` (the level does not label it)."""
    return str(frame.info.get(f"{STATUS_PREFIX}{key}", "absent"))


def _energy(frame: Atoms, key: str) -> float | None:
    if level_status(frame, key) != "ok" or f"energy_{key}" not in frame.info:
        return None
    return float(frame.info[f"energy_{key}"])


def elemental_references(
    frames: Sequence[Atoms], key: str, reference_tags: Sequence[str]
) -> ElementalReferences:
    """μ_i (eV/atom) of level ``key`` from the frames tagged with one of ``reference_tags``
    that hold a single element and have an ok energy at that level.

    Raises ConfigError when two such frames give the same element (which one is the zero?) or
    when the frames of the level were made with different settings hashes.
    """
    mu: dict[str, float] = {}
    desc: dict[str, str] = {}
    for i, frame in enumerate(frames):
        elements = set(frame.get_chemical_symbols())
        energy = _energy(frame, key)
        if frame.info.get("tag") not in reference_tags or len(elements) != 1 or energy is None:
            continue
        (el,) = elements
        if el in mu:
            raise ConfigError(f"level {key}: two reference frames for {el} (frame {i})")
        mu[el] = energy / len(frame)
        desc[el] = f"frame {i} ({frame.get_chemical_formula()}, tag {frame.info.get('tag')})"
    return ElementalReferences(key, _settings_hash(frames, key), mu, desc)


def _settings_hash(frames: Sequence[Atoms], key: str) -> str:
    hashes = {str(f.info[f"settings_hash_{key}"]) for f in frames if _energy(f, key) is not None}
    if len(hashes) > 1:
        raise ConfigError(f"level {key}: ok results from {len(hashes)} settings hashes")
    return hashes.pop() if hashes else ""


def formation_energies(
    frames: Sequence[Atoms], key: str, references: ElementalReferences
) -> np.ndarray:
    """(n_frames,) e_form in eV/atom at level ``key``; NaN where the frame has no ok energy or
    an element has no reference at that level."""
    out = np.full(len(frames), np.nan)
    for i, frame in enumerate(frames):
        energy = _energy(frame, key)
        if energy is None:
            continue
        counts: dict[str, int] = {}
        for s in frame.get_chemical_symbols():
            counts[s] = counts.get(s, 0) + 1
        if not set(counts) <= set(references.mu):
            continue
        settings = str(frame.info[f"settings_hash_{key}"])
        out[i] = formation_energy_per_atom(
            energy, counts, references, level=key, settings_hash=settings
        )
    return out
