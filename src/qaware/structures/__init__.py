"""Structures: reading, writing, checking and identifying ase.Atoms (crystals and molecules).

Importing this package touches no disk and imports neither pymatgen nor spglib; they load when a
function needs them.
"""

from qaware.structures.checks import validate_structure
from qaware.structures.convert import from_pymatgen, to_pymatgen
from qaware.structures.hashing import composition_key, structure_hash
from qaware.structures.io import StructureBatch, read_structures, write_structures

__all__ = [
    "StructureBatch",
    "composition_key",
    "from_pymatgen",
    "read_structures",
    "structure_hash",
    "to_pymatgen",
    "validate_structure",
    "write_structures",
]
