"""spin.py: default multiplicities and the parity rule."""

from __future__ import annotations

import pytest
from ase import Atoms

from qaware.oracles.spin import (
    ATOM_MULTIPLICITY,
    MOLECULE_MULTIPLICITY,
    candidate_multiplicities,
    default_multiplicity,
    n_electrons,
)


@pytest.mark.parametrize(
    ("symbols", "expected"),
    [
        ("Fe", (5, "atom table")),
        ("O", (3, "atom table")),
        ("Cr", (7, "atom table")),
        ("FeO", (5, "molecule table")),
        ("OFe", (5, "molecule table")),  # any atom order
        ("O2", (3, "molecule table")),
        ("OTi", (3, "molecule table")),
        ("TiO2", (1, "molecule table")),
        ("H2O", (1, "molecule table")),
        ("Fe2O2", (1, "parity")),  # not tabulated: lowest allowed
        ("CH3", (2, "parity")),
    ],
)
def test_default_multiplicity(symbols, expected):
    atoms = Atoms(symbols, positions=[[0, 0, 1.5 * i] for i in range(len(Atoms(symbols)))])
    assert default_multiplicity(atoms) == expected


def test_charged_species_fall_back_to_parity():
    assert default_multiplicity(Atoms("O"), charge=-2) == (1, "parity")
    assert default_multiplicity(Atoms("Fe"), charge=1) == (2, "parity")


def test_table_multiplicities_agree_with_electron_parity():
    """2S+1 must be odd for an even electron count and even for an odd one."""
    for symbol, mult in {**ATOM_MULTIPLICITY, **MOLECULE_MULTIPLICITY}.items():
        n = n_electrons(Atoms(symbol))
        assert (n - (mult - 1)) % 2 == 0, symbol


def test_candidate_multiplicities():
    assert candidate_multiplicities(34) == (1, 3, 5)
    assert candidate_multiplicities(9, count=2) == (2, 4)
    assert candidate_multiplicities(1) == (2,)  # one electron: a doublet only
