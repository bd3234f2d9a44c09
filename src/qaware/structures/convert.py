"""ase.Atoms <-> pymatgen Structure / Molecule, keeping species, positions, cell, pbc and info.

ASE is the lingua franca at qaware's boundaries; pymatgen is used for symmetry, matching and
hulls. ``atoms.info`` travels as ``Structure.properties`` and per-atom arrays (forces,
magnetic moments, ...) as site properties, so a round trip gives back what went in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from qaware.errors import InvalidStructureError

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

__all__ = ["from_pymatgen", "to_pymatgen"]

_BUILTIN_ARRAYS = ("numbers", "positions")


def to_pymatgen(atoms: Atoms) -> Structure | Molecule:
    """A Structure when any axis is periodic (Lattice.pbc = atoms.pbc), else a Molecule.

    Cartesian positions (Å) and cell rows (lattice vectors, Å) are copied as they are (no
    wrapping); ``atoms.info`` becomes ``properties``; extra per-atom arrays become site
    properties under the same names.
    """
    from pymatgen.core import Lattice, Molecule, Structure

    symbols = atoms.get_chemical_symbols()
    site_properties: dict[str, list[Any]] = {
        name: list(np.asarray(values))
        for name, values in atoms.arrays.items()
        if name not in _BUILTIN_ARRAYS
    }
    properties = dict(atoms.info)
    pbc = (bool(atoms.pbc[0]), bool(atoms.pbc[1]), bool(atoms.pbc[2]))
    if any(pbc):
        lattice = Lattice(np.asarray(atoms.cell[:], dtype=float), pbc=pbc)
        return Structure(
            lattice,
            symbols,
            np.asarray(atoms.positions, dtype=float),
            coords_are_cartesian=True,
            site_properties=site_properties or None,
            properties=properties,
        )
    return Molecule(
        symbols,
        np.asarray(atoms.positions, dtype=float),
        site_properties=site_properties or None,
        properties=properties,
    )


def from_pymatgen(obj: Structure | Molecule) -> Atoms:
    """Atoms from a Structure (cell and pbc from its lattice) or a Molecule (pbc False).

    Raises InvalidStructureError naming the atom for a disordered (partially occupied) site or
    a dummy species, which ase.Atoms cannot hold.
    """
    symbols = []
    for i, site in enumerate(obj):
        if not site.is_ordered:
            raise InvalidStructureError(
                f"site {site.species} is partially occupied; only ordered structures are supported",
                atom=i,
            )
        symbol = str(getattr(site.specie, "symbol", site.specie))
        if atomic_numbers.get(symbol, 0) < 1:
            raise InvalidStructureError(f"unknown element {symbol!r}", atom=i)
        symbols.append(str(symbol))
    positions = np.asarray(obj.cart_coords, dtype=float).reshape(-1, 3)
    lattice = getattr(obj, "lattice", None)
    if lattice is not None:
        atoms = Atoms(
            symbols, positions=positions, cell=np.asarray(lattice.matrix), pbc=lattice.pbc
        )
    else:
        atoms = Atoms(symbols, positions=positions, pbc=False)
    atoms.info.update(dict(getattr(obj, "properties", {}) or {}))
    for name, values in obj.site_properties.items():
        array = np.asarray(values)
        if array.dtype != object and len(array) == len(atoms):
            atoms.set_array(name, array)
    return atoms
