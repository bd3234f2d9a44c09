"""Per-level labels read from ase.Atoms, and batches of them as tensors with masks.

Accepted layouts for level ``L`` (``k = qaware.datasets.spec.level_key(L)``, e.g. ``CCSD_T``;
the raw level name is accepted in place of ``k`` too):

* ``info["energy_<k>"]`` total energy, eV; ``arrays["forces_<k>"]`` (n, 3) eV/Å;
  ``info["stress_<k>"]`` Voigt (6,) or (3, 3) eV/Å³ — the layout the data-set builder exports.
  A frame with ``info["e_ok_<k>"] == False`` has no label at L (it failed a sanity gate).
* ``info["energy"] = {L: E, ...}`` and ``info["stress"] = {L: σ, ...}`` (in-memory mappings).

Anything missing, None or non-finite is simply not a label: the loss masks it out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from ase import Atoms

from qaware.datasets.spec import level_key
from qaware.errors import InvalidStructureError

__all__ = ["LabelBatch", "Labels", "collate_labels", "read_labels"]


@dataclass(frozen=True)
class Labels:
    """Labels of one structure on a ladder of L levels.

    energy: (L,) eV total energy, NaN where missing.
    forces: L entries, each (n, 3) eV/Å or None.
    stress: (L, 3, 3) eV/Å³, NaN where missing.
    """

    energy: np.ndarray
    forces: tuple[np.ndarray | None, ...]
    stress: np.ndarray

    @property
    def n_labelled(self) -> int:
        return int(np.isfinite(self.energy).sum())


@dataclass
class LabelBatch:
    """Labels of a batch of B structures (N atoms) as tensors; masks say what is labelled.

    energy: (B, L) eV (0 where missing)         energy_mask: (B, L) bool
    forces: (N, L, 3) eV/Å                      force_mask:  (N, L) bool
    stress: (B, L, 3, 3) eV/Å³                  stress_mask: (B, L) bool
    """

    energy: torch.Tensor
    energy_mask: torch.Tensor
    forces: torch.Tensor
    force_mask: torch.Tensor
    stress: torch.Tensor
    stress_mask: torch.Tensor


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _lookup(mapping: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        if key in mapping:
            return mapping[key]
    return None


def _finite_array(value: Any, shape: tuple[int, ...], what: str, index: int | None) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if what.startswith("stress") and arr.shape == (6,):
        xx, yy, zz, yz, xz, xy = arr
        arr = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    elif what.startswith("stress") and arr.shape == (9,):
        arr = arr.reshape(3, 3)
    if arr.shape != shape:
        raise InvalidStructureError(
            f"label has shape {arr.shape}, expected {shape}", index=index, field=what, unit="frame"
        )
    return arr


def read_labels(atoms: Atoms, levels: Sequence[str], *, index: int | None = None) -> Labels:
    """Labels of ``atoms`` for ``levels`` (see the module docstring for the layouts).

    Raises InvalidStructureError naming the frame ``index`` and key for a label of wrong shape.
    """
    n = len(atoms)
    energy = np.full(len(levels), np.nan)
    stress = np.full((len(levels), 3, 3), np.nan)
    forces: list[np.ndarray | None] = []
    energy_map: dict[str, Any] = _mapping(atoms.info.get("energy"))
    stress_map: dict[str, Any] = _mapping(atoms.info.get("stress"))
    for f, level in enumerate(levels):
        names = list(dict.fromkeys([level_key(level), level]))
        if any(atoms.info.get(f"e_ok_{k}") is False for k in names):
            forces.append(None)
            continue
        e = _lookup(atoms.info, [f"energy_{k}" for k in names])
        e = energy_map.get(level) if e is None else e
        if e is not None and math.isfinite(float(e)):
            energy[f] = float(e)
        s = _lookup(atoms.info, [f"stress_{k}" for k in names])
        s = stress_map.get(level) if s is None else s
        if s is not None:
            key = f"stress_{names[0]}"
            arr = _finite_array(s, (3, 3), key, index)
            if np.all(np.isfinite(arr)):
                stress[f] = arr
        F = _lookup(atoms.arrays, [f"forces_{k}" for k in names])
        if F is not None:
            arr = _finite_array(F, (n, 3), f"forces_{names[0]}", index)
            forces.append(arr if np.all(np.isfinite(arr)) else None)
        else:
            forces.append(None)
    return Labels(energy, tuple(forces), stress)


def collate_labels(
    labels: Sequence[Labels],
    n_atoms: Sequence[int],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> LabelBatch:
    """Stack per-structure labels into a :class:`LabelBatch` (atoms in batch order), its
    tensors on ``device`` (None: the CPU)."""
    n_levels = labels[0].energy.shape[0]
    energy = np.stack([lab.energy for lab in labels])
    stress = np.stack([lab.stress for lab in labels])
    total = int(sum(n_atoms))
    forces = np.zeros((total, n_levels, 3))
    force_mask = np.zeros((total, n_levels), dtype=bool)
    start = 0
    for lab, n in zip(labels, n_atoms, strict=True):
        for f, F in enumerate(lab.forces):
            if F is not None:
                forces[start : start + n, f] = F
                force_mask[start : start + n, f] = True
        start += n
    energy_mask = np.isfinite(energy)
    stress_mask = np.isfinite(stress).all(axis=(2, 3))
    stress = np.where(stress_mask[..., None, None], stress, 0.0)
    return LabelBatch(
        energy=torch.as_tensor(np.where(energy_mask, energy, 0.0), dtype=dtype, device=device),
        energy_mask=torch.as_tensor(energy_mask, device=device),
        forces=torch.as_tensor(forces, dtype=dtype, device=device),
        force_mask=torch.as_tensor(force_mask, device=device),
        stress=torch.as_tensor(stress, dtype=dtype, device=device),
        stress_mask=torch.as_tensor(stress_mask, device=device),
    )
