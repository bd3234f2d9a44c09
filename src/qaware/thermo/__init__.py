"""Thermodynamics per fidelity: elemental references, formation energies, convex hulls, hits.

Energies are compared only when referenced (DESIGN.md §3): μ_i come from the same oracle as the
energies they reference, and a hull holds entries of one level and settings hash only.
"""

from qaware.thermo.formation import (
    check_same_oracle,
    formation_energies_per_atom,
    formation_energy_from_result,
    formation_energy_per_atom,
)
from qaware.thermo.hull import HIT_TOLERANCE, FidelityHull, HullEntry, is_hit
from qaware.thermo.references import (
    ElementalReferences,
    compute_references,
    reference_structure,
)

__all__ = [
    "HIT_TOLERANCE",
    "ElementalReferences",
    "FidelityHull",
    "HullEntry",
    "check_same_oracle",
    "compute_references",
    "formation_energies_per_atom",
    "formation_energy_from_result",
    "formation_energy_per_atom",
    "is_hit",
    "reference_structure",
]
