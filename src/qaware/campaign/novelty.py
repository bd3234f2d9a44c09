"""Novelty and uniqueness of candidates: structure hash first, then pymatgen's StructureMatcher.

DESIGN.md §3 fixes the matcher: ``StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)`` on
structures of the same reduced formula. Most of a plain ``fit(a, b)`` is spent reducing both
structures (Niggli, then primitive) again for every pair; here each structure is reduced once
(:class:`Reduced`) and compared with ``fit(..., skip_structure_reduction=True)``, which is how
pymatgen's own ``group_structures`` does it, so the answers are the same. Two reduced crystals
with different site counts are skipped without a fit: with ``attempt_supercell=False`` (the
default used here) the matcher refuses them anyway.

Non-periodic structures (molecules, clusters) compare by formula and sorted interatomic
distances (0.05 Å).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["KnownStructures", "Reduced", "is_unique", "matches"]

STOL, LTOL, ANGLE_TOL = 0.5, 0.3, 10.0
DISTANCE_TOL = 0.05  # Å, molecules


@lru_cache(maxsize=1)
def _matcher() -> Any:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher(stol=STOL, ltol=LTOL, angle_tol=ANGLE_TOL)


def formula(atoms: Atoms) -> str:
    """Reduced Hill formula: structures of different formulas never match."""
    return atoms.get_chemical_formula(mode="hill", empirical=True)


class Reduced:
    """One structure with what comparing it needs, computed once and on first use:
    the Niggli-reduced primitive pymatgen Structure (crystals) or the sorted distances
    (molecules)."""

    __slots__ = ("_distances", "_structure", "atoms", "formula", "periodic")

    def __init__(self, atoms: Atoms) -> None:
        self.atoms = atoms
        self.formula = formula(atoms)
        self.periodic = bool(atoms.pbc.all())
        self._structure: Structure | None = None
        self._distances: np.ndarray | None = None

    @property
    def structure(self) -> Structure:
        if self._structure is None:
            from pymatgen.core import Structure
            from pymatgen.io.ase import AseAtomsAdaptor

            s = AseAtomsAdaptor.get_structure(self.atoms)
            reduced = s.get_reduced_structure(reduction_algo="niggli").get_primitive_structure()
            self._structure = Structure.from_sites(reduced)
        return self._structure

    @property
    def distances(self) -> np.ndarray:
        if self._distances is None:
            self._distances = np.sort(self.atoms.get_all_distances().ravel())
        return self._distances

    def same_as(self, other: Reduced) -> bool:
        """Whether the two are the same structure (StructureMatcher for crystals)."""
        if self.formula != other.formula:
            return False
        if not (self.periodic and other.periodic):
            if len(self.atoms) != len(other.atoms):
                return False
            return bool(np.allclose(self.distances, other.distances, atol=DISTANCE_TOL))
        a, b = self.structure, other.structure
        if len(a) != len(b):
            return False  # no supercell matching: the matcher's own answer would be no
        return bool(_matcher().fit(a, b, skip_structure_reduction=True))


def matches(a: Atoms, b: Atoms) -> bool:
    """Whether StructureMatcher (stol 0.5, ltol 0.3, angle_tol 10) calls ``a`` and ``b`` the same;
    non-periodic structures compare by formula and sorted interatomic distances (0.05 Å)."""
    return Reduced(a).same_as(Reduced(b))


def is_unique(atoms: Atoms, earlier: Sequence[Atoms]) -> bool:
    """No structure of ``earlier`` matches ``atoms``."""
    mine = Reduced(atoms)
    same_formula = (Reduced(other) for other in earlier if formula(other) == mine.formula)
    return not any(mine.same_as(other) for other in same_formula)


class KnownStructures:
    """Structures a discovery must differ from (training data, hull seeds), by formula.

    Each known structure is reduced at most once, the first time a candidate of its formula
    is checked; the object pickles (reductions included) for screening in worker processes.
    """

    def __init__(self, structures: Iterable[Atoms] = ()) -> None:
        self._by_formula: dict[str, list[Reduced]] = {}
        self._hashes: set[str] = set()
        self.extend(list(structures))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_formula.values())

    def extend(self, structures: Sequence[Atoms]) -> None:
        from qaware.structures.hashing import structure_hash

        for atoms in structures:
            self._hashes.add(structure_hash(atoms))
            entry = Reduced(atoms)
            self._by_formula.setdefault(entry.formula, []).append(entry)

    def is_novel(self, atoms: Atoms, structure_hash: str | None = None) -> bool:
        """Whether no known structure matches ``atoms`` (hash, then StructureMatcher)."""
        if structure_hash is not None and structure_hash in self._hashes:
            return False
        mine = Reduced(atoms)
        return not any(mine.same_as(known) for known in self._by_formula.get(mine.formula, ()))
