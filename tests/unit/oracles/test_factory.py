"""build_oracle: every kind from an OracleSpec, and settings errors that name the key path."""

from __future__ import annotations

import pytest
from ase.build import bulk

from qaware.config import OracleSpec
from qaware.errors import ConfigError
from qaware.oracles.factory import KINDS, build_oracle


def spec(kind: str, level: str, **settings) -> OracleSpec:
    return OracleSpec(level=level, kind=kind, settings=settings, timeout_s=77.0)


def test_every_config_kind_has_a_builder():
    from typing import get_args

    assert set(KINDS) == set(get_args(OracleSpec.model_fields["kind"].annotation))


def test_pyscf_gets_level_timeout_and_gate_settings():
    from qaware.oracles.gates import GateSettings
    from qaware.oracles.pyscf_molecular import PySCFOracle

    oracle = build_oracle(
        spec(
            "pyscf",
            "CCSD(T)/TZ",
            method="CCSD(T)",
            basis="def2-TZVP",
            gates={"t1_max_open_shell": 0.05},
        )
    )
    assert isinstance(oracle, PySCFOracle)
    assert (oracle.level, oracle.method, oracle.basis, oracle.timeout_s) == (
        "CCSD(T)/TZ", "CCSD(T)", "def2-TZVP", 77.0,
    )  # fmt: skip
    assert oracle.gates == GateSettings(t1_max_open_shell=0.05)
    # the settings change the hash; the level name is part of the spec too
    other = build_oracle(spec("pyscf", "CCSD(T)/TZ", method="CCSD(T)", basis="def2-SVP"))
    assert other.settings_hash() != oracle.settings_hash()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"basiss": "def2-SVP"},
            "oracles.3.settings.basiss: unknown setting, did you mean 'basis'?",
        ),
        ({"level_name": "PBE"}, "oracles.3.settings.level_name: unknown setting"),
        ({"gates": {"s2_tol": 0.1}}, "oracles.3.settings.gates.s2_tol: unknown setting"),
        ({"gates": 0.1}, "oracles.3.settings.gates: must be a mapping"),
        ({"method": "MP2"}, "oracles.3 (pyscf, level 'PBE'): oracle.method: 'MP2' is not one of"),
    ],
)
def test_pyscf_refuses_bad_settings_naming_the_key(settings, message):
    with pytest.raises(ConfigError) as err:
        build_oracle(spec("pyscf", "PBE", **settings), index=3)
    assert message in str(err.value)


def test_gpaw_gets_its_level_and_refuses_unknown_keys():
    from qaware.oracles.gpaw_periodic import GPAWOracle

    oracle = build_oracle(
        spec("gpaw", "PBE+U", xc="PBE+U", ecut_ev=400, hubbard_u={"Fe": 4.0}, u_anions=["O"])
    )
    assert isinstance(oracle, GPAWOracle)
    assert (oracle.level, oracle.xc, oracle.ecut_ev) == ("PBE+U", "PBE+U", 400)
    assert dict(oracle.hubbard_u) == {"Fe": 4.0} and oracle.u_anions == ("O",)
    with pytest.raises(ConfigError, match=r"oracles.0.settings.kpts: unknown setting"):
        build_oracle(spec("gpaw", "PBE", kpts=4), index=0)


def test_ase_builds_a_working_emt_oracle():
    oracle = build_oracle(
        spec("ase", "EMT", calculator="ase.calculators.emt:EMT", kwargs={"asap_cutoff": False})
    )
    assert oracle.level == "EMT" and oracle.timeout_s == 77.0
    result = oracle.compute(bulk("Cu", "fcc", a=3.6))
    assert result.ok and abs(result.energy) < 0.1  # EMT's Cu reference is near 0 eV at 3.6 Å


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "oracles.1.settings.calculator: missing"),
        ({"calculator": "ase.calculators.emt:EMT", "factory": "x"}, "oracles.1.settings.factory"),
        (
            {"calculator": "ase.calculators.emt:EMT", "kwargs": [1]},
            "settings.kwargs: must be a mapping",
        ),
        ({"calculator": "EMT"}, "must be 'module:attr'"),
    ],
)
def test_ase_refuses_bad_settings(settings, message):
    with pytest.raises(ConfigError) as err:
        build_oracle(spec("ase", "EMT", **settings), index=1)
    assert message in str(err.value)


def test_pretrained_level_must_be_the_honest_name():
    oracle = build_oracle(spec("pretrained", "r2SCAN@SevenNet-MF-0", modal="R2SCAN"))
    assert oracle.level == "r2SCAN@SevenNet-MF-0"
    with pytest.raises(ConfigError) as err:
        build_oracle(spec("pretrained", "r2SCAN", modal="R2SCAN"), index=2)
    assert "oracles.2.level: 'r2SCAN'" in str(err.value)
    assert "labels 'r2SCAN@SevenNet-MF-0'" in str(err.value)
    with pytest.raises(ConfigError, match=r"oracles.2.settings.modl: unknown setting"):
        build_oracle(spec("pretrained", "x", modl="PBE"), index=2)


def test_replay_reads_a_table_relative_to_the_spec(tmp_path):
    (tmp_path / "t.csv").write_text("formula,PBE@mine\nCu,-0.10\nAu,0.2\n")
    oracle = build_oracle(
        spec("replay", "PBE@mine", table="t.csv", quantity="formation_energy_per_atom"),
        base_dir=tmp_path,
    )
    result = oracle.compute(bulk("Cu", "fcc", a=3.6, cubic=True))
    assert result.ok and result.energy == pytest.approx(-0.4)  # -0.10 eV/atom x 4 atoms
    missing = oracle.compute(bulk("Ag", "fcc", a=4.1))
    assert not missing.ok and missing.reason == "not_in_table"


def test_replay_refuses_missing_tables_and_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"oracles.4.settings.table: .*nope.csv is not a file"):
        build_oracle(spec("replay", "x", table="nope.csv"), index=4, base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"oracles.4.settings.table: missing"):
        build_oracle(spec("replay", "x"), index=4)
    with pytest.raises(ConfigError, match=r"oracles.4.settings.keys: unknown setting"):
        build_oracle(spec("replay", "x", table="rxnnet", keys="structure"), index=4)


def test_replay_named_published_table():
    from qaware.oracles.replay_tables import shared_data_dir

    try:
        shared_data_dir()
    except ConfigError:
        pytest.skip("shared data folder not available")
    oracle = build_oracle(spec("replay", "r2SCAN@MP", table="rxnnet"))
    assert oracle.level == "r2SCAN@MP" and oracle.table.quantity == "formation_energy_per_atom"
