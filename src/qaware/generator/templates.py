"""Template libraries: the training set's Wyckoff templates, counted and sampled by frequency.

For de novo generation a template is drawn with the frequency of its space group + Wyckoff
letters in the training set (species left to the model). For crystal structure prediction
(fixed composition) the drawn template must fit the composition: same number of elements, atom
counts proportional, primitive atom count dividing the target's, and its elements are swapped
for the target's by rank (count, then Pauling electronegativity), so that, for instance, the
A and B cations of a perovskite template take the target's less and more electronegative
cation. This is a retrieval rule of our own (DiffCSP++ retrieves with CSPML instead), with one
piece of CSPML's idea, composition similarity: a training template weighs its count times e^s,
s the number of its elements that keep their place in the fitted template (the target's own
elements in the same roles). Chosen on the training split only: leave-one-out on perov-5 val,
a draw gives the crystal's structure with probability 0.467 (count alone 0.440; the heaviest
template 0.39-0.42, the heaviest structure class 0.43-0.45): ``benchmarks/template_retrieval.py``.
On perov-5 test the CSP match rate at k = 1 did not move beyond noise (48.0 %, count alone
49.2 %): retrieval stays what limits it (95 % on each target's own template).

Templates with exactly the target's atom count are preferred: only when the library has none
do smaller primitive cells whose multiple is the target's count stand in. Without this rule a
one-element target (carbon-24: C6 ... C24) would mostly draw the many small training cells
(a C12 target gets C6, C4, C3, C2 templates by frequency) and the sample would not have the
composition asked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from ase import Atoms

from qaware.errors import InvalidStructureError
from qaware.generator.wyckoff import (
    DEFAULT_SYMPREC,
    Orbit,
    WyckoffTemplate,
    template_from_structure,
)

__all__ = [
    "TemplateLibrary",
    "assign_composition",
    "composition_of",
    "electronegativity",
    "role_mapping",
    "shared_roles",
]


@lru_cache(maxsize=128)
def electronegativity(z: int) -> float:
    """Pauling electronegativity of element ``z`` (pymatgen); 0 where it has none (noble gases)."""
    from pymatgen.core import Element

    value = Element.from_Z(int(z)).X
    return 0.0 if value is None or not np.isfinite(value) else float(value)


def _ranked(counts: Mapping[int, int]) -> list[int]:
    return sorted(counts, key=lambda z: (counts[z], electronegativity(z), z))


def role_mapping(source: Mapping[int, int], target: Mapping[int, int]) -> dict[int, int] | None:
    """Element of ``source`` -> element of ``target`` taking its place (rank by count, then
    electronegativity), or None when the two compositions do not fit (see the module
    docstring)."""
    if 0 in source or len(source) != len(target):
        return None
    n_target, n_source = sum(target.values()), sum(source.values())
    if n_target % n_source:
        return None
    scale = n_target // n_source
    if sorted(c * scale for c in source.values()) != sorted(target.values()):
        return None
    mapping = dict(zip(_ranked(source), _ranked(target), strict=True))
    if any(source[z] * scale != target[mapping[z]] for z in source):
        return None
    return mapping


def assign_composition(
    template: WyckoffTemplate, composition: Mapping[int, int]
) -> WyckoffTemplate | None:
    """``template`` with its elements replaced by those of ``composition`` (atomic number ->
    count), or None when the two do not fit (see the module docstring)."""
    mapping = role_mapping(template.composition(), composition)
    if mapping is None:
        return None
    return template.with_species([mapping[o.species] for o in template.orbits])


def shared_roles(template: WyckoffTemplate, composition: Mapping[int, int]) -> int:
    """How many of ``template``'s elements keep their place when it is fitted to
    ``composition`` (0 when it does not fit): the retrieval similarity."""
    mapping = role_mapping(template.composition(), composition)
    return 0 if mapping is None else _kept(mapping)


def _kept(mapping: Mapping[int, int]) -> int:
    return sum(z == t for z, t in mapping.items())


@dataclass
class TemplateLibrary:
    """Distinct templates (one example each, with its anchors and lattice) and their counts."""

    templates: list[WyckoffTemplate] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    @classmethod
    def from_templates(cls, templates: Iterable[WyckoffTemplate]) -> TemplateLibrary:
        counter: Counter[tuple] = Counter()
        first: dict[tuple, WyckoffTemplate] = {}
        for t in templates:
            counter[t.key()] += 1
            first.setdefault(t.key(), t)
        keys = list(first)
        return cls([first[k] for k in keys], [counter[k] for k in keys])

    @classmethod
    def from_structures(
        cls, structures: Iterable[Atoms], *, symprec: float = DEFAULT_SYMPREC
    ) -> tuple[TemplateLibrary, list[InvalidStructureError]]:
        """Library of the structures' templates, and the errors of those that had none."""
        templates, errors = [], []
        for atoms in structures:
            try:
                templates.append(template_from_structure(atoms, symprec=symprec))
            except InvalidStructureError as exc:
                errors.append(exc)
        return cls.from_templates(templates), errors

    def __len__(self) -> int:
        return len(self.templates)

    def candidates(
        self,
        *,
        composition: Mapping[int, int] | None = None,
        space_group: int | None = None,
        max_atoms: int | None = None,
    ) -> tuple[list[WyckoffTemplate], np.ndarray]:
        """Templates that fit (species assigned when ``composition`` is given; those with the
        target's atom count when there are any) and their sampling weights, normalised: the
        training counts, times e^s for a composition, s = :func:`shared_roles` (a training
        crystal that holds the target's elements in the same places counts more)."""
        chosen, weights = [], []
        for template, count in zip(self.templates, self.counts, strict=True):
            if space_group is not None and template.space_group != space_group:
                continue
            if max_atoms is not None and template.n_atoms > max_atoms:
                continue
            weight = float(count)
            if composition is not None:
                mapping = role_mapping(template.composition(), composition)
                if mapping is None:
                    continue
                weight *= float(np.exp(_kept(mapping)))
                template = template.with_species([mapping[o.species] for o in template.orbits])
            chosen.append(template)
            weights.append(weight)
        if composition is not None:
            n_target = sum(composition.values())
            exact = [i for i, t in enumerate(chosen) if t.n_atoms == n_target]
            if exact:
                chosen, weights = [chosen[i] for i in exact], [weights[i] for i in exact]
        w = np.asarray(weights, dtype=float)
        return chosen, (w / w.sum() if len(w) else w)

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        *,
        composition: Mapping[int, int] | None = None,
        space_group: int | None = None,
        max_atoms: int | None = None,
    ) -> list[WyckoffTemplate]:
        """``n`` templates drawn by training frequency among those that fit.

        Raises ValueError naming the constraint when no template fits.
        """
        chosen, weights = self.candidates(
            composition=composition, space_group=space_group, max_atoms=max_atoms
        )
        if not chosen:
            raise ValueError(
                f"no training template fits composition={dict(composition or {})}, "
                f"space_group={space_group}, max_atoms={max_atoms} "
                f"(library of {len(self)} templates)"
            )
        picks = rng.choice(len(chosen), size=n, p=weights)
        return [chosen[i] for i in picks]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (JSON and ``torch.load(weights_only=True)`` safe)."""
        return {
            "templates": [
                {
                    "space_group": t.space_group,
                    "letters": [o.letter for o in t.orbits],
                    "species": [o.species for o in t.orbits],
                    "xyz": [list(o.xyz) for o in t.orbits],
                    "lattice": None if t.lattice is None else [list(r) for r in t.lattice],
                    "source": t.source,
                }
                for t in self.templates
            ],
            "counts": list(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TemplateLibrary:
        templates = []
        for d in data["templates"]:
            orbits = tuple(
                Orbit(letter, int(z), (float(x[0]), float(x[1]), float(x[2])))
                for letter, z, x in zip(d["letters"], d["species"], d["xyz"], strict=True)
            )
            lattice = None if d["lattice"] is None else tuple(tuple(r) for r in d["lattice"])
            templates.append(WyckoffTemplate(int(d["space_group"]), orbits, lattice, d["source"]))
        return cls(templates, [int(c) for c in data["counts"]])


def composition_of(atoms: Atoms | Sequence[int]) -> dict[int, int]:
    """Atomic number -> count of a structure (or a list of atomic numbers)."""
    numbers = atoms.numbers if isinstance(atoms, Atoms) else np.asarray(atoms)
    values, counts = np.unique(numbers, return_counts=True)
    return {int(z): int(c) for z, c in zip(values, counts, strict=True)}
