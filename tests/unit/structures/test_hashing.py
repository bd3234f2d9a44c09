"""structure_hash: one crystal written many ways gives one hash; a different crystal does not."""

from __future__ import annotations

import time

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, make_supercell, molecule
from scipy.spatial.transform import Rotation

from qaware.errors import InvalidStructureError
from qaware.structures import composition_key, structure_hash


def rotated(atoms: Atoms, seed: int) -> Atoms:
    out = atoms.copy()
    R = Rotation.random(random_state=seed).as_matrix()
    out.set_cell(out.cell[:] @ R.T, scale_atoms=True)
    return out


def translated(atoms: Atoms, shift) -> Atoms:
    out = atoms.copy()
    out.translate(shift)  # leaves atoms outside the cell (unwrapped)
    return out


def variants(atoms: Atoms) -> dict[str, Atoms]:
    rng = np.random.default_rng(7)
    wrapped = translated(atoms, rng.normal(size=3) * 5)
    wrapped.wrap()
    return {
        "rotated": rotated(atoms, 1),
        "translated (unwrapped)": translated(atoms, rng.normal(size=3) * 5),
        "translated and wrapped": wrapped,
        "permuted": atoms[rng.permutation(len(atoms))],
        "supercell 2x1x1": atoms.repeat((2, 1, 1)),
        "supercell 2x2x2": atoms.repeat((2, 2, 2)),
        "other cell choice": make_supercell(atoms, [[1, 1, 0], [0, 1, 0], [0, 0, -1]]),
        "all at once": rotated(translated(atoms.repeat((1, 2, 1)), [0.3, -7.0, 2.2]), 5)[
            rng.permutation(2 * len(atoms))
        ],
    }


@pytest.mark.parametrize("dataset", ["perov", "carbon"])
def test_same_crystal_written_differently_has_one_hash(dataset, request):
    for k, atoms in enumerate(request.getfixturevalue(dataset)):
        h = structure_hash(atoms)
        for name, other in variants(atoms).items():
            assert structure_hash(other) == h, f"{dataset}[{k}] {name}"


@pytest.mark.parametrize("dataset", ["perov", "carbon"])
def test_different_crystals_have_different_hashes(dataset, request):
    structures = request.getfixturevalue(dataset)
    hashes = [structure_hash(a) for a in structures]
    assert len(set(hashes)) == len(structures)
    for atoms, h in zip(structures, hashes, strict=True):
        moved = atoms.copy()
        moved.positions[1] += [0.05, 0.0, 0.0]  # 0.05 Å: a different structure
        assert structure_hash(moved) != h
        swapped = atoms.copy()
        swapped.numbers[0] = 3 if swapped.numbers[0] != 3 else 4  # another element
        assert structure_hash(swapped) != h
        strained = atoms.copy()
        strained.set_cell(atoms.cell[:] * 1.01, scale_atoms=True)
        assert structure_hash(strained) != h


def test_primitive_and_conventional_cells_hash_alike():
    assert structure_hash(bulk("Cu", "fcc", a=3.6)) == structure_hash(
        bulk("Cu", "fcc", a=3.6, cubic=True)
    )
    assert structure_hash(bulk("Si", "diamond", a=5.43)) == structure_hash(
        bulk("Si", "diamond", a=5.43, cubic=True)
    )
    assert structure_hash(bulk("Cu", "fcc", a=3.6)) != structure_hash(bulk("Cu", "bcc", a=3.6))


def test_exact_symmetry_and_rounding_edges_do_not_split_hashes():
    # coordinates on a 1e-4 grid: differences land on 0.0005 steps, the edges of plain rounding
    atoms = Atoms(
        "C4",
        scaled_positions=[[0, 0, 0], [0.1005, 0.2335, 0.4115], [0.5, 0.5, 0.5], [0.7775, 0.1, 0.9]],
        cell=[[2.5, 0, 0], [0.3, 3.1, 0], [0.2, 0.4, 4.0]],
        pbc=True,
    )
    h = structure_hash(atoms)
    for seed in range(10):
        assert structure_hash(rotated(atoms, seed)[[3, 1, 0, 2]]) == h


def test_molecules_hash_by_geometry_not_orientation():
    water = molecule("H2O")
    h = structure_hash(water)
    turned = water.copy()
    turned.rotate(73, "x")
    turned.rotate(-20, (1, 1, 0))
    turned.translate([4.0, -2.0, 1.0])
    assert structure_hash(turned[[2, 0, 1]]) == h
    bent = water.copy()
    bent.positions[1] += [0.0, 0.05, 0.0]
    assert structure_hash(bent) != h
    assert structure_hash(molecule("CH4")) != structure_hash(molecule("NH3"))
    # a molecule and the same atoms in a periodic box are different things
    boxed = water.copy()
    boxed.set_cell([10, 10, 10])
    boxed.pbc = True
    assert structure_hash(boxed) != h


def test_mixed_periodicity_is_refused():
    slab = bulk("Cu", "fcc", a=3.6)
    slab.pbc = [True, True, False]
    with pytest.raises(InvalidStructureError, match="mixed periodic"):
        structure_hash(slab)


def test_hash_is_fast_for_a_small_cell(perov):
    atoms = perov[0]
    structure_hash(atoms)
    start = time.perf_counter()
    for _ in range(50):
        structure_hash(atoms)
    per_call = (time.perf_counter() - start) / 50
    assert per_call < 0.02  # about 2.5 ms on one idle core; generous for a loaded machine


def test_composition_key_is_reduced_and_alphabetical():
    assert composition_key(bulk("NaCl", "rocksalt", a=5.6).repeat(2)) == "ClNa"
    sto = Atoms("SrTiO3", cell=[4, 4, 4], pbc=True)
    assert composition_key(sto) == "O3SrTi"
    assert composition_key(sto.repeat((2, 1, 1))) == "O3SrTi"
    assert composition_key(Atoms("Fe2O3")) == "Fe2O3"
    assert composition_key(Atoms()) == ""
