"""The physics helpers fail on models that break the physics they check (they can fail)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms

from qaware.testing import (
    assert_equivariant_forces,
    assert_smooth_cutoff,
    assert_stress_matches_finite_strain,
    assert_zero_cross_gradients,
)


def _pair_energy(atoms: Atoms, cutoff: float = 3.0, smooth: bool = True) -> float:
    d = atoms.get_all_distances(mic=atoms.pbc.any())
    iu = np.triu_indices(len(atoms), 1)
    r = d[iu][d[iu] < cutoff]
    shape = (1 - r / cutoff) ** 2 if smooth else np.ones_like(r)
    return float(np.sum(shape * np.exp(-r)))


def _numeric_forces(energy, atoms: Atoms, h: float = 1e-6) -> np.ndarray:
    f = np.zeros((len(atoms), 3))
    for a in range(len(atoms)):
        for c in range(3):
            p, m = atoms.copy(), atoms.copy()
            p.positions[a, c] += h
            m.positions[a, c] -= h
            f[a, c] = -(energy(p) - energy(m)) / (2 * h)
    return f


def _atoms() -> Atoms:
    return Atoms("H3", positions=[[0, 0, 0], [1.1, 0.2, 0], [0.3, 1.3, 0.4]])


def test_equivariance_helper_rejects_a_frame_dependent_energy():
    def biased(atoms):  # energy depends on the x coordinate: not rotation invariant
        e = _pair_energy(atoms) + 0.1 * atoms.positions[:, 0].sum()
        f = _numeric_forces(lambda a: _pair_energy(a) + 0.1 * a.positions[:, 0].sum(), atoms)
        return e, f

    with pytest.raises(AssertionError, match=r"not equivariant|energy changes"):
        assert_equivariant_forces(biased, _atoms(), atol=1e-6)
    fair = lambda a: (_pair_energy(a), _numeric_forces(_pair_energy, a))  # noqa: E731
    assert_equivariant_forces(fair, _atoms(), atol=1e-6)


def test_stress_helper_rejects_a_wrong_stress():
    atoms = Atoms("H2", positions=[[0, 0, 0], [1.0, 0.3, 0.2]], cell=np.eye(3) * 2.5, pbc=True)
    with pytest.raises(AssertionError, match="stress"):
        assert_stress_matches_finite_strain(_pair_energy, lambda a: np.ones(6), atoms, atol=1e-6)


def test_cutoff_helper_rejects_a_hard_cutoff():
    def hard(atoms):
        e = lambda a: _pair_energy(a, smooth=False)  # noqa: E731
        return e(atoms), _numeric_forces(e, atoms)

    def pair(r):
        return Atoms("H2", positions=[[0, 0, 0], [0, 0, r]])

    with pytest.raises(AssertionError, match="jumps"):
        assert_smooth_cutoff(hard, pair, 3.0, delta=1e-3)


def test_cross_gradient_helper_rejects_a_leaking_batch():
    batch = np.array([0, 0, 1, 1])

    def leaking(pos):  # structure 1's energy sees the mean of all atoms
        e0 = pos[:2].pow(2).sum()
        e1 = (pos[2:] - pos.mean(0)).pow(2).sum()
        return torch.stack([e0, e1])

    with pytest.raises(AssertionError, match="structure 1"):
        assert_zero_cross_gradients(leaking, torch.randn(4, 3, dtype=torch.float64), batch)
