"""Hull distances per chemical system, novelty and uniqueness (hand-made cases)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.campaign.analysis import KnownStructures, hull_entries_e_above, is_unique, matches
from qaware.thermo.hull import HullEntry


def _entry(i: str, comp: dict, e: float) -> HullEntry:
    return HullEntry(i, comp, e, "L", "h")


def test_e_above_hull_uses_only_the_candidates_own_system():
    entries = [_entry("AB", {"Cu": 1, "Au": 1}, -0.2), _entry("NiAl", {"Ni": 1, "Al": 1}, -0.6)]
    cu3au = Atoms("Cu3Au", positions=np.zeros((4, 3)))
    nial = Atoms("NiAl", positions=np.zeros((2, 3)))
    zn = Atoms("CuZn", positions=np.zeros((2, 3)))  # a system nothing else is in: refs only
    out = hull_entries_e_above(entries, [cu3au, nial, zn], np.array([-0.2, -0.5, -0.1]), "L", "h")
    # Cu3Au: hull at x_Au = 1/4 is half-way from Cu (0) to CuAu (-0.2) = -0.1
    assert out[0] == pytest.approx(-0.1)
    assert out[1] == pytest.approx(0.1)  # 0.1 above NiAl
    assert out[2] == pytest.approx(-0.1)  # below the elements


def test_matches_novelty_and_uniqueness():
    cu = bulk("Cu", "fcc", a=3.61)
    cu_super = cu.repeat((2, 1, 1))
    cu_super.positions += 0.01
    al = bulk("Al", "fcc", a=4.05)
    assert matches(cu, cu_super)
    assert not matches(cu, al)
    known = KnownStructures()
    known.extend([cu])
    assert len(known) == 1
    assert not known.is_novel(cu_super)
    assert known.is_novel(al)
    assert is_unique(al, [cu]) and not is_unique(cu_super, [al, cu])
    h2o = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    moved = h2o.copy()
    moved.translate([1.0, 2.0, 3.0])
    assert matches(h2o, moved)  # molecules compare by their distances
    bent = h2o.copy()
    bent.positions[2] = [0.0, 1.2, 0.0]
    assert not matches(h2o, bent)
