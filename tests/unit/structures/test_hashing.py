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


@pytest.mark.parametrize(
    ("atoms", "order"),
    [
        (bulk("Cu", "fcc", a=3.6), 48),
        (bulk("Fe", "bcc", a=2.87), 48),
        (bulk("Po", "sc", a=3.35), 48),
        (bulk("Mg", "hcp", a=3.21, c=5.21), 24),
        (bulk("In", "bct", a=3.25, c=4.95), 16),
        (bulk("Cu", "orthorhombic", a=3.0, b=4.0, c=5.0), 8),
        (Atoms("C", cell=[[3, 0, 0], [0, 4, 0], [1.1, 0, 5]], pbc=True), 4),  # monoclinic
        (Atoms("C", cell=[[3, 0, 0], [0.7, 4, 0], [1.1, 0.4, 5]], pbc=True), 2),  # triclinic
    ],
)
def test_lattice_automorphisms_are_the_holohedry(atoms, order):
    # the point group of the lattice has 48, 24, 16, 8, 4 or 2 operations by crystal family
    from qaware.structures.hashing import _lattice_automorphisms, _primitive_reduced

    lattice, _, _ = _primitive_reduced(atoms, 1e-3)
    mats = _lattice_automorphisms(lattice)
    assert len(mats) == order
    G = lattice @ lattice.T
    for M in mats:
        np.testing.assert_allclose(M @ G @ M.T, G, atol=1e-8)
    assert len({m.tobytes() for m in mats}) == order


def test_large_low_symmetry_cell_is_canonical_and_fast(monkeypatch):
    import qaware.structures.hashing as hashing

    rng = np.random.default_rng(4)
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((4, 4, 4))  # 256 atoms
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)  # P1 after this
    start = time.perf_counter()
    h = structure_hash(atoms)
    assert time.perf_counter() - start < 5.0  # ~0.05 s; all 256 origins × 48 would be ~1 s
    other = rotated(atoms, 3)[rng.permutation(len(atoms))]
    other.translate([1.0, -2.0, 0.5])
    assert structure_hash(other) == h
    monkeypatch.setattr(hashing, "_MAX_CANDIDATE_ENTRIES", 1000)  # many small chunks
    assert structure_hash(other) == h


def test_overlapping_atoms_still_hash_deterministically():
    # spglib gives up on atoms at one site; the Niggli fall-back still gives a stable key
    atoms = Atoms("H2O", positions=[[0, 0, 0], [0, 0, 0], [1, 1, 1]], cell=[3, 3, 4], pbc=True)
    assert structure_hash(rotated(atoms, 2)[[2, 1, 0]]) == structure_hash(atoms)


def test_non_finite_structures_have_no_hash():
    atoms = molecule("H2O")
    atoms.positions[0, 0] = np.nan
    with pytest.raises(InvalidStructureError, match="NaN"):
        structure_hash(atoms)


def test_molecule_hash_includes_the_electronic_state_when_given():
    """Two spin states of one geometry are two systems: they must not share a cache key."""
    from ase import Atoms

    feo = Atoms("FeO", positions=[[0, 0, 0], [0, 0, 1.62]])
    plain = structure_hash(feo)
    quintet, septet = feo.copy(), feo.copy()
    quintet.info["multiplicity"], septet.info["multiplicity"] = 5, 7
    assert len({plain, structure_hash(quintet), structure_hash(septet)}) == 3
    cation = quintet.copy()
    cation.info["charge"] = 1
    assert structure_hash(cation) != structure_hash(quintet)
    moved = quintet.copy()
    moved.rotate(40, "x")
    moved.info.update(quintet.info)
    assert structure_hash(moved) == structure_hash(quintet), "state keys keep the invariances"
