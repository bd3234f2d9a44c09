"""atom_states.py: the configurations of free d-block atoms and the fixed occupation.

The counting tests are pure; the SCF tests (marked oracle) run PySCF HF on single atoms with
def2-SVP in about a second each.
"""

from __future__ import annotations

import pytest

from qaware.oracles.atom_states import (
    atom_configurations,
    configuration_label,
    fix_occupation,
)


def _labels(symbol: str, multiplicity: int, n_ecp: int = 0) -> list[str]:
    return [c.label for c in atom_configurations(symbol, multiplicity, n_ecp)]


@pytest.mark.parametrize(
    ("symbol", "multiplicity", "expected"),
    [
        ("Fe", 5, ["3d6 4s2", "3d7 4s1"]),  # 5D ground, 5F excited
        ("Ni", 3, ["3d8 4s2", "3d9 4s1"]),
        ("Cu", 2, ["3d9 4s2", "3d10 4s1"]),
        ("Cr", 7, ["3d5 4s1"]),  # a septet leaves no other s/d split
        ("Ti", 3, ["3d2 4s2", "3d3 4s1", "3d4 4s0"]),
        ("Zn", 1, ["3d10 4s2"]),
        ("Sc", 2, ["3d1 4s2", "3d2 4s1", "3d3 4s0"]),
    ],
)
def test_configurations_of_3d_atoms(symbol, multiplicity, expected):
    assert _labels(symbol, multiplicity) == expected


def test_counts_hold_every_electron_and_the_spin():
    for config in atom_configurations("Fe", 5):
        assert sum(config.alpha) + sum(config.beta) == 26
        assert sum(config.alpha) - sum(config.beta) == 4
        assert config.alpha[1] == config.beta[1] == 6  # 2p6 3p6: closed
    ground, excited = atom_configurations("Fe", 5)
    assert (ground.alpha[0], ground.beta[0]) == (4, 4)  # 1s 2s 3s 4s in both spins
    assert (ground.alpha[2], ground.beta[2]) == (5, 1)
    assert (excited.alpha[0], excited.beta[0], excited.beta[2]) == (4, 3, 2)


def test_an_ecp_core_is_left_out_of_the_counts():
    (mo,) = atom_configurations("Mo", 7, n_ecp_core=28)  # def2: 28 core electrons in the ECP
    assert mo.label == "4d5 5s1"
    assert sum(mo.alpha) + sum(mo.beta) == 42 - 28
    assert atom_configurations("W", 5, n_ecp_core=60)[0].label == "5d4 6s2"


def test_atoms_outside_the_d_block_or_with_an_unknown_ecp_get_no_configurations():
    assert atom_configurations("O", 3) == ()
    assert atom_configurations("Mg", 1) == ()
    assert atom_configurations("Mo", 7, n_ecp_core=10) == ()


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["ROHF", "UHF"])
def test_a_fixed_occupation_reaches_the_fe_ground_configuration(kind):
    """Aufbau HF puts Fe in 3d7 4s1; held in 3d6 4s2 the SCF goes 2.4 eV lower (def2-SVP)."""
    from pyscf import gto, scf

    from qaware.units import HARTREE_EV

    mol = gto.M(atom="Fe 0 0 0", basis="def2-SVP", spin=4, verbose=0)
    make = scf.ROHF if kind == "ROHF" else scf.UHF
    aufbau = make(mol)
    aufbau.kernel()
    assert configuration_label(aufbau, "Fe") == "3d7 4s1"
    energies = {}
    for config in atom_configurations("Fe", 5):
        mf = fix_occupation(make(mol), config)
        mf.kernel()
        assert mf.converged
        assert configuration_label(mf, "Fe") == config.label
        energies[config.label] = mf.e_tot * HARTREE_EV
    assert energies["3d7 4s1"] == pytest.approx(aufbau.e_tot * HARTREE_EV, abs=1e-4)
    assert energies["3d7 4s1"] - energies["3d6 4s2"] > 2.0


def test_a_configuration_with_the_wrong_electron_count_is_refused():
    pytest.importorskip("pyscf")
    from pyscf import gto, scf

    mol = gto.M(atom="Ni 0 0 0", basis="def2-SVP", spin=2, verbose=0)
    with pytest.raises(ValueError, match="3d6 4s2"):
        fix_occupation(scf.UHF(mol), atom_configurations("Fe", 5)[0])
