"""Physical constants and conversions (CODATA 2018 via ASE), in one place."""

from __future__ import annotations

from typing import Final

from ase import units as _ase_units

HARTREE_EV: Final[float] = float(_ase_units.Hartree)  # eV per Hartree
BOHR_ANGSTROM: Final[float] = float(_ase_units.Bohr)  # Å per Bohr
KCAL_PER_MOL_EV: Final[float] = float(_ase_units.kcal / _ase_units.mol)  # eV per kcal/mol
KJ_PER_MOL_EV: Final[float] = float(_ase_units.kJ / _ase_units.mol)  # eV per kJ/mol
EV_PER_ANGSTROM3_GPA: Final[float] = float(1.0 / _ase_units.GPa)  # GPa per eV/Å^3
