"""Element substitution of known structures: the GNoME-style baseline generator.

A sample is a reference structure with each element replaced by a *similar* one, by
Goldschmidt's rule: the two share a common oxidation state (pymatgen's
``common_oxidation_states``) at which their Shannon ionic radii differ by at most
``radius_tolerance`` (15 % by default); elements past Pu are excluded. The cell is scaled
isotropically by the ratio of summed atomic-radius cubes, so bigger atoms get more room. GNoME
used data-mined substitution probabilities (Hautier et al. 2011) instead, which are not
available offline; this rule is the documented stand-in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from ase import Atoms

from qaware.generator.conditions import parse_conditions
from qaware.generator.templates import composition_of, electronegativity

__all__ = ["SubstitutionGenerator", "similar_elements"]

_MAX_Z = 94


@lru_cache(maxsize=256)
def _ions(z: int) -> dict[int, float]:
    """Common oxidation state -> Shannon ionic radius (Å) of element ``z``."""
    from pymatgen.core import Element

    el = Element.from_Z(z)
    radii = {int(k): float(v) for k, v in el.ionic_radii.items()}
    return {q: radii[q] for q in el.common_oxidation_states if q in radii}


@lru_cache(maxsize=256)
def _atomic_radius(z: int) -> float:
    from pymatgen.core import Element

    return float(Element.from_Z(z).atomic_radius or 0.0)


@lru_cache(maxsize=1024)
def similar_elements(z: int, radius_tolerance: float = 0.15) -> tuple[int, ...]:
    """Atomic numbers that may replace ``z`` (itself excluded), nearest radius first."""
    mine = _ions(z)
    found: dict[int, float] = {}
    for other in range(1, _MAX_Z + 1):
        if other == z:
            continue
        for q, r in _ions(other).items():
            if q in mine and abs(r - mine[q]) <= radius_tolerance * mine[q]:
                gap = abs(r - mine[q]) / mine[q]
                found[other] = min(gap, found.get(other, np.inf))
    return tuple(sorted(found, key=lambda o: (found[o], o)))


def _substitute(atoms: Atoms, mapping: Mapping[int, int]) -> Atoms:
    new = atoms.copy()
    new.numbers = np.array([mapping.get(int(z), int(z)) for z in atoms.numbers])
    old_volume = sum(_atomic_radius(int(z)) ** 3 for z in atoms.numbers)
    new_volume = sum(_atomic_radius(int(z)) ** 3 for z in new.numbers)
    if old_volume > 0 and new_volume > 0:
        new.set_cell(new.cell[:] * (new_volume / old_volume) ** (1 / 3), scale_atoms=True)
    new.info = {"generator": "substitution", "reference": atoms.info.get("material_id", "")}
    return new


class SubstitutionGenerator:
    """StructureGenerator that substitutes elements of ``references`` (see module docstring).

    Without conditions every element is replaced by a similar one where it has any (at least
    one element changes). ``conditions["elements"]`` keeps only substitutions into that set;
    ``conditions["composition"]`` maps a reference with the same count pattern onto it by
    rank (count, then electronegativity) instead of by similarity.
    """

    def __init__(self, references: Sequence[Atoms], *, radius_tolerance: float = 0.15) -> None:
        if not references:
            raise ValueError("SubstitutionGenerator needs reference structures")
        self.references = list(references)
        self.radius_tolerance = radius_tolerance

    def _options(self, atoms: Atoms, allowed: set[int] | None) -> dict[int, list[int]] | None:
        options = {}
        for z in composition_of(atoms):
            choices = [z, *similar_elements(z, self.radius_tolerance)]
            if allowed is not None:
                choices = [c for c in choices if c in allowed]
            if not choices:
                return None
            options[z] = choices
        return options

    def sample(
        self, n: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> list[Atoms]:
        cond = parse_conditions(conditions)
        rng = np.random.default_rng(seed)
        if cond.composition:
            return self._for_composition(n, cond.composition, rng)
        allowed = set(cond.elements) if cond.elements else None
        usable = [(a, o) for a in self.references if (o := self._options(a, allowed))]
        if not usable:
            raise ValueError(
                f"no reference can be substituted into elements {sorted(allowed or [])}"
            )
        out: list[Atoms] = []
        while len(out) < n:
            atoms, options = usable[int(rng.integers(len(usable)))]
            mapping = {z: c[int(rng.integers(len(c)))] for z, c in options.items()}
            if allowed is None and all(mapping[z] == z for z in mapping):
                changeable = [z for z, c in options.items() if len(c) > 1]
                if changeable:
                    z = changeable[int(rng.integers(len(changeable)))]
                    mapping[z] = options[z][1 + int(rng.integers(len(options[z]) - 1))]
            if len(set(mapping.values())) < len(mapping):
                continue  # two elements merged: not a substitution of this structure
            out.append(_substitute(atoms, mapping))
        return out

    def _for_composition(
        self, n: int, composition: Mapping[int, int], rng: np.random.Generator
    ) -> list[Atoms]:
        def ranked(counts: Mapping[int, int]) -> list[int]:
            return sorted(counts, key=lambda z: (counts[z], electronegativity(z), z))

        target = ranked(composition)
        pattern = sorted(composition.values())
        fits = []
        for atoms in self.references:
            comp = composition_of(atoms)
            if sorted(comp.values()) == pattern:
                fits.append((atoms, dict(zip(ranked(comp), target, strict=True))))
        if not fits:
            raise ValueError(f"no reference has the count pattern of {dict(composition)}")
        picks = rng.integers(len(fits), size=n)
        return [_substitute(*fits[int(i)]) for i in picks]
