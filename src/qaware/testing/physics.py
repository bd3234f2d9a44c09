"""Physics assertions written once and reused by every model's tests: forces = -dE/dr by finite
differences, invariance and equivariance under rotation/reflection, translation, permutation and
periodic wrapping, stress by finite strain, no cross-structure gradients, a smooth cutoff."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from ase import Atoms

__all__ = [
    "EnergyForces",
    "assert_energy_invariant",
    "assert_equivariant_forces",
    "assert_forces_match_finite_differences",
    "assert_smooth_cutoff",
    "assert_stress_matches_finite_strain",
    "assert_zero_cross_gradients",
    "random_rotation",
]


def random_rotation(rng: np.random.Generator, *, reflect: bool = False) -> np.ndarray:
    """A uniformly random 3×3 rotation matrix (times -1 when ``reflect``)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return -q if reflect else q


def assert_forces_match_finite_differences(
    energy_and_forces: Callable[[Atoms], tuple[float, np.ndarray]],
    atoms: Atoms,
    *,
    delta: float = 1e-4,
    atol: float = 1e-3,
    atoms_to_check: Sequence[int] | None = None,
) -> None:
    """forces = -dE/dr by central differences (ASE's numeric_forces idea), in eV/Å."""
    _, forces = energy_and_forces(atoms)
    indices = range(len(atoms)) if atoms_to_check is None else atoms_to_check
    for a in indices:
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[a, c] += delta
            minus.positions[a, c] -= delta
            numeric = -(energy_and_forces(plus)[0] - energy_and_forces(minus)[0]) / (2 * delta)
            assert abs(numeric - forces[a, c]) <= atol, (
                f"atom {a}, axis {'xyz'[c]}: analytic force {forces[a, c]:.6f} vs "
                f"finite difference {numeric:.6f} eV/Å"
            )


def assert_energy_invariant(
    energy: Callable[[Atoms], float],
    atoms: Atoms,
    *,
    seed: int = 0,
    atol: float = 1e-6,
) -> None:
    """Energy unchanged by rotation+reflection, translation, permutation and (pbc) wrapping."""
    rng = np.random.default_rng(seed)
    e0 = energy(atoms)
    rotated = atoms.copy()
    rot = random_rotation(rng, reflect=True)
    rotated.positions = atoms.positions @ rot.T
    if atoms.pbc.any():
        rotated.set_cell(np.asarray(atoms.cell) @ rot.T, scale_atoms=False)
    moved = atoms.copy()
    moved.positions += rng.normal(size=3)
    permuted = atoms[rng.permutation(len(atoms))]
    variants = {"rotation/reflection": rotated, "translation": moved, "permutation": permuted}
    if atoms.pbc.all():
        wrapped = moved.copy()
        wrapped.wrap()
        variants["periodic wrapping"] = wrapped
    for name, variant in variants.items():
        e = energy(variant)
        assert abs(e - e0) <= atol, f"energy changes under {name}: {e0:.9f} -> {e:.9f} eV"


EnergyForces = Callable[[Atoms], tuple[float, np.ndarray]]
"""``f(atoms) -> (energy eV, forces (n, 3) eV/Å)``."""


def assert_equivariant_forces(
    energy_and_forces: EnergyForces,
    atoms: Atoms,
    *,
    seed: int = 0,
    atol: float = 1e-9,
    reflect: bool = True,
) -> None:
    """E(Rx) = E(x) and F(Rx) = R F(x) for a random rotation (times −1 when ``reflect``).

    The cell of a periodic structure is rotated with the atoms (the e3nn ``assert_equivariant``
    idea for an ASE-level model).
    """
    rot = random_rotation(np.random.default_rng(seed), reflect=reflect)
    e0, f0 = energy_and_forces(atoms)
    turned = atoms.copy()
    turned.positions = atoms.positions @ rot.T
    turned.set_cell(np.asarray(atoms.cell) @ rot.T, scale_atoms=False)
    e1, f1 = energy_and_forces(turned)
    what = "rotation+reflection" if reflect else "rotation"
    assert abs(e1 - e0) <= atol, f"energy changes under {what}: {e0:.12f} -> {e1:.12f} eV"
    err = float(np.max(np.abs(f1 - np.asarray(f0) @ rot.T)))
    assert err <= atol, f"forces are not equivariant under {what}: max |F(Rx) - R F(x)| = {err:.3g}"


