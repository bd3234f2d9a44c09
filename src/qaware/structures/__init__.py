"""Structures: reading, writing, checking and identifying ase.Atoms (crystals and molecules)."""

from qaware.structures.hashing import composition_key, structure_hash

__all__ = ["composition_key", "structure_hash"]
