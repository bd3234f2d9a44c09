"""Round trips through every format keep species, order, cell, positions and properties."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator
from pymatgen.core import Molecule, Structure

from qaware.errors import InvalidStructureError
from qaware.structures import (
    StructureBatch,
    from_pymatgen,
    read_structures,
    structure_hash,
    to_pymatgen,
    write_structures,
)

from .conftest import STRUCTURES


def assert_same_structure(a: Atoms, b: Atoms, tol: float = 1e-6) -> None:
    assert a.get_chemical_symbols() == b.get_chemical_symbols()
    assert np.array_equal(a.pbc, b.pbc)
    if a.pbc.any():
        np.testing.assert_allclose(a.cell.cellpar(), b.cell.cellpar(), atol=tol)
        d = a.get_scaled_positions(wrap=False) - b.get_scaled_positions(wrap=False)
        np.testing.assert_allclose(d - np.rint(d), 0.0, atol=tol)
        np.testing.assert_allclose(a.cell.volume, b.cell.volume, rtol=tol)
    else:
        np.testing.assert_allclose(a.positions, b.positions, atol=tol)


def test_csv_reader_fills_info_and_keeps_file_atom_order(perov, carbon):
    first = perov[0]
    assert first.info["source"].endswith("perov_5_val_20.csv")
    assert first.info["index"] == 0
    assert first.info["material_id"] == "18517"  # identifiers stay strings
    assert first.info["csv_index"] == 5168
    assert first.info["heat_ref"] == pytest.approx(2.709152583232041)
    assert first.info["formula"] == "CuCdN3"
    # the CIF lists Cu0, Cd1, N2, N3, N4 and pymatgen groups by species: file order is restored
    assert first.get_chemical_symbols() == ["Cu", "Cd", "N", "N", "N"]
    np.testing.assert_allclose(first.get_scaled_positions()[0], [0.00159044, 0, 0], atol=1e-8)
    assert carbon[3].info["energy_per_atom"] < 0
    assert [a.info["index"] for a in carbon] == list(range(20))


@pytest.mark.parametrize("suffix", [".csv", ".cif", ".extxyz", ".xyz"])
def test_round_trip_through_each_format(suffix, perov, carbon, tmp_path):
    structures = perov + carbon
    path = tmp_path / f"out{suffix}"
    write_structures(structures, path)
    back = read_structures(path)
    assert len(back) == len(structures)
    assert back.skipped == []
    for a, b in zip(structures, back, strict=True):
        assert_same_structure(a, b)
        assert structure_hash(a) == structure_hash(b)
        assert b.info["source"] == str(path)
    if suffix != ".cif":  # CIF holds no free-form properties
        for a, b in zip(structures, back, strict=True):
            for key in ("material_id", "heat_ref", "energy_per_atom", "csv_index"):
                if key in a.info:
                    assert b.info[key] == a.info[key], key


def test_csv_written_like_cdvae(perov, tmp_path):
    path = tmp_path / "perov.csv"
    write_structures(perov[:3], path)
    header = path.read_text().splitlines()[0]
    assert header.startswith(",material_id,cif,")
    for column in ("formula", "heat_all", "heat_ref", "dir_gap", "ind_gap"):
        assert column in header
    assert "source" not in header.split(",")


def test_extxyz_keeps_info_arrays_and_calculator_results(tmp_path):
    rng = np.random.default_rng(0)
    water = molecule("H2O")
    water.info.update({"charge": 0, "tag": "w1", "e_ref": -14.2})
    water.set_array("weights", rng.uniform(size=3))
    crystal = Atoms("NaCl", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=[4, 4, 4], pbc=True)
    forces = rng.normal(size=(2, 3))
    crystal.calc = SinglePointCalculator(crystal, energy=-7.5, forces=forces)
    path = tmp_path / "mixed.extxyz"
    write_structures([water, crystal], path)
    back = read_structures(path)
    assert_same_structure(water, back[0])
    assert back[0].info["tag"] == "w1"
    assert back[0].info["e_ref"] == -14.2
    np.testing.assert_allclose(back[0].arrays["weights"], water.arrays["weights"])
    assert not back[0].pbc.any()
    assert back[1].get_potential_energy() == pytest.approx(-7.5)
    np.testing.assert_allclose(back[1].get_forces(), forces)


def test_files_are_readable_by_ase_and_ase_files_by_qaware(perov, tmp_path):
    ours = tmp_path / "ours.extxyz"
    write_structures(perov[:4], ours)
    for a, b in zip(perov[:4], ase.io.read(ours, index=":"), strict=True):
        assert_same_structure(a, b)
    theirs = tmp_path / "theirs.cif"
    ase.io.write(theirs, perov[:4], format="cif")
    for a, b in zip(perov[:4], read_structures(theirs), strict=True):
        assert_same_structure(a, b, tol=1e-5)


def test_pymatgen_round_trip(perov, carbon):
    for atoms in perov + carbon:
        structure = to_pymatgen(atoms)
        assert isinstance(structure, Structure)
        assert structure.properties["index"] == atoms.info["index"]
        back = from_pymatgen(structure)
        assert_same_structure(atoms, back, tol=1e-10)
        assert back.info == atoms.info
    water = molecule("H2O")
    water.info["name"] = "water"
    water.set_array("forces", np.arange(9.0).reshape(3, 3))
    mol = to_pymatgen(water)
    assert isinstance(mol, Molecule)
    back = from_pymatgen(mol)
    assert_same_structure(water, back, tol=1e-12)
    assert back.info["name"] == "water"
    np.testing.assert_array_equal(back.arrays["forces"], water.arrays["forces"])


def test_from_pymatgen_refuses_disorder():
    from pymatgen.core import Lattice

    alloy = Structure(Lattice.cubic(3.6), [{"Cu": 0.5, "Au": 0.5}], [[0, 0, 0]])
    with pytest.raises(InvalidStructureError, match="partially occupied"):
        from_pymatgen(alloy)


def test_batch_behaves_like_a_sequence(perov):
    batch = read_structures(STRUCTURES / "perov_5_val_20.csv")
    assert isinstance(batch, StructureBatch)
    assert len(batch) == 20
    assert batch[-1] is batch.atoms[-1]
    assert len(batch[2:5]) == 3
    assert [a.info["index"] for a in batch] == list(range(20))
    assert batch.source.endswith("perov_5_val_20.csv")


def test_format_override_and_limits(tmp_path, perov):
    path = tmp_path / "structures.txt"
    write_structures(perov[:2], path, format="extxyz")
    assert len(read_structures(path, format="extxyz")) == 2
    with pytest.raises(InvalidStructureError, match="unknown format 'pdb'"):
        read_structures(path, format="pdb")
    with pytest.raises(InvalidStructureError, match="5 atoms, more than the limit of 4"):
        read_structures(path, format="extxyz", max_atoms=4)


@pytest.mark.parametrize("suffix", [".cif", ".csv"])
def test_molecule_cannot_be_written_as_cif_text(suffix, perov, tmp_path):
    path = tmp_path / f"out{suffix}"
    with pytest.raises(InvalidStructureError) as info:
        write_structures([perov[0], molecule("H2O")], path)
    assert (info.value.source, info.value.index, info.value.field) == (str(path), 1, "pbc")
    assert "write molecules to extxyz" in str(info.value)


def test_importing_structures_loads_no_heavy_backend():
    import subprocess
    import sys

    code = (
        "import sys, qaware, qaware.structures; "
        "heavy = [m for m in ('pymatgen', 'spglib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
