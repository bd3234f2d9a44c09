"""Reading an export back: .extxyz and .extxyz.gz, level keys, and formation energies referenced
to each level's own element frames (the numbers are checked by hand)."""

from __future__ import annotations

import gzip

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.datasets import (
    dataset_file,
    elemental_references,
    formation_energies,
    level_keys,
    read_dataset,
)
from qaware.errors import ConfigError


def frame(atoms: Atoms, tag: str, **levels: float | None) -> Atoms:
    atoms.info["tag"] = tag
    for key, energy in levels.items():
        atoms.info[f"status_{key}"] = "failed" if energy is None else "ok"
        atoms.info[f"settings_hash_{key}"] = f"hash-{key}"
        if energy is not None:
            atoms.info[f"energy_{key}"] = energy
    return atoms


@pytest.fixture
def frames() -> list[Atoms]:
    mg = bulk("Mg", "hcp", a=3.21, c=5.21)  # 2 atoms: μ = E / 2
    o2 = Atoms("O2", positions=[[5, 5, 5], [5, 5, 6.2]], cell=[10, 10, 10], pbc=True)
    mgo = bulk("MgO", "rocksalt", a=4.21)
    mgo2 = mgo.repeat((1, 1, 2))
    return [
        frame(mg, "ref:element", A=-3.0, B=-4.0),
        frame(o2, "ref:element", A=-10.0, B=None),
        frame(mgo, "X3", A=-12.0, B=-13.0),
        frame(mgo2, "X3", A=-24.5),
    ]


def test_formation_energies_use_each_levels_own_references(frames, tmp_path):
    path = tmp_path / "d.extxyz.gz"
    with gzip.open(path, "wt") as f:
        ase.io.write(f, frames, format="extxyz")
    assert dataset_file(tmp_path, "d") == path
    back = read_dataset(path)
    assert level_keys(back) == ["A", "B"]
    refs = elemental_references(back, "A", ["ref:element"])
    assert refs.mu == {"Mg": -1.5, "O": -5.0}
    e_a = formation_energies(back, "A", refs)
    # MgO: (-12 - (-1.5) - (-5)) / 2 = -2.75; Mg2O2: (-24.5 + 13) / 4 = -2.875; refs are 0
    np.testing.assert_allclose(e_a, [0.0, 0.0, -2.75, -2.875])
    e_b = formation_energies(back, "B", elemental_references(back, "B", ["ref:element"]))
    assert np.isnan(e_b).tolist() == [False, True, True, True]  # no O reference at B


def test_ambiguous_references_and_files_are_refused(frames, tmp_path):
    frames.append(frame(bulk("Mg", "fcc", a=4.5), "ref:element", A=-1.0))
    with pytest.raises(ConfigError, match="two reference frames for Mg"):
        elemental_references(frames, "A", ["ref:element"])
    frames[2].info["settings_hash_A"] = "other"
    with pytest.raises(ConfigError, match="2 settings hashes"):
        elemental_references(frames[1:], "A", ["ref:element"])
    with pytest.raises(ConfigError, match="neither"):
        dataset_file(tmp_path, "missing")
