"""Elemental references: structures, the oracle call path, failures, and the JSON record."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from qaware.errors import ConfigError, OracleError
from qaware.oracles.result import OracleResult
from qaware.thermo.references import (
    ATOM_SPIN,
    PERIODIC_CRYSTALS,
    ElementalReferences,
    compute_references,
    reference_structure,
)


def test_periodic_references_are_emt_energies_per_atom_of_the_documented_structures(emt):
    refs = compute_references(emt, ["Cu", "Au", "O"], kind="periodic")
    assert (refs.level, refs.settings_hash) == ("EMT", emt.settings_hash())
    cu = bulk("Cu", "fcc", a=3.61)
    assert refs["Cu"] == pytest.approx(emt.compute(cu).energy / len(cu), abs=1e-12)
    assert "fcc Cu" in refs.description["Cu"]
    assert "1/2 O2 triplet" in refs.description["O"]
    o2, _ = reference_structure("O", "periodic")
    assert refs["O"] == pytest.approx(emt.compute(o2).energy / 2, abs=1e-12)


def test_mu_is_per_atom_whatever_the_cell(emt):
    one = compute_references(emt, ["Cu"], kind="periodic")
    cell = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)  # 32 atoms
    many = compute_references(emt, ["Cu"], kind="periodic", overrides={"Cu": (cell, "32 atoms")})
    assert many["Cu"] == pytest.approx(one["Cu"], abs=1e-9)
    assert many.description["Cu"] == "32 atoms"


def test_ordered_cu3au_has_negative_formation_energy_on_emt(emt):
    from qaware.thermo.formation import formation_energy_from_result

    refs = compute_references(emt, ["Cu", "Au"], kind="periodic")
    alloy = bulk("Cu", "fcc", a=3.75, cubic=True)
    alloy[0].symbol = "Au"  # L1_2 Cu3Au
    e = formation_energy_from_result(emt.compute(alloy), {"Cu": 3, "Au": 1}, refs)
    assert -0.1 < e < 0.0  # EMT orders Cu3Au, by about -0.01 eV/atom
    cu = bulk("Cu", "fcc", a=3.61)
    assert formation_energy_from_result(emt.compute(cu), {"Cu": 1}, refs) == pytest.approx(0.0)


def test_failed_reference_names_the_element(emt):
    with pytest.raises(OracleError, match=r"'Fe'.*failed"):
        compute_references(emt, ["Cu", "Fe"], kind="periodic")  # EMT has no Fe


def test_element_without_built_in_structure_is_refused():
    with pytest.raises(ConfigError, match=r"'Bi'.*overrides"):
        reference_structure("Bi", "periodic")
    with pytest.raises(ConfigError, match="only Cu atoms"):
        compute_references(object(), ["Cu"], overrides={"Cu": (bulk("Au"), "wrong")})  # type: ignore[arg-type]


def test_runner_receives_every_structure_and_its_results_are_checked(emt):
    seen = []

    def runner(oracle, structures):
        seen.append(len(structures))
        return [oracle.compute(a) for a in structures]

    compute_references(emt, ["Cu", "Au", "Ni"], kind="periodic", runner=runner)
    assert seen == [3]

    def wrong_level(oracle, structures):
        return [
            OracleResult(ok=True, level="PBE", energy=-1.0, settings_hash=oracle.settings_hash())
            for _ in structures
        ]

    with pytest.raises(OracleError, match="from PBE"):
        compute_references(emt, ["Cu"], kind="periodic", runner=wrong_level)


def test_molecular_references_carry_their_spin():
    fe, desc = reference_structure("Fe", "molecular")
    assert not fe.pbc.any()
    assert len(fe) == 1
    assert fe.info["spin"] == 4
    assert fe.get_initial_magnetic_moments().sum() == pytest.approx(4)
    assert "quintet" in desc
    o2, desc = reference_structure("O", "molecular")
    assert o2.info["spin"] == 2
    assert o2.get_initial_magnetic_moments().sum() == pytest.approx(2)
    assert o2.get_distance(0, 1) == pytest.approx(1.208)
    assert "triplet" in desc
    assert not o2.pbc.any()
    assert ATOM_SPIN["Cr"] == 6
    assert ATOM_SPIN["Ni"] == 2


def test_molecular_spins_agree_with_the_pyscf_oracle_table():
    spin = pytest.importorskip("qaware.oracles.spin")
    for el, two_s in ATOM_SPIN.items():
        assert spin.ATOM_MULTIPLICITY[el] == two_s + 1, el


def test_every_built_in_crystal_builds_and_graphite_has_its_bond_length():
    for el in PERIODIC_CRYSTALS:
        atoms, _ = reference_structure(el, "periodic")
        assert set(atoms.get_chemical_symbols()) == {el}
        assert atoms.pbc.all()
        assert atoms.get_volume() > 0
    graphite, _ = reference_structure("C", "periodic")
    d = graphite.get_all_distances(mic=True)
    assert len(graphite) == 4
    assert np.min(d[d > 0]) == pytest.approx(2.464 / np.sqrt(3), abs=1e-6)
    fe, _ = reference_structure("Fe", "periodic")
    assert fe.get_initial_magnetic_moments().sum() > 0  # ferromagnetic start


def test_json_round_trip_and_merge_rules():
    refs = ElementalReferences("PBE", "abc", {"O": -4.9, "Cu": -3.7}, {"O": "1/2 O2"})
    back = ElementalReferences.from_json(refs.to_json())
    assert back == refs
    assert back.elements == ("Cu", "O")
    more = refs.merged(ElementalReferences("PBE", "abc", {"Ni": -5.5}))
    assert more.elements == ("Cu", "Ni", "O")
    with pytest.raises(ConfigError, match="cannot merge"):
        refs.merged(ElementalReferences("r2SCAN", "abc", {"Ni": -9.0}))
    with pytest.raises(ConfigError, match="'Zn'"):
        refs["Zn"]
    with pytest.raises(ConfigError):
        ElementalReferences("PBE", "abc", {"O": float("nan")})