def assert_stress_matches_finite_strain(
    energy: Callable[[Atoms], float],
    stress: Callable[[Atoms], np.ndarray],
    atoms: Atoms,
    *,
    delta: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """stress = (1/V) dE/dε (eV/Å³, ASE sign) by central differences of a symmetric strain.

    ``stress(atoms)`` may return (3, 3) or Voigt (6,) xx, yy, zz, yz, xz, xy. Atoms move with
    the cell (``scale_atoms=True``), as in ``ase.calculators.calculator``'s numerical stress.
    """
    analytic = np.asarray(stress(atoms), dtype=float)
    if analytic.shape == (6,):
        xx, yy, zz, yz, xz, xy = analytic
        analytic = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    volume = atoms.get_volume()
    cell = np.asarray(atoms.cell)
    for i in range(3):
        for j in range(i, 3):
            values = []
            for sign in (1, -1):
                strain = np.eye(3)
                strain[i, j] += sign * delta
                strain[j, i] += sign * delta if i != j else 0.0
                strained = atoms.copy()
                strained.set_cell(cell @ strain, scale_atoms=True)
                values.append(energy(strained))
            numeric = (values[0] - values[1]) / ((2 if i == j else 4) * delta * volume)
            assert abs(numeric - analytic[i, j]) <= atol, (
                f"stress[{'xyz'[i]}{'xyz'[j]}]: analytic {analytic[i, j]:.8f} vs finite strain "
                f"{numeric:.8f} eV/Å³"
            )


def assert_zero_cross_gradients(
    energies: Callable[[Any], Any], positions: Any, batch: Sequence[int]
) -> None:
    """In a batch, structure k's energy has zero gradient w.r.t. every atom of the others.

    energies:  ``f(positions) -> (B,)`` torch tensor of the batch's energies.
    positions: (N, 3) torch tensor of all atoms of the batch (a leaf; gradients are taken).
    batch:     (N,) structure index of each atom.
    """
    import torch

    pos = positions.detach().clone().requires_grad_(True)
    values = energies(pos)
    owner = np.asarray(batch)
    for k in range(values.shape[0]):
        (grad,) = torch.autograd.grad(values[k], pos, retain_graph=True, allow_unused=True)
        if grad is None:
            continue
        leak = grad[torch.as_tensor(owner != k)].abs().max().item() if (owner != k).any() else 0
        assert leak == 0.0, f"energy of structure {k} depends on other structures' atoms ({leak})"


def assert_smooth_cutoff(
    energy_and_forces: EnergyForces,
    atoms_at: Callable[[float], Atoms],
    cutoff: float,
    *,
    delta: float = 1e-4,
    atol: float = 1e-6,
) -> None:
    """Energy and forces are continuous, and flat, as a neighbour crosses the cutoff sphere.

    atoms_at: ``f(r) -> Atoms`` with one pair at separation r Å (and no other pair crossing).
    Checks E(r_c − δ) ≈ E(r_c + δ), forces near r_c ≈ forces beyond it, and E constant beyond.
    """
    e_in, f_in = energy_and_forces(atoms_at(cutoff - delta))
    e_out, f_out = energy_and_forces(atoms_at(cutoff + delta))
    e_far, _ = energy_and_forces(atoms_at(cutoff + 0.5))
    assert abs(e_in - e_out) <= atol, f"energy jumps at the cutoff: {e_in:.9f} -> {e_out:.9f} eV"
    jump = float(np.max(np.abs(np.asarray(f_in) - np.asarray(f_out))))
    assert jump <= atol, f"forces jump by {jump:.3g} eV/Å at the cutoff"
    assert abs(e_far - e_out) <= atol, "energy still changes beyond the cutoff"
