"""Small deterministic labelled structures for tests of multi-level code (EMT plus a made-up
upper level: a test fixture, not a level of theory)."""

from __future__ import annotations

import numpy as np
from ase import Atoms

__all__ = ["emt_two_level_cells", "made_up_top_energy"]


def made_up_top_energy(atoms: Atoms, emt_energy: float) -> float:
    """A made-up upper level for testing ladders (not a level of theory): 1.05 × EMT plus
    0.2 eV per Al atom."""
    return 1.05 * emt_energy + 0.2 * int((atoms.symbols == "Al").sum())


def emt_two_level_cells(n: int, *, seed: int = 0, top_every: int = 3) -> list[Atoms]:
    """Rattled 4-atom Cu / CuAl cells labelled for a two-level ladder: EMT energies, forces and
    stress on all (``energy_EMT``...), :func:`made_up_top_energy` on every ``top_every``-th
    (``energy_TOP``), ``info["family"]`` "Cu" or "CuAl". Deterministic in ``seed``."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", a=3.6 + 0.05 * rng.normal(), cubic=True)
        if i % 2:
            atoms.symbols[[0, 3]] = "Al"
        atoms.rattle(0.05, seed=seed * 1000 + i)
        atoms.calc = EMT()
        energy = atoms.get_potential_energy()
        atoms.info["energy_EMT"] = energy
        atoms.info["stress_EMT"] = atoms.get_stress()
        atoms.arrays["forces_EMT"] = atoms.get_forces()
        atoms.calc = None
        if i % top_every == 0:
            atoms.info["energy_TOP"] = made_up_top_energy(atoms, energy)
        atoms.info["family"] = "CuAl" if i % 2 else "Cu"
        out.append(atoms)
    return out
