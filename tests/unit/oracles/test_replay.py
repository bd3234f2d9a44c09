"""Replay oracle: answers from the table, honest failures, duplicates, and the thermo path."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.errors import ConfigError
from qaware.oracles.replay import ReplayOracle
from qaware.oracles.replay_tables import ReplayTable, read_table
from qaware.thermo.formation import formation_energy_from_result
from qaware.thermo.hull import FidelityHull, HullEntry

DATA = Path(__file__).resolve().parents[2] / "data" / "replay"
RXN = DATA / "rxnnet_main_sample.csv"
GAPS = DATA / "revised_bandgap_sample.csv"
NIO = bulk("NiO", "rocksalt", a=4.17)


def test_meets_the_oracle_contract():
    testing = pytest.importorskip("qaware.testing")
    oracle = ReplayOracle(RXN, "r2SCAN@MP")
    testing.check_oracle(oracle, NIO)
    testing.check_oracle(oracle, bulk("Cu"), expect_ok=False)
    testing.check_oracle(ReplayOracle(GAPS, "HSE06@Borlido2019"), bulk("Si"))


def test_formation_energy_is_per_atom_value_times_atoms():
    oracle = ReplayOracle(RXN, "r2SCAN@MP")
    res = oracle.compute(NIO)
    assert res.ok
    assert res.energy == pytest.approx(-1.107089 * 2)
    assert res.diagnostics["e_form_per_atom"] == res.diagnostics["value"] == -1.107089
    assert res.diagnostics["table_id"] == "mp-19009"
    big = oracle.compute(NIO.repeat(2))  # 16 atoms, same reduced composition
    assert big.energy == pytest.approx(-1.107089 * 16)
    exp = ReplayOracle(RXN, "experiment").compute(NIO)
    assert exp.diagnostics["e_form_per_atom"] == -1.242158
    assert exp.settings_hash != res.settings_hash


def test_missing_keys_and_missing_values_are_not_invented():
    oracle = ReplayOracle(RXN, "r2SCAN@MP")
    for atoms in (bulk("Cu"), Atoms("CuO", positions=[[0, 0, 0], [1.8, 0, 0]])):
        res = oracle.compute(atoms)  # Cu: not in table; CuO: row without an r2SCAN value
        assert not res.ok
        assert res.reason == "not_in_table"
        assert res.energy is None
    assert ReplayOracle(RXN, "GGA(+U)@MP").compute(
        Atoms("CuO", positions=[[0, 0, 0], [1.8, 0, 0]])
    ).diagnostics["e_form_per_atom"] == pytest.approx(-0.943166)
    assert ReplayOracle(RXN, "r2SCAN@MP").compute(Atoms()).reason == "empty_structure"
    with pytest.raises(ConfigError, match="no level"):
        ReplayOracle(RXN, "r2SCAN")


def test_settings_hash_follows_the_data_not_the_object():
    table = read_table(RXN)
    a = ReplayOracle(RXN, "r2SCAN@MP")
    b = ReplayOracle(table, "r2SCAN@MP")
    assert a.settings_hash() == b.settings_hash()
    assert pickle.loads(pickle.dumps(a)).settings_hash() == a.settings_hash()
    edited = ReplayTable.from_records(
        "x", "formation_energy_per_atom", ["NiO"], {"r2SCAN@MP": [-1.0]}
    )
    assert ReplayOracle(edited, "r2SCAN@MP").settings_hash() != a.settings_hash()


def test_band_gap_convention_and_polymorph_policies():
    oracle = ReplayOracle(GAPS, "HSE06@Borlido2019")
    res = oracle.compute(bulk("Si"))
    assert res.energy == res.diagnostics["band_gap_ev"] == 1.2  # intensive: not scaled by atoms
    assert oracle.compute(bulk("Si").repeat(2)).energy == 1.2
    sic = bulk("SiC", "zincblende", a=4.36)
    skipped = oracle.compute(sic)  # default for gaps: four polytypes, no natural answer
    assert skipped.reason == "ambiguous_in_table"
    assert len(skipped.diagnostics["table_ids"]) == 4
    lowest = ReplayOracle(GAPS, "HSE06@Borlido2019", duplicates="lowest").compute(sic)
    assert lowest.energy == 2.25
    with pytest.raises(ConfigError, match="several rows"):
        ReplayOracle(GAPS, "HSE06@Borlido2019", duplicates="refuse")
    with pytest.raises(ConfigError, match="not an energy"):
        oracle.references(["Si"])


def test_energy_duplicates_default_to_the_most_stable_polymorph():
    table = ReplayTable.from_records(
        "polymorphs", "formation_energy_per_atom", ["TiO2", "Ti2O4", "NiO"],
        {"PBE@x": [-3.30, -3.35, -1.20]}, ids=["rutile", "anatase", "rocksalt"],
    )  # fmt: skip
    res = ReplayOracle(table, "PBE@x").compute(Atoms("TiO2", positions=np.eye(3)))
    assert res.diagnostics["table_id"] == "anatase"
    assert res.energy == pytest.approx(-3.35 * 3)


def test_replayed_energies_go_through_the_thermo_path_unchanged():
    oracle = ReplayOracle(RXN, "experiment")
    refs = oracle.references(["Ni", "O", "Fe", "Mn"])
    assert set(refs.mu.values()) == {0.0}
    entries = []
    for name, atoms, counts in [
        ("NiO", NIO, {"Ni": 1, "O": 1}),
        ("MnO", bulk("MnO", "rocksalt", a=4.44), {"Mn": 1, "O": 1}),
    ]:
        res = oracle.compute(atoms)
        e = formation_energy_from_result(res, counts, refs)
        assert e == pytest.approx(res.diagnostics["e_form_per_atom"])
        entries.append(HullEntry.from_result(name, res, counts, refs))
    hull = FidelityHull(tuple(entries), level="experiment", settings_hash=oracle.settings_hash())
    assert {"NiO", "MnO"} <= set(hull.stable_ids)


def test_structure_keyed_replay_tells_polymorphs_apart():
    hashing = pytest.importorskip("qaware.structures.hashing")
    diamond = bulk("Si", "diamond", a=5.43)
    fcc = bulk("Si", "fcc", a=3.87)
    table = ReplayTable.from_records(
        "si-phases", "formation_energy_per_atom", ["Si", "Si"], {"EMT@x": [0.0, 0.3]},
        structure_hashes=[hashing.structure_hash(diamond), hashing.structure_hash(fcc)],
    )  # fmt: skip
    oracle = ReplayOracle(table, "EMT@x", key="structure")
    assert oracle.compute(fcc.repeat(2)).diagnostics["value"] == 0.3
    assert oracle.compute(diamond).diagnostics["value"] == 0.0
    assert oracle.compute(bulk("Si", "bcc", a=3.1)).reason == "not_in_table"
    with pytest.raises(ConfigError, match="no structure hashes"):
        ReplayOracle(RXN, "r2SCAN@MP", key="structure")
