"""Referenced formation energies per atom (pure functions).

``e_form = (E − Σ_i n_i μ_i) / N`` (DESIGN.md §3), with E the total energy (eV) of a structure of
N = Σ n_i atoms and μ_i (eV/atom) from :class:`~qaware.thermo.references.ElementalReferences` of the
*same* oracle. Every function takes the level (and, when known, the settings hash) of the energy and
refuses references of another one: raw energies of two levels are never subtracted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qaware.errors import ConfigError
from qaware.oracles.result import OracleResult
from qaware.thermo.references import ElementalReferences

__all__ = [
    "check_same_oracle",
    "formation_energies_per_atom",
    "formation_energy_from_result",
    "formation_energy_per_atom",
]


def check_same_oracle(
    references: ElementalReferences, level: str, settings_hash: str | None = None
) -> None:
    """Raise ConfigError unless ``references`` are of ``level`` (and ``settings_hash`` if given)."""
    if references.level != level:
        raise ConfigError(
            f"energy at level {level!r} cannot be referenced with elemental references of "
            f"{references.level!r}: raw energies of two levels are never subtracted"
        )
    if settings_hash is not None and references.settings_hash != settings_hash:
        raise ConfigError(
            f"energy at {level} was computed with settings [{settings_hash}] but the elemental "
            f"references with [{references.settings_hash}]: recompute the references"
        )


def formation_energy_per_atom(
    energy: float,
    counts: Mapping[str, int],
    references: ElementalReferences,
    *,
    level: str,
    settings_hash: str | None = None,
) -> float:
    """e_form in eV/atom of one structure.

    energy: total energy, eV, at ``level`` (computed with ``settings_hash`` when given).
    counts: element -> number of atoms in the structure that has that energy (not reduced).
    """
    check_same_oracle(references, level, settings_hash)
    n_atoms = 0
    reference_sum = 0.0
    for el, n in counts.items():
        if n < 0:
            raise ValueError(f"negative count {n} for element '{el}'")
        if n:
            reference_sum += n * references[el]
            n_atoms += n
    if n_atoms == 0:
        raise ValueError("cannot reference an energy of a structure with no atoms")
    return (float(energy) - reference_sum) / n_atoms


def formation_energies_per_atom(
    energy: np.ndarray,
    composition: np.ndarray,
    elements: Sequence[str],
    references: ElementalReferences,
    *,
    level: str,
    settings_hash: str | None = None,
) -> np.ndarray:
    """Vectorised e_form: (n,) eV/atom.

    energy:      (n,) total energies, eV, at ``level``.
    composition: (n, n_el) atom counts; column j counts ``elements[j]``.
    A reference is needed only for elements that occur (a column of zeros needs none).
    """
    check_same_oracle(references, level, settings_hash)
    energy = np.asarray(energy, dtype=float)
    composition = np.asarray(composition, dtype=float)
    if energy.ndim != 1 or composition.shape != (energy.shape[0], len(elements)):
        raise ValueError(
            f"shapes: energy {energy.shape} must be (n,), composition {composition.shape} must "
            f"be (n, {len(elements)}) for elements {list(elements)}"
        )
    if np.any(composition < 0):
        row = int(np.argwhere(composition < 0)[0][0])
        raise ValueError(f"negative atom count in composition row {row}")
    used = np.any(composition != 0, axis=0)  # (n_el,) bool: elements that occur
    mu = np.array([references[el] if used[j] else 0.0 for j, el in enumerate(elements)])
    n_atoms = composition.sum(axis=1)
    if np.any(n_atoms <= 0):
        raise ValueError(f"composition row {int(np.argmin(n_atoms))} has no atoms")
    return (energy - composition @ mu) / n_atoms


def formation_energy_from_result(
    result: OracleResult, counts: Mapping[str, int], references: ElementalReferences
) -> float:
    """e_form (eV/atom) of a successful oracle result, checked against its level and settings."""
    if not result.ok or result.energy is None:
        raise ValueError(f"cannot reference a failed {result.level} result ({result.reason})")
    return formation_energy_per_atom(
        result.energy,
        counts,
        references,
        level=result.level,
        settings_hash=result.settings_hash,
    )
