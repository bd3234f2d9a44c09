"""The ``conditions`` mapping every StructureGenerator accepts, parsed and checked once.

=============== ============================================ ===================================
key             value                                        meaning
=============== ============================================ ===================================
composition     "SrTiO3" or {"Sr": 1, 38: 1, ...}           exact composition of the cell (CSP)
elements        ["Sr", "Ti", 8] (symbols or numbers)         allowed elements (de novo)
space_group     1..230                                       keep this space group only
templates       [WyckoffTemplate, ...]                       use these templates (cycled)
descriptors     (cond_dim,) floats                           target q for guidance
lam             float                                        guidance weight λ (DESIGN.md §3)
max_atoms       int                                          largest primitive cell
=============== ============================================ ===================================

Unknown keys and bad values raise ConfigError naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase.data import atomic_numbers
from ase.formula import Formula

from qaware.errors import ConfigError
from qaware.generator.wyckoff import WyckoffTemplate

__all__ = ["CONDITION_KEYS", "GenerationConditions", "parse_conditions"]

CONDITION_KEYS = (
    "composition",
    "elements",
    "space_group",
    "templates",
    "descriptors",
    "lam",
    "max_atoms",
)


@dataclass(frozen=True)
class GenerationConditions:
    composition: dict[int, int] | None = None
    elements: tuple[int, ...] | None = None
    space_group: int | None = None
    templates: tuple[WyckoffTemplate, ...] | None = None
    descriptors: np.ndarray | None = None
    lam: float | None = None
    max_atoms: int | None = None


def _element(value: Any, key: str) -> int:
    if isinstance(value, (int, np.integer)) and 1 <= int(value) <= 118:
        return int(value)
    if isinstance(value, str) and value in atomic_numbers and atomic_numbers[value] > 0:
        return atomic_numbers[value]
    raise ConfigError(f"conditions.{key}: unknown element {value!r}")


def _composition(value: Any) -> dict[int, int]:
    if isinstance(value, str):
        try:
            counts = Formula(value).count()
        except ValueError as exc:
            raise ConfigError(f"conditions.composition: cannot parse {value!r} ({exc})") from exc
    elif isinstance(value, Mapping):
        counts = dict(value)
    else:
        raise ConfigError("conditions.composition: give a formula string or a mapping")
    result: dict[int, int] = {}
    for element, count in counts.items():
        if not isinstance(count, (int, np.integer)) or count < 1:
            raise ConfigError(
                f"conditions.composition: count of {element!r} must be a positive int"
            )
        z = _element(element, "composition")
        result[z] = result.get(z, 0) + int(count)
    if not result:
        raise ConfigError("conditions.composition: empty composition")
    return result


def parse_conditions(conditions: Mapping[str, Any] | None) -> GenerationConditions:
    """Check ``conditions`` (see the module docstring) and return them typed."""
    if not conditions:
        return GenerationConditions()
    unknown = sorted(set(conditions) - set(CONDITION_KEYS))
    if unknown:
        raise ConfigError(
            f"conditions.{unknown[0]}: unknown key; known: {', '.join(CONDITION_KEYS)}"
        )
    c = dict(conditions)
    composition = _composition(c["composition"]) if c.get("composition") is not None else None
    elements = None
    if c.get("elements") is not None:
        elements = tuple(sorted({_element(e, "elements") for e in c["elements"]}))
        if not elements:
            raise ConfigError("conditions.elements: empty element set")
    space_group = c.get("space_group")
    if space_group is not None and not (
        isinstance(space_group, (int, np.integer)) and 1 <= space_group <= 230
    ):
        raise ConfigError(f"conditions.space_group: must be an int in 1..230, got {space_group!r}")
    templates = c.get("templates")
    if templates is not None:
        templates = tuple(templates)
        if not templates or not all(isinstance(t, WyckoffTemplate) for t in templates):
            raise ConfigError("conditions.templates: give a non-empty list of WyckoffTemplate")
    descriptors = None
    if c.get("descriptors") is not None:
        descriptors = np.asarray(c["descriptors"], dtype=float).ravel()
        if not np.all(np.isfinite(descriptors)):
            raise ConfigError("conditions.descriptors: values must be finite")
    lam = c.get("lam")
    if lam is not None and not np.isfinite(float(lam)):
        raise ConfigError("conditions.lam: must be a finite number")
    max_atoms = c.get("max_atoms")
    if max_atoms is not None and (not isinstance(max_atoms, (int, np.integer)) or max_atoms < 1):
        raise ConfigError(f"conditions.max_atoms: must be a positive int, got {max_atoms!r}")
    return GenerationConditions(
        composition,
        elements,
        None if space_group is None else int(space_group),
        templates,
        descriptors,
        None if lam is None else float(lam),
        None if max_atoms is None else int(max_atoms),
    )
