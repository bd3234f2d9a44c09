"""read_extxyz_file: the frames ase.io.read gives, from plain and compressed files."""

from __future__ import annotations

import bz2
import gzip

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from qaware.structures.extxyz import read_extxyz_file


def _frames() -> list[Atoms]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(7):
        atoms = Atoms("SrTiO3", scaled_positions=rng.random((5, 3)), cell=np.eye(3) * 3.9, pbc=True)
        atoms.info.update(tag=f"X3=O{k}", energy_PBE=-40.0 - k, status_PBE="ok", index=k)
        atoms.arrays["forces_PBE"] = rng.normal(size=(5, 3))
        if k % 2:
            atoms.calc = SinglePointCalculator(
                atoms, energy=-1.5 * k, forces=rng.normal(size=(5, 3))
            )
        out.append(atoms)
    return out


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2"])
def test_same_frames_as_ase_from_plain_and_compressed_files(tmp_path, suffix):
    plain = tmp_path / "set.extxyz"
    ase.io.write(plain, _frames(), format="extxyz")
    path = tmp_path / f"set.extxyz{suffix}"
    if suffix:
        opener = {".gz": gzip.open, ".bz2": bz2.open}[suffix]
        with opener(path, "wb") as out:
            out.write(plain.read_bytes())
    ours, theirs = read_extxyz_file(path), ase.io.read(path, index=":", format="extxyz")
    assert len(ours) == len(theirs) == 7
    for a, b in zip(ours, theirs, strict=True):
        assert a == b  # numbers, positions, cell, pbc
        assert a.info == b.info
        assert a.arrays.keys() == b.arrays.keys()
        for key in a.arrays:
            np.testing.assert_array_equal(a.arrays[key], b.arrays[key])
        assert (a.calc is None) == (b.calc is None)
        if a.calc is not None:
            assert a.get_potential_energy() == b.get_potential_energy()
            np.testing.assert_array_equal(a.get_forces(), b.get_forces())


def test_a_truncated_frame_raises_ases_error(tmp_path):
    from ase.io.extxyz import XYZError

    path = tmp_path / "bad.extxyz"
    path.write_text('2\nPBC="T T T"\nSr 0 0 0\n')  # declares 2 atoms, holds 1
    with pytest.raises(XYZError, match="expected 2"):
        read_extxyz_file(path)
