"""ase_calculator.py: any ASE calculator as a picklable oracle (EMT always, tblite if present)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.emt import EMT

from qaware.errors import ConfigError
from qaware.oracles.ase_calculator import ASECalculatorOracle
from qaware.testing import assert_forces_match_finite_differences, check_oracle

EMT_PATH = "ase.calculators.emt:EMT"


def _rattled_cu() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=1)
    return atoms


def test_emt_oracle_passes_the_conformance_check_and_matches_emt():
    atoms = _rattled_cu()
    oracle = ASECalculatorOracle(EMT_PATH, level="EMT")
    result = check_oracle(oracle, atoms)
    direct = atoms.copy()
    direct.calc = EMT()
    assert result.energy == pytest.approx(direct.get_potential_energy(), abs=1e-12)
    np.testing.assert_allclose(result.forces, direct.get_forces(), atol=1e-12)
    np.testing.assert_allclose(result.stress, direct.get_stress(voigt=True), atol=1e-12)
    assert result.code == EMT_PATH
    assert result.code_version
    assert atoms.calc is None, "the caller's atoms must not get a calculator attached"


def test_emt_forces_are_minus_the_energy_gradient():
    oracle = ASECalculatorOracle(EMT_PATH, level="EMT")

    def energy_and_forces(a: Atoms):
        r = oracle.compute(a)
        return r.energy, r.forces

    assert_forces_match_finite_differences(energy_and_forces, _rattled_cu(), atol=1e-4)


def test_a_molecule_gets_no_stress():
    result = ASECalculatorOracle(EMT_PATH, level="EMT").compute(molecule("N2"))
    assert result.ok
    assert result.stress is None
    assert result.forces.shape == (2, 3)


def test_callable_factory_is_equivalent_to_its_path_and_picklable():
    by_path = ASECalculatorOracle(EMT_PATH, level="EMT")
    by_object = ASECalculatorOracle(EMT, level="EMT")
    assert by_path.settings_hash() == by_object.settings_hash()
    clone = pickle.loads(pickle.dumps(by_object))
    assert clone.compute(_rattled_cu()).energy == by_path.compute(_rattled_cu()).energy


def test_settings_hash_follows_level_and_kwargs():
    a = ASECalculatorOracle("tblite.ase:TBLite", "GFN2-xTB", {"method": "GFN2-xTB"})
    b = ASECalculatorOracle("tblite.ase:TBLite", "GFN1-xTB", {"method": "GFN1-xTB"})
    assert a.settings_hash() != b.settings_hash()


@pytest.mark.parametrize("factory", [lambda: EMT(), "EMT", ":EMT"])
def test_factories_a_worker_cannot_import_are_refused_at_construction(factory):
    with pytest.raises(ConfigError, match=r"oracle\.factory"):
        ASECalculatorOracle(factory, level="EMT")


def test_empty_level_is_refused():
    with pytest.raises(ConfigError, match=r"oracle\.level"):
        ASECalculatorOracle(EMT_PATH, level=" ")


def test_calculator_errors_become_failures():
    missing = ASECalculatorOracle("ase.calculators.emt:NoSuchCalculator", level="EMT")
    result = check_oracle(missing, _rattled_cu(), expect_ok=False)
    assert result.reason.startswith("exception: AttributeError")
    unsupported = ASECalculatorOracle(EMT_PATH, level="EMT")  # EMT has no parameters for U
    result = unsupported.compute(Atoms("U", positions=[[0, 0, 0]]))
    assert not result.ok
    assert result.reason.startswith("exception:")


# -- tblite (optional extra 'xtb') ----------------------------------------------------------
def _srtio3() -> Atoms:
    scaled = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Atoms("SrTiO3", scaled_positions=scaled, cell=[3.905] * 3, pbc=True)


@pytest.mark.oracle
def test_gfn2_xtb_water_is_a_real_calculation():
    pytest.importorskip("tblite")
    oracle = ASECalculatorOracle(
        "tblite.ase:TBLite", "GFN2-xTB", {"method": "GFN2-xTB", "verbosity": 0}
    )
    result = check_oracle(oracle, molecule("H2O"))
    assert result.energy == pytest.approx(-137.97, abs=0.05)  # -5.07 Eh, tblite 0.8 GFN2
    assert np.abs(result.forces).max() < 1.0  # ASE's water is near the GFN2 minimum


@pytest.mark.oracle
def test_gfn1_xtb_scf_failure_on_an_oxide_cell_is_reported_not_raised():
    """tblite's SCF does not converge on cubic SrTiO3 at GFN1-xTB (notes/oracles.md §A3)."""
    pytest.importorskip("tblite")
    oracle = ASECalculatorOracle(
        "tblite.ase:TBLite", "GFN1-xTB", {"method": "GFN1-xTB", "verbosity": 0}
    )
    result = check_oracle(oracle, _srtio3(), expect_ok=False)
    assert result.reason.startswith("scf_not_converged:")
    assert "250" in result.reason  # tblite's own message survives


def test_the_oracle_runs_the_same_in_a_child_process():
    from qaware.oracles.base import run_with_timeout

    oracle = ASECalculatorOracle(EMT_PATH, level="EMT")
    here, there = oracle.compute(_rattled_cu()), run_with_timeout(oracle, _rattled_cu(), 60)
    assert there.ok
    assert there.energy == here.energy
    np.testing.assert_array_equal(there.forces, here.forces)
    assert there.settings_hash == here.settings_hash
