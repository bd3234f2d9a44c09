"""Random symmetric crystals (pyxtal): a baseline generator and a template source.

pyxtal places the atoms of a composition on Wyckoff positions of a space group at random, with
a cell of ``volume_factor`` times the sum of atomic volumes and its own minimum-distance checks.
A composition that no Wyckoff combination of the group fits is retried with another group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from qaware.generator.conditions import parse_conditions
from qaware.generator.wyckoff import Orbit, WyckoffTemplate, centring_matrix

__all__ = ["RandomSymmetricGenerator", "random_symmetric_crystal"]


def random_symmetric_crystal(
    composition: Mapping[int, int],
    space_groups: Sequence[int],
    rng: np.random.Generator,
    *,
    volume_factor: float = 1.1,
    max_tries: int = 20,
) -> tuple[Atoms, WyckoffTemplate]:
    """A random crystal of ``composition`` (primitive-cell counts) in one of ``space_groups``
    (tried in random order), as a primitive cell and its template.

    Raises ValueError when no group fits within ``max_tries``.
    """
    from pyxtal import pyxtal

    species = [chemical_symbols[z] for z in composition]
    tried = []
    for sg in rng.permutation(np.asarray(space_groups))[:max_tries]:
        order = round(1 / abs(np.linalg.det(centring_matrix(int(sg)))))
        counts = [composition[z] * order for z in composition]
        xtal = pyxtal()
        try:
            xtal.from_random(3, int(sg), species, counts, factor=volume_factor, random_state=rng)
        except Exception:  # pyxtal's compatibility / placement errors
            tried.append(int(sg))
            continue
        if not xtal.valid:
            tried.append(int(sg))
            continue
        orbits = []
        for site in xtal.atom_sites:
            free = np.abs(site.wp.ops[0].rotation_matrix).sum(0) > 0
            x, y, z = (float(v) for v in np.where(free, site.position, 0.0))
            orbits.append(
                Orbit(site.wp.letter, chemical_symbols.index(str(site.specie)), (x, y, z))
            )
        lattice = tuple(tuple(float(v) for v in row) for row in xtal.lattice.matrix)
        template = WyckoffTemplate(int(sg), tuple(orbits), lattice, "pyxtal random")
        atoms = template.to_atoms()
        atoms.info.update(space_group=int(sg), generator="random_symmetric")
        return atoms, template
    raise ValueError(f"no random crystal of {dict(composition)} in space groups {tried}")


class RandomSymmetricGenerator:
    """StructureGenerator of pyxtal random crystals.

    compositions: candidate compositions (atomic number -> primitive count), drawn uniformly
        unless ``conditions["composition"]`` fixes one.
    space_groups: candidate groups (default 2..230), unless ``conditions["space_group"]``.
    """

    def __init__(
        self,
        compositions: Sequence[Mapping[int, int]],
        *,
        space_groups: Sequence[int] | None = None,
        volume_factor: float = 1.1,
    ) -> None:
        if not compositions:
            raise ValueError("RandomSymmetricGenerator needs at least one composition")
        self.compositions = [dict(c) for c in compositions]
        self.space_groups = list(space_groups or range(2, 231))
        self.volume_factor = volume_factor

    def sample(
        self, n: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> list[Atoms]:
        cond = parse_conditions(conditions)
        rng = np.random.default_rng(seed)
        groups = [cond.space_group] if cond.space_group else self.space_groups
        out = []
        for _ in range(n):
            pick = cond.composition or self.compositions[int(rng.integers(len(self.compositions)))]
            atoms, _ = random_symmetric_crystal(pick, groups, rng, volume_factor=self.volume_factor)
            out.append(atoms)
        return out
