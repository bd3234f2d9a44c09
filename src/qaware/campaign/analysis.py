"""Hits and discoveries: hull distances per chemical system, novelty and uniqueness.

A hull over every element of a campaign would be a convex hull in a dozen dimensions (slow and
pointless): the distance of a candidate to the hull only depends on the phases of its own
chemical system, so each candidate is measured against a :class:`FidelityHull` of the entries
whose elements lie inside its system (plus the elements at 0), cached per system.
Novelty and uniqueness use the structure hash first, then pymatgen's StructureMatcher
(DESIGN.md §3: stol 0.5, ltol 0.3, angle_tol 10) on structures of the same reduced formula.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from qaware.thermo.hull import FidelityHull, HullEntry

__all__ = ["KnownStructures", "hull_entries_e_above", "is_unique", "matches"]


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


def _formula(atoms: Atoms) -> str:
    return atoms.get_chemical_formula(mode="hill", empirical=True)


def matches(a: Atoms, b: Atoms) -> bool:
    """Whether StructureMatcher (stol 0.5, ltol 0.3, angle_tol 10) calls ``a`` and ``b`` the same;
    non-periodic structures compare by formula and sorted interatomic distances (0.05 Å)."""
    if _formula(a) != _formula(b):
        return False
    if not (a.pbc.all() and b.pbc.all()):
        if len(a) != len(b):
            return False
        da = np.sort(a.get_all_distances().ravel())
        db = np.sort(b.get_all_distances().ravel())
        return bool(np.allclose(da, db, atol=0.05))
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.io.ase import AseAtomsAdaptor

    matcher = StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)
    conv = AseAtomsAdaptor.get_structure
    return bool(matcher.fit(conv(a), conv(b)))


def is_unique(atoms: Atoms, earlier: Sequence[Atoms]) -> bool:
    """No structure of ``earlier`` matches ``atoms``."""
    return not any(matches(atoms, other) for other in earlier)


class KnownStructures:
    """Structures a discovery must differ from (training data, hull seeds), by formula."""

    def __init__(self) -> None:
        self._by_formula: dict[str, list[Atoms]] = {}
        self._hashes: set[str] = set()

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_formula.values())

    def extend(self, structures: Sequence[Atoms]) -> None:
        from qaware.structures.hashing import structure_hash

        for atoms in structures:
            self._hashes.add(structure_hash(atoms))
            self._by_formula.setdefault(_formula(atoms), []).append(atoms)

    def is_novel(self, atoms: Atoms, structure_hash: str | None = None) -> bool:
        """Whether no known structure matches ``atoms`` (hash, then StructureMatcher)."""
        if structure_hash is not None and structure_hash in self._hashes:
            return False
        return is_unique(atoms, self._by_formula.get(_formula(atoms), []))
