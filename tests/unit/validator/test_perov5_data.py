"""The perov-5 stand-in recipe (sites, anion families, reference crystals) and its data set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from qaware.datasets.recipes.perov5 import anion_set, reference_overrides, site_labels

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "data" / "perov_standin"


def _perovskite(a_el: str, b_el: str, anions: str = "OOO", a: float = 3.9) -> Atoms:
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Atoms([a_el, b_el, *anions], scaled_positions=frac, cell=np.eye(3) * a, pbc=True)


def test_b_site_is_the_octahedral_cation_whatever_the_atom_order():
    cell = _perovskite("Sr", "Ti")
    assert site_labels(cell) == ("Sr", "Ti")
    flipped = cell[[1, 0, 2, 3, 4]]  # Ti listed first
    assert site_labels(flipped) == ("Sr", "Ti")
    # shift the origin to Ti: the A site is still the 12-fold one
    moved = cell.copy()
    moved.positions -= moved.positions[1]
    moved.wrap()
    assert site_labels(moved) == ("Sr", "Ti")


def test_anion_set_names_counts_in_fixed_order():
    assert anion_set(_perovskite("La", "Fe")) == "O3"
    assert anion_set(_perovskite("La", "Fe", "NOF")) == "ONF"
    assert anion_set(_perovskite("La", "Fe", "NON")) == "ON2"


def test_reference_crystals_have_experimental_volumes_and_bond_lengths():
    refs = reference_overrides()
    volume = {el: a.get_volume() / len(a) for el, (a, _) in refs.items()}
    # Å^3/atom from experimental densities (room temperature; Hg at 227 K)
    expected = {"Mn": 12.2, "Ga": 19.6, "In": 26.2, "Tl": 28.6, "Te": 34.0, "B": 7.3,
                "As": 21.5, "Sb": 30.2, "Bi": 35.4, "Hg": 23.4}  # fmt: skip
    for el, v in expected.items():
        assert volume[el] == pytest.approx(v, rel=0.03), el
    mn = refs["Mn"][0]
    assert len(mn) == 29 and set(mn.get_chemical_symbols()) == {"Mn"}
    s8 = refs["S"][0]
    d = s8.get_all_distances(mic=True)
    np.fill_diagonal(d, np.inf)
    assert np.allclose(np.sort(d, axis=1)[:, :2], 2.05, atol=1e-6)  # each S has two S-S bonds
    assert s8.get_angle(0, 1, 2, mic=True) == pytest.approx(108.0, abs=1e-6)


def test_data_set_labels_every_structure_at_both_levels_with_covered_references(
    perov_standin_frames,
):
    frames = perov_standin_frames
    assert len(frames) == 2235
    keys = ("GGA_plus_U_at_SevenNet_MF_0", "r2SCAN_at_SevenNet_MF_0")
    for atoms in frames:
        for k in keys:
            assert np.isfinite(atoms.info[f"energy_{k}"])
            assert atoms.arrays[f"forces_{k}"].shape == (5, 3)
    assert len({a.info["tag"] for a in frames}) == 6
    refs = json.loads((DATA / "references.json").read_text())
    elements = {s for a in frames for s in a.get_chemical_symbols()}
    for level in ("GGA+U@SevenNet-MF-0", "r2SCAN@SevenNet-MF-0"):
        assert elements <= set(refs[level]["mu_ev_per_atom"]), level
