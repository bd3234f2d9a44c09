"""Hits and discoveries: hull distances per chemical system.

A hull over every element of a campaign would be a convex hull in a dozen dimensions (slow and
pointless): the distance of a candidate to the hull only depends on the phases of its own
chemical system, so each candidate is measured against a :class:`FidelityHull` of the entries
whose elements lie inside its system (plus the elements at 0), cached per system.
Novelty and uniqueness are in :mod:`qaware.campaign.novelty`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from qaware.campaign.novelty import formula as _formula
from qaware.thermo.hull import FidelityHull, HullEntry

__all__ = ["hull_entries_e_above"]


def _system(atoms: Atoms) -> frozenset[str]:
    return frozenset(atoms.get_chemical_symbols())


def hull_entries_e_above(
    entries: Sequence[HullEntry],
    structures: Sequence[Atoms],
    e_form: np.ndarray,
    level: str,
    settings_hash: str,
) -> np.ndarray:
    """(n,) E above the hull (eV/atom; < 0 below it) of ``structures`` with formation energies
    ``e_form`` (eV/atom) against ``entries`` of their own chemical systems."""
    cache: dict[frozenset[str], FidelityHull] = {}
    hull_energy: dict[str, float] = {}  # reduced formula -> hull energy (eV/atom)
    out = np.empty(len(structures))
    for i, atoms in enumerate(structures):
        formula = _formula(atoms)
        if formula in hull_energy:
            out[i] = float(e_form[i]) - hull_energy[formula]
            continue
        system = _system(atoms)
        hull = cache.get(system)
        if hull is None:
            inside = [e for e in entries if set(e.composition) <= system]
            refs = [
                HullEntry(f"ref:{el}", {el: 1.0}, 0.0, level, settings_hash)
                for el in sorted(system)
                if not any(e.id == f"ref:{el}" for e in inside)
            ]
            hull = cache[system] = FidelityHull(tuple(refs + inside), level, settings_hash)
        counts: dict[str, float] = {}
        for s in atoms.get_chemical_symbols():
            counts[s] = counts.get(s, 0.0) + 1.0
        hull_energy[formula] = hull.hull_energy_per_atom(counts)
        out[i] = float(e_form[i]) - hull_energy[formula]
    return out
