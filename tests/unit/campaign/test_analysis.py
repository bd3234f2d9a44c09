"""Hull distances per chemical system (hand-made cases)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from qaware.campaign.analysis import hull_entries_e_above
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
