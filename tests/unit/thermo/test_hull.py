"""Convex hull per fidelity: E_hull against hand-computed values, growth, record, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.errors import ConfigError
from qaware.thermo.hull import FidelityHull, HullEntry, is_hit
from qaware.thermo.references import compute_references


def entry(name, comp, e, level="PBE", settings="h1"):
    return HullEntry(name, comp, e, level, settings)


@pytest.fixture
def hull():
    # A = Cu, B = Au: AB at -0.5 eV/atom is on the hull; A2B at -0.2 is above it.
    return FidelityHull(
        (entry("AB", {"Cu": 1, "Au": 1}, -0.5), entry("A2B", {"Cu": 2, "Au": 1}, -0.2)),
        level="PBE",
        settings_hash="h1",
    )


def test_hand_made_binary(hull):
    # at x_Au = 1/3 the hull is the line A(0, 0) - AB(1/2, -0.5): -1/3; A2B: -0.2 + 1/3 = 2/15
    assert hull.entry_e_above_hull("A2B") == pytest.approx(2 / 15, abs=1e-10)
    assert hull.entry_e_above_hull("AB") == pytest.approx(0.0, abs=1e-10)
    assert set(hull.stable_ids) == {"AB", "ref:Cu", "ref:Au"}
    assert hull.hull_energy_per_atom("Cu2Au") == pytest.approx(-1 / 3)
    assert hull.e_above_hull({"Cu": 4, "Au": 2}, -0.2) == pytest.approx(2 / 15)  # any multiple


def test_candidates_below_and_on_the_hull(hull):
    # Cu3Au at -0.3: the hull at x = 1/4 is -0.25, so 0.05 below it
    below = hull.e_above_hull("Cu3Au", -0.3)
    assert below == pytest.approx(-0.05)
    assert is_hit(below)
    assert hull.e_above_hull({"Au": 1}, 0.0) == pytest.approx(0.0)
    assert is_hit(hull.e_above_hull({"Au": 1}, 0.0))
    assert not is_hit(hull.e_above_hull("Cu2Au", -0.2))
    assert is_hit(hull.e_above_hull("Cu2Au", -0.2), threshold=0.15)


def test_add_builds_a_new_hull_with_the_candidates(hull):
    grown = hull.add([entry("A3B", {"Cu": 3, "Au": 1}, -0.3)])
    assert hull.entry_e_above_hull("A2B") == pytest.approx(2 / 15)  # the old hull is unchanged
    # new hull at x = 1/3 lies on A3B(1/4, -0.3) - AB(1/2, -0.5): -0.3 - 0.2/3
    assert grown.entry_e_above_hull("A2B") == pytest.approx(-0.2 + 0.3 + 0.2 / 3)
    assert "A3B" in grown.stable_ids
    assert [e.id for e in grown.entries].count("ref:Cu") == 1
    with pytest.raises(ConfigError, match="duplicate"):
        grown.add([entry("AB", {"Cu": 1, "Au": 1}, -0.6)])


def test_json_round_trip_keeps_every_entry_and_answer(hull):
    back = FidelityHull.from_json(hull.to_json())
    assert back.entries == hull.entries
    assert (back.level, back.settings_hash, back.pymatgen_version) == (
        hull.level,
        hull.settings_hash,
        hull.pymatgen_version,
    )
    assert back.pymatgen_version
    for comp, e in [("Cu3Au", -0.3), ("CuAu3", 0.1), ("Cu2Au", -0.2)]:
        assert back.e_above_hull(comp, e) == hull.e_above_hull(comp, e)
    with pytest.raises(ConfigError, match="schema"):
        FidelityHull.from_dict({**hull.to_dict(), "schema": "other"})


def test_mixing_levels_or_settings_is_refused(hull):
    with pytest.raises(ConfigError, match="never mixed"):
        FidelityHull((entry("AB", {"Cu": 1, "Au": 1}, -0.5, level="r2SCAN"),), "PBE", "h1")
    with pytest.raises(ConfigError, match="never mixed"):
        hull.add([entry("X", {"Cu": 1, "Au": 3}, -0.1, settings="h2")])
    with pytest.raises(ConfigError, match="r2SCAN"):
        hull.e_above_hull("CuAu", -0.6, level="r2SCAN")
    with pytest.raises(ConfigError, match=r"\['O'\]"):
        hull.e_above_hull("CuO", -0.6)


def test_is_hit_on_arrays_and_edge_cases():
    e = np.array([-0.1, 0.0, 1e-12, 0.02, np.nan])
    assert is_hit(e).tolist() == [True, True, True, False, False]
    assert is_hit(e, threshold=0.025).tolist() == [True, True, True, True, False]
    assert is_hit(float("nan")) is False


def test_emt_hull_end_to_end(emt):
    from ase.build import bulk

    refs = compute_references(emt, ["Cu", "Au"], kind="periodic")
    l12 = bulk("Cu", "fcc", a=3.75, cubic=True)
    l12[0].symbol = "Au"
    e = HullEntry.from_result("Cu3Au-L12", emt.compute(l12), {"Cu": 3, "Au": 1}, refs)
    hull = FidelityHull((e,), level=emt.level, settings_hash=emt.settings_hash())
    assert e.e_form_per_atom < 0
    assert "Cu3Au-L12" in hull.stable_ids
