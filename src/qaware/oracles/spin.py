"""Default spin multiplicities (2S+1) of neutral atoms and common small molecules.

The spin state is an *input* of a molecular calculation, not something an SCF finds by itself:
a UKS run started in the wrong multiplicity converges happily to an excited state, and the
formation energy inherits the error (DESIGN.md §4). Sources:

* atoms: ground terms of the neutral atoms in the NIST Atomic Spectra Database (e.g. Fe ⁵D,
  Cr ⁷S, Ni ³F, Pd ¹S). Lanthanides and actinides are left out on purpose (open 4f/5f shells
  need more care than a table).
* molecules: ground electronic states from Huber & Herzberg, *Constants of Diatomic Molecules*
  (1979), and for the 3d-metal monoxides Merer, Annu. Rev. Phys. Chem. 40, 407 (1989):
  ScO X²Σ⁺, TiO X³Δ, VO X⁴Σ⁻, CrO X⁵Π, MnO X⁶Σ⁺, FeO X⁵Δ, CoO X⁴Δ, NiO X³Σ⁻, CuO X²Π, ZnO X¹Σ⁺.

Outside the tables (or for a charged species) the default is the lowest multiplicity that the
electron count allows (1 or 2); the PySCF oracle can instead scan a few multiplicities and keep
the lowest-energy one (DESIGN.md §4, "lowest of a few multiplicities").
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ase import Atoms
from ase.formula import Formula

__all__ = [
    "ATOM_MULTIPLICITY",
    "MOLECULE_MULTIPLICITY",
    "candidate_multiplicities",
    "default_multiplicity",
    "n_electrons",
    "parity_multiplicity",
]

ATOM_MULTIPLICITY: Final[Mapping[str, int]] = MappingProxyType(
    {
        "H": 2, "He": 1,
        "Li": 2, "Be": 1, "B": 2, "C": 3, "N": 4, "O": 3, "F": 2, "Ne": 1,
        "Na": 2, "Mg": 1, "Al": 2, "Si": 3, "P": 4, "S": 3, "Cl": 2, "Ar": 1,
        "K": 2, "Ca": 1, "Sc": 2, "Ti": 3, "V": 4, "Cr": 7, "Mn": 6, "Fe": 5, "Co": 4,
        "Ni": 3, "Cu": 2, "Zn": 1, "Ga": 2, "Ge": 3, "As": 4, "Se": 3, "Br": 2, "Kr": 1,
        "Rb": 2, "Sr": 1, "Y": 2, "Zr": 3, "Nb": 6, "Mo": 7, "Tc": 6, "Ru": 5, "Rh": 4,
        "Pd": 1, "Ag": 2, "Cd": 1, "In": 2, "Sn": 3, "Sb": 4, "Te": 3, "I": 2, "Xe": 1,
        "Cs": 2, "Ba": 1, "La": 2, "Hf": 3, "Ta": 4, "W": 5, "Re": 6, "Os": 5, "Ir": 4,
        "Pt": 3, "Au": 2, "Hg": 1, "Tl": 2, "Pb": 3, "Bi": 4, "Po": 3, "At": 2, "Rn": 1,
    }
)  # fmt: skip
"""Ground-state multiplicity of each neutral atom (NIST ASD ground terms)."""

MOLECULE_MULTIPLICITY: Final[Mapping[str, int]] = MappingProxyType(
    {
        "H2": 1, "N2": 1, "O2": 3, "F2": 1, "Cl2": 1, "CO": 1, "NO": 2, "OH": 2, "HF": 1,
        "H2O": 1, "CO2": 1, "NH3": 1, "CH4": 1, "O3": 1, "SiO2": 1,
        "MgO": 1, "CaO": 1, "SrO": 1, "BaO": 1, "AlO": 2, "SiO": 1,
        "ScO": 2, "TiO": 3, "VO": 4, "CrO": 5, "MnO": 6, "FeO": 5, "CoO": 4, "NiO": 3,
        "CuO": 2, "ZnO": 1, "TiO2": 1,
    }
)  # fmt: skip
"""Ground-state multiplicity of neutral molecules, keyed by formula (any element order)."""

_MOLECULES_BY_COUNT: Final[dict[frozenset[tuple[str, int]], int]] = {
    frozenset(Formula(f).count().items()): m for f, m in MOLECULE_MULTIPLICITY.items()
}


def n_electrons(atoms: Atoms, charge: int = 0) -> int:
    """Total electron count of ``atoms`` with net ``charge`` (all-electron; ECPs remove pairs)."""
    return int(atoms.get_atomic_numbers().sum()) - int(charge)


def parity_multiplicity(n_elec: int) -> int:
    """Lowest multiplicity an electron count allows: 1 (even) or 2 (odd)."""
    return 1 if n_elec % 2 == 0 else 2


def candidate_multiplicities(n_elec: int, count: int = 3) -> tuple[int, ...]:
    """The ``count`` lowest multiplicities allowed by ``n_elec`` (1,3,5... or 2,4,6...),
    capped at ``n_elec + 1`` (every electron unpaired)."""
    first = parity_multiplicity(n_elec)
    return tuple(m for m in range(first, first + 2 * count, 2) if m <= n_elec + 1)


def default_multiplicity(atoms: Atoms, charge: int = 0) -> tuple[int, str]:
    """Default 2S+1 of ``atoms`` and where it came from.

    Returns ``(multiplicity, source)`` with source ``"atom table"`` or ``"molecule table"``
    for a neutral species in the tables above, else ``"parity"`` (1 or 2).
    """
    symbols = atoms.get_chemical_symbols()
    if charge == 0:
        if len(symbols) == 1 and symbols[0] in ATOM_MULTIPLICITY:
            return ATOM_MULTIPLICITY[symbols[0]], "atom table"
        key = frozenset(Formula.from_list(symbols).count().items())
        if len(symbols) > 1 and key in _MOLECULES_BY_COUNT:
            return _MOLECULES_BY_COUNT[key], "molecule table"
    return parity_multiplicity(n_electrons(atoms, charge)), "parity"
