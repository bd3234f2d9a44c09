"""Neighbour lists against ase.neighborlist on molecules, tiny, skewed and partly periodic cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.neighborlist import neighbor_list as ase_neighbor_list

from qaware.errors import InvalidStructureError
from qaware.validator.graph import batch_graph
from qaware.validator.neighbours import image_counts, neighbour_list


def _edge_set(i, j, shifts) -> set[tuple[int, int, int, int, int]]:
    s = np.rint(shifts).astype(int)
    return {(int(a), int(b), *map(int, c)) for a, b, c in zip(i, j, s, strict=True)}


def _assert_same_as_ase(atoms: Atoms, cutoff: float) -> int:
    ours = neighbour_list(atoms, cutoff)
    i, j, S, d = ase_neighbor_list("ijSd", atoms, cutoff)
    assert len(ours) == len(i), f"{len(ours)} edges, ASE finds {len(i)}"
    assert _edge_set(ours.centre, ours.neighbour, ours.shifts) == _edge_set(i, j, S)
    dist = np.linalg.norm(ours.vectors(atoms.positions, atoms.cell.array), axis=1)
    np.testing.assert_allclose(np.sort(dist), np.sort(d), atol=1e-10)
    assert np.all(dist < cutoff)
    return len(i)


def test_molecule_matches_ase():
    atoms = molecule("CH3CH2OH")
    assert _assert_same_as_ase(atoms, 2.0) > 0


def test_one_atom_cell_sees_its_own_images_many_times():
    atoms = Atoms("Cu", cell=np.eye(3) * 2.0, pbc=True)
    n = _assert_same_as_ase(atoms, 4.5)
    # its own images at 2|S| < 4.5 Å, |S|² = 1..5: 6 + 12 + 8 + 6 + 24 shells
    assert n == 56


@pytest.mark.parametrize("seed", range(4))
def test_random_skewed_cells_match_ase(seed):
    rng = np.random.default_rng(seed)
    cell = np.array([[3.0, 0, 0], [2.7, 1.2, 0], [2.5, 1.0, 1.1]]) + rng.normal(0, 0.2, (3, 3))
    atoms = Atoms("SiO2", cell=cell, pbc=True, scaled_positions=rng.random((3, 3)))
    _assert_same_as_ase(atoms, 3.7)


def test_plane_spacing_not_edge_length_sets_image_count():
    # edges 3 Å long but planes 0.3 Å apart along one reciprocal axis: many images needed
    cell = np.array([[3.0, 0, 0], [2.98, 0.3, 0], [0, 0, 3.0]])
    counts = image_counts(cell, np.array([True, True, True]), 3.0)
    assert counts[1] >= 10 > counts[2]
    atoms = Atoms("C2", cell=cell, pbc=True, scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]])
    _assert_same_as_ase(atoms, 3.0)


def test_partly_periodic_slab_matches_ase():
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 2, 1))
    atoms.pbc = [True, True, False]
    atoms.cell[2, 2] = 20.0
    _assert_same_as_ase(atoms, 3.5)


def test_unwrapped_positions_give_the_same_geometry():
    atoms = bulk("MgO", "rocksalt", a=4.21) * (2, 1, 1)
    rng = np.random.default_rng(3)
    moved = atoms.copy()
    moved.positions += rng.integers(-3, 4, (len(atoms), 3)) @ atoms.cell.array  # far outside
    a = neighbour_list(atoms, 4.0)
    b = neighbour_list(moved, 4.0)
    _assert_same_as_ase(moved, 4.0)
    va = a.vectors(atoms.positions, atoms.cell.array)
    vb = b.vectors(moved.positions, moved.cell.array)
    key = lambda nl, v: sorted(  # noqa: E731
        zip(nl.centre.tolist(), nl.neighbour.tolist(), np.round(v, 8).tolist(), strict=True)
    )
    assert key(a, va) == key(b, vb)


def test_degenerate_periodic_cell_is_refused():
    atoms = Atoms("H", cell=[[1, 0, 0], [2, 0, 0], [0, 0, 1]], pbc=True)
    with pytest.raises(InvalidStructureError, match="degenerate cell"):
        neighbour_list(atoms, 2.0)


def test_batch_graph_offsets_and_vectors():
    structures = [molecule("H2O"), bulk("Si", "diamond", a=5.43), molecule("CH4")]
    g = batch_graph(structures, 3.0, ["H", "C", "O", "Si"], dtype=torch.float64)
    assert g.n_atoms.tolist() == [3, 2, 5]
    assert torch.equal(g.batch[g.centre], g.batch[g.neighbour]), "edges never cross structures"
    start = 0
    vec = g.edge_vectors()
    for k, atoms in enumerate(structures):
        mask = g.batch[g.centre] == k
        _, _, d = ase_neighbor_list("ijd", atoms, 3.0)
        ours = torch.linalg.norm(vec[mask], dim=1).numpy()
        np.testing.assert_allclose(np.sort(ours), np.sort(d), atol=1e-10)
        assert g.centre[mask].min() >= start
        start += len(atoms)


def test_unknown_element_names_structure_and_atom():
    with pytest.raises(InvalidStructureError, match=r"structure 1, atom 2.*'N'"):
        batch_graph([molecule("H2O"), Atoms("HON", positions=np.eye(3))], 3.0, ["H", "C", "O"])
