"""Formation energies: the referencing arithmetic and the refusal to mix levels or settings."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.errors import ConfigError
from qaware.oracles.result import OracleResult
from qaware.thermo.formation import (
    formation_energies_per_atom,
    formation_energy_from_result,
    formation_energy_per_atom,
)
from qaware.thermo.references import ElementalReferences

REFS = ElementalReferences("PBE", "h1", {"Cu": -4.0, "O": -5.0, "Ni": -5.5})


def test_scalar_matches_hand_arithmetic():
    # CuO2 cell, E = -20 eV: (-20 - (-4 - 2*5)) / 3 = -2 eV/atom
    assert formation_energy_per_atom(-20.0, {"Cu": 1, "O": 2}, REFS, level="PBE") == -2.0
    # a supercell has the same formation energy per atom
    assert formation_energy_per_atom(-40.0, {"Cu": 2, "O": 4}, REFS, level="PBE") == -2.0
    # an element at its reference energy is at zero
    assert formation_energy_per_atom(-8.0, {"Cu": 2}, REFS, level="PBE") == 0.0


def test_vectorised_equals_scalar_and_needs_references_only_for_present_elements():
    rng = np.random.default_rng(0)
    elements = ["Cu", "O", "Ni", "Zn"]  # no Zn reference, and no structure contains Zn
    comp = rng.integers(0, 5, size=(50, 4))
    comp[:, 3] = 0
    comp[comp[:, :3].sum(axis=1) == 0, 0] = 1
    energy = rng.normal(-20, 5, size=50)
    got = formation_energies_per_atom(energy, comp, elements, REFS, level="PBE")
    for i in range(50):
        counts = dict(zip(elements[:3], comp[i, :3].tolist(), strict=True))
        assert got[i] == pytest.approx(
            formation_energy_per_atom(energy[i], counts, REFS, level="PBE")
        )


def test_missing_reference_names_the_element():
    with pytest.raises(ConfigError, match="'Zn'"):
        formation_energy_per_atom(-10.0, {"Zn": 1, "O": 1}, REFS, level="PBE")
    with pytest.raises(ConfigError, match="'Zn'"):
        formation_energies_per_atom(
            np.array([-10.0]), np.array([[1, 1]]), ["Zn", "O"], REFS, level="PBE"
        )


def test_levels_and_settings_are_never_mixed():
    with pytest.raises(ConfigError, match="never subtracted"):
        formation_energy_per_atom(-20.0, {"Cu": 1, "O": 2}, REFS, level="r2SCAN")
    with pytest.raises(ConfigError, match="settings"):
        formation_energy_per_atom(-20.0, {"Cu": 1, "O": 2}, REFS, level="PBE", settings_hash="h2")
    with pytest.raises(ConfigError, match="never subtracted"):
        formation_energies_per_atom(np.array([-1.0]), np.array([[1]]), ["Cu"], REFS, level="HSE06")


def test_from_result_checks_the_results_provenance():
    ok = OracleResult(ok=True, level="PBE", energy=-20.0, settings_hash="h1")
    assert formation_energy_from_result(ok, {"Cu": 1, "O": 2}, REFS) == -2.0
    other = OracleResult(ok=True, level="PBE", energy=-20.0, settings_hash="other")
    with pytest.raises(ConfigError, match="settings"):
        formation_energy_from_result(other, {"Cu": 1, "O": 2}, REFS)
    failed = OracleResult.failure("PBE", "scf_not_converged", settings_hash="h1")
    with pytest.raises(ValueError, match="scf_not_converged"):
        formation_energy_from_result(failed, {"Cu": 1}, REFS)


def test_bad_shapes_and_empty_structures_are_refused():
    with pytest.raises(ValueError, match="no atoms"):
        formation_energy_per_atom(-1.0, {"Cu": 0}, REFS, level="PBE")
    with pytest.raises(ValueError, match="row 1 has no atoms"):
        formation_energies_per_atom(
            np.array([-1.0, -2.0]), np.array([[1, 0], [0, 0]]), ["Cu", "O"], REFS, level="PBE"
        )
    with pytest.raises(ValueError, match="shapes"):
        formation_energies_per_atom(np.zeros(3), np.ones((2, 2)), ["Cu", "O"], REFS, level="PBE")
