"""Tabulated properties of the elements (pymatgen's Element data), as feature rows.

Shared by the models that must generalise across elements they have seen few times: the
composition validator's Magpie-like statistics and the descriptor proxy's atom features. A
learned embedding per atomic number knows nothing of an element absent from training; these
rows put chemically similar elements close together from the start.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

import numpy as np

__all__ = ["ELEMENT_PROPERTIES", "element_properties"]

ELEMENT_PROPERTIES: tuple[str, ...] = (
    "Z",
    "group",
    "row",
    "X",
    "atomic_radius",
    "mendeleev_no",
    "atomic_mass",
    "ionization_energy",
    "n_s_valence",
    "n_p_valence",
    "n_d_valence",
    "n_f_valence",
)
"""The properties of a row, in order (pymatgen Element attributes; X = Pauling χ)."""
_NOBLE_CORES = (2, 10, 18, 36, 54, 86)


@cache
def element_properties(symbol: str) -> np.ndarray:
    """(len(ELEMENT_PROPERTIES),) properties of one element; a missing value becomes 0.

    (Noble gases have no Pauling electronegativity: their χ feature is 0.) Valence counts are
    the electrons outside the preceding noble-gas core, per orbital type.
    """
    from pymatgen.core import Element

    el = Element(symbol)
    core = max((z for z in _NOBLE_CORES if z < el.Z), default=0)
    core_orbitals = set(Element.from_Z(core).full_electronic_structure) if core else set()
    valence = {"s": 0, "p": 0, "d": 0, "f": 0}
    for n, orbital, count in el.full_electronic_structure:
        if (n, orbital, count) not in core_orbitals:
            valence[orbital] += count
    with warnings.catch_warnings():  # pymatgen warns that it sets a noble gas's χ to NaN
        warnings.simplefilter("ignore", UserWarning)
        chi = el.X
    values: list[Any] = [
        el.Z,
        el.group,
        el.row,
        chi,
        el.atomic_radius,
        el.mendeleev_no,
        el.atomic_mass,
        el.ionization_energy,
        *(valence[o] for o in "spdf"),
    ]
    out = np.array([float(v) if v is not None else np.nan for v in values])
    return np.nan_to_num(out, nan=0.0)
