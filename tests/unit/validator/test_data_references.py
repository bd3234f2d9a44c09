"""qaware.validator.data_references: references from a data set's own frames, and the frames a
validator with those references can serve."""

from __future__ import annotations

import pytest
from ase import Atoms

from qaware.errors import ConfigError
from qaware.thermo.references import ElementalReferences
from qaware.validator.data_references import frames_with_references, references_from_frames


def _cell(symbols: str, energy: float, tag: str = "ref:element") -> Atoms:
    atoms = Atoms(symbols, positions=[[0, 0, i * 2.0] for i in range(len(Atoms(symbols)))])
    atoms.info.update(tag=tag, energy_PBE=energy, status_PBE="ok", settings_hash_PBE="h")
    return atoms


def test_mu_is_the_energy_per_atom_of_each_tagged_cell():
    frames = [_cell("O2", -9.0), _cell("Ti2", -15.0), _cell("TiO2", -26.0, tag="X3=O3")]
    refs = references_from_frames(frames, ["PBE"], ["ref:element"])["PBE"]
    assert refs.level == "PBE" and refs.mu == pytest.approx({"O": -4.5, "Ti": -7.5})


def test_a_level_without_tagged_cells_is_named():
    with pytest.raises(ConfigError, match="no single-element frame with an ok 'PBE'"):
        references_from_frames([_cell("TiO2", -26.0, tag="X3=O3")], ["PBE"], ["ref:element"])


def test_frames_with_an_unreferenced_element_are_left_out_and_named():
    low = ElementalReferences("PBE", "h", {"O": -4.5, "Ti": -7.5, "Sr": -1.6})
    top = ElementalReferences("HSE06", "h", {"O": -6.0, "Ti": -9.0})
    frames = [Atoms("TiO2"), Atoms("SrTiO3"), Atoms("MnO")]
    kept, missing = frames_with_references(frames, {"PBE": low, "HSE06": top})
    assert [a.get_chemical_formula() for a in kept] == ["O2Ti"]
    assert missing == {"Mn": ["PBE", "HSE06"], "Sr": ["HSE06"]}
