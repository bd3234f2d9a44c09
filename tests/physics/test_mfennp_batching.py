"""Batches, locality, the cutoff and the isolated-atom limit of MF-ENNP (float64)."""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk

from qaware.testing import assert_smooth_cutoff, assert_zero_cross_gradients

from .conftest import cluster, energy_and_forces, graph_of, skewed_cell


def _structures() -> list[Atoms]:
    return [skewed_cell(0), cluster(1), bulk("MgO", "rocksalt", a=4.0) * (1, 1, 2), cluster(2)]


def test_batch_equals_single_evaluations(model):
    structures = _structures()
    batch = model.compute(graph_of(model, structures), level=1, stress=True)
    start = 0
    for k, atoms in enumerate(structures):
        single = model.compute(graph_of(model, [atoms]), level=1, stress=True)
        n = len(atoms)
        for name in ("energy", "energy_heads", "energy_std", "embedding", "stress"):
            torch.testing.assert_close(
                getattr(batch, name)[k], getattr(single, name)[0], atol=1e-10, rtol=0
            )
        torch.testing.assert_close(
            batch.forces[start : start + n], single.forces, atol=1e-10, rtol=0
        )
        start += n


def test_zero_cross_structure_gradients(model):
    structures = _structures()
    graph = graph_of(model, structures)
    for level in range(3):
        assert_zero_cross_gradients(
            lambda pos, level=level: model(graph, positions=pos).energy[:, level],
            graph.positions,
            graph.batch.numpy(),
        )


def test_energy_is_smooth_through_the_cutoff(model):
    rc = model.config.cutoff

    def trimer(r: float) -> Atoms:  # an O-H pair at 1 Å plus a Ti that crosses the cutoff of O
        return Atoms("OHTi", positions=[[0, 0, 0], [0.6, 0.8, 0], [0, 0, r]])

    assert_smooth_cutoff(energy_and_forces(model, 2), trimer, rc, delta=1e-4, atol=1e-8)
    _, inside = energy_and_forces(model, 2)(trimer(rc - 0.3))
    assert np.abs(inside[2]).max() > 1e-6, "the Ti atom must interact inside the cutoff"


def test_isolated_atoms_have_the_reference_energies(model):
    mu = model.reference_energies
    for z, symbol in enumerate(model.config.species):
        out = model(graph_of(model, [Atoms(symbol, positions=[[0, 0, 0]])]))
        torch.testing.assert_close(out.energy[0], mu[:, z], atol=1e-12, rtol=0)
        assert torch.all(out.energy_std[0] < 1e-12), "heads agree on an isolated atom"
    far = Atoms("MgO", positions=[[0, 0, 0], [0, 0, model.config.cutoff + 0.1]])
    out = model(graph_of(model, [far]))
    torch.testing.assert_close(out.energy[0], mu[:, 2] + mu[:, 1], atol=1e-12, rtol=0)
    periodic = Atoms("Ti", cell=np.eye(3) * (model.config.cutoff + 0.5), pbc=True)
    torch.testing.assert_close(model(graph_of(model, [periodic])).energy[0], mu[:, 3])


def test_embedding_is_invariant_and_independent_of_fidelity(model):
    atoms = skewed_cell(3)
    turned = atoms.copy()
    turned.rotate(70, "x", rotate_cell=True)
    e1 = model(graph_of(model, [atoms])).embedding
    e2 = model(graph_of(model, [turned])).embedding
    torch.testing.assert_close(e1, e2, atol=1e-10, rtol=0)
    assert e1.shape == (1, model.blocks[-1].n_scalars)
