"""Track X recipe: reference phases cover every element of the chosen perovskites, the oxide
prototypes have physical bond lengths, the HSE06 subset is non-magnetic and carries its own
element references, and the first rows are the bundled perov-5 cells (their results are reused)."""

from __future__ import annotations

import shutil
from importlib.resources import files

import pytest

from qaware.datasets.recipes import track_x
from qaware.errors import ConfigError
from qaware.oracles.gpaw_periodic import DEFAULT_MAGMOMS
from qaware.structures import read_structures, structure_hash


@pytest.fixture(scope="module")
def perov_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("perov5")
    shutil.copy(files("qaware.data") / "perov5_3d_oxides.csv", folder / "val.csv")
    return folder


@pytest.fixture(scope="module")
def built(perov_dir):
    return track_x.structures(str(perov_dir), n_perovskites=40, n_hse06=6, splits=("val",))


def test_order_tags_and_reference_coverage(built, perov_dir):
    big = [a for a in built if a.info[track_x.BIG_REFERENCE]]
    assert built[len(built) - len(big) :] == big  # the big element cells come last of all
    assert {a.info["element"] for a in big} <= track_x.EXPENSIVE_REFERENCES
    assert all(a.info["tag"] == track_x.TAG_ELEMENT for a in big)
    built = built[: len(built) - len(big)]
    tags = [a.info["tag"] for a in built]
    n_el, n_ox = tags.count(track_x.TAG_ELEMENT), tags.count(track_x.TAG_OXIDE)
    assert tags[:n_el] == [track_x.TAG_ELEMENT] * n_el  # references, then oxides, then cells
    assert tags[n_el : n_el + n_ox] == [track_x.TAG_OXIDE] * n_ox
    cells = built[n_el + n_ox :]
    assert len(cells) == 40 and all(t.startswith("X3=") for t in tags[n_el + n_ox :])
    elements = {el for a in cells for el in a.get_chemical_symbols()}
    refs = built[:n_el] + big
    assert {a.info["element"] for a in refs} == elements
    assert all(set(a.get_chemical_symbols()) == {a.info["element"]} for a in refs)
    assert [len(a) for a in refs[:n_el]] == sorted(len(a) for a in refs[:n_el])  # small first
    for ox in built[n_el : n_el + n_ox]:  # only oxides of elements that occur
        assert set(ox.get_chemical_symbols()) <= elements
    bundled = read_structures(perov_dir / "val.csv").atoms[:40]
    assert [structure_hash(a) for a in cells] == [structure_hash(a) for a in bundled]


def test_hse06_subset_is_non_magnetic_with_its_references(built):
    magnetic = {el for el, _ in DEFAULT_MAGMOMS} | track_x.EXPENSIVE_REFERENCES
    flagged = [a for a in built if a.info["hse06"] and a.info["tag"].startswith("X3=")]
    assert len(flagged) == 6
    assert all(not set(a.get_chemical_symbols()) & magnetic for a in flagged)
    need = {el for a in flagged for el in a.get_chemical_symbols()}
    refs = {a.info["element"] for a in built if a.info["tag"] == track_x.TAG_ELEMENT
            and a.info["hse06"]}  # fmt: skip
    assert refs == need
    oxides = [a for a in built if a.info["tag"] == track_x.TAG_OXIDE]
    at_hse06 = {a.get_chemical_formula() for a in oxides if a.info["hse06"]}
    want = {a.get_chemical_formula() for a in oxides
            if set(a.get_chemical_symbols()) - {"O"} <= need - magnetic}  # fmt: skip
    assert at_hse06 == want and at_hse06  # the hull's competing phases, computed at HSE06 too


@pytest.mark.parametrize("formula", list(track_x.OXIDES))
def test_oxide_prototypes_have_physical_bond_lengths(formula):
    atoms = track_x.oxide(formula)
    assert atoms.pbc.all() and len(atoms) <= 10
    metal_o, o_o = track_x.shortest_distances(atoms)
    # shortest cation-O bonds of oxides: 1.6 (Be-O 1.65) to 3.0 Å (Rb-O 2.92); O-O >= 2.4 Å
    assert 1.6 < metal_o < 3.0, (formula, metal_o)
    assert o_o > 2.4, (formula, o_o)


def test_too_few_rows_and_unknown_oxide_are_config_errors(perov_dir):
    with pytest.raises(ConfigError, match="240 3d-metal oxide rows"):
        track_x.structures(str(perov_dir), n_perovskites=241, splits=("val",))
    with pytest.raises(ConfigError, match="no structure for oxide 'XO'"):
        track_x.oxide("XO")
