"""Sanity checks: each names the atom or field at fault; periodic images are honoured."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

from qaware.errors import InvalidStructureError
from qaware.structures import validate_structure
from qaware.structures.checks import (
    _close_pairs_dense,
    _close_pairs_sparse,
    check_cell,
    check_elements,
    check_finite,
    check_max_atoms,
    check_min_distance,
    check_not_empty,
    find_problems,
)


def test_good_structures_pass(perov, carbon):
    for atoms in [*perov, *carbon, molecule("C6H6"), bulk("Si", "diamond", a=5.43)]:
        assert find_problems(atoms) == []
        validate_structure(atoms)


def test_close_pair_is_named_with_source_row_and_atom():
    atoms = bulk("NaCl", "rocksalt", a=5.6).repeat(2)
    atoms.positions[3] = atoms.positions[4] + [0.12, 0.0, 0.0]
    with pytest.raises(InvalidStructureError) as info:
        validate_structure(atoms, source="val.csv", index=17)
    err = info.value
    assert (err.source, err.index, err.atom) == ("val.csv", 17, 3)
    assert str(err) == "val.csv, row 17, atom 3: atoms 3 and 4 are 0.12 Å apart (minimum 0.5 Å)"


def test_atoms_close_only_through_a_periodic_image_are_found():
    # 0.1 and 3.8 in a 4 Å box: 3.7 Å apart directly, 0.3 Å across the boundary
    atoms = Atoms("H2", positions=[[0.1, 1, 1], [3.8, 1, 1]], cell=[4, 4, 4], pbc=True)
    assert "0.3 Å apart" in str(check_min_distance(atoms)[0])
    atoms.pbc = False
    assert check_min_distance(atoms) == []


def test_atom_next_to_its_own_image_in_a_skewed_cell():
    # b - a = (-0.1, 0.3, 0): a lattice vector of 0.316 Å although |a| = 3 and |b| = 2.9 Å
    atoms = Atoms("C", cell=[[3, 0, 0], [2.9, 0.3, 0], [0, 0, 3]], pbc=True)
    (problem,) = check_min_distance(atoms)
    assert problem.atom == 0
    assert "own periodic image" in problem.problem
    assert "0.316" in problem.problem


def test_dense_search_agrees_with_ase_neighbour_list():
    rng = np.random.default_rng(3)
    for _ in range(15):
        n = int(rng.integers(2, 7))
        cell = np.eye(3) * rng.uniform(2.0, 4.0) + rng.normal(size=(3, 3)) * 0.7
        atoms = Atoms([6] * n, scaled_positions=rng.uniform(size=(n, 3)), cell=cell, pbc=True)
        cutoff = float(rng.uniform(0.5, 1.8))
        dense = _close_pairs_dense(atoms, cutoff)
        sparse = _close_pairs_sparse(atoms, cutoff)
        assert _pairs(dense) == _pairs(sparse)


def _pairs(found):
    i, j, d = found
    return sorted(zip(i.tolist(), j.tolist(), np.round(d, 9).tolist(), strict=True))


def test_non_finite_positions_and_cell():
    atoms = molecule("H2O")
    atoms.positions[2, 1] = np.nan
    (problem,) = check_finite(atoms)
    assert problem.atom == 2
    crystal = bulk("Cu")
    crystal.cell[0, 0] = np.inf
    assert check_finite(crystal)[0].field == "cell"


def test_unknown_element_and_empty_structure():
    atoms = Atoms(numbers=[8, 0, 1], positions=[[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    (problem,) = check_elements(atoms)
    assert problem.atom == 1
    assert "atomic number 0" in problem.problem
    assert "no atoms" in check_not_empty(Atoms())[0].problem


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        ([[4, 0, 0], [0, 4, 0], [0, 0, 0]], "no lattice vector"),
        ([[4, 0, 0], [0, 4, 0], [4, 4, 0]], "below 0.1"),
        ([[4, 0, 0], [0, 4, 0], [40, 40, 0.02]], "coplanar"),  # volume 0.32 Å^3
        ([[0.4, 0, 0], [0, 0.4, 0], [0, 0, 0.4]], "below 0.1"),
    ],
)
def test_degenerate_cells(cell, text):
    atoms = Atoms("H", cell=cell, pbc=True)
    problems = check_cell(atoms)
    assert problems
    assert text in problems[0].problem
    assert problems[0].field == "cell"


def test_molecule_needs_no_cell_and_slab_needs_only_periodic_vectors():
    assert check_cell(molecule("CH4")) == []
    slab = Atoms("H", cell=[[3, 0, 0], [0, 3, 0], [0, 0, 0]], pbc=[True, True, False])
    assert check_cell(slab) == []


def test_max_atoms():
    atoms = bulk("Cu").repeat(3)
    assert check_max_atoms(atoms, None) == []
    assert check_max_atoms(atoms, 27) == []
    assert "27 atoms, more than the limit of 10" in check_max_atoms(atoms, 10)[0].problem
