"""Crystal descriptors from real GPAW runs (marked oracle): Si (gapped) and Al (metal)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from qaware.descriptors import (
    clausius_mossotti_polarisability,
    dos_vector,
    periodic_descriptors,
    reference_energy,
)
from qaware.descriptors.from_gpaw import gpaw_levels

pytestmark = pytest.mark.oracle


def _converged(atoms, kpts):
    gpaw = pytest.importorskip("gpaw")
    atoms.calc = gpaw.GPAW(
        mode=gpaw.PW(300), kpts={"size": kpts}, nbands=-8, txt=None,
        occupations={"name": "fermi-dirac", "width": 0.05},
    )  # fmt: skip
    atoms.get_potential_energy()
    return atoms.calc


def test_silicon_descriptors_count_valence_electrons_and_match_experiment():
    si = bulk("Si", "diamond", a=5.431)
    calc = _converged(si, (4, 4, 4))
    q = periodic_descriptors(calc, si)
    assert q["dos"].shape == (100,) and q["elf"].shape == (20,)
    assert q["elf"].sum() == pytest.approx(1.0)
    assert 0.5 < q["gap"][0] < 1.5  # PBE indirect gap 0.6 eV, sampled on a 4³ mesh
    # Occupied DOS over the whole valence band: 4 electrons per Si atom.
    eig, fill, states = gpaw_levels(calc)
    bins = np.linspace(-20.0, 0.0, 201)
    occ = dos_vector(eig, states * fill, reference_energy(eig, fill), bins=bins, n_atoms=2)
    assert np.sum(occ * np.diff(bins)) == pytest.approx(4.0, abs=1e-3)
    # RPA eps_inf -> Clausius-Mossotti: experiment (eps 11.9) gives 3.75 Å^3 per atom.
    expt = clausius_mossotti_polarisability(11.9, si.get_volume() / 2)
    assert q["response"][0] == pytest.approx(expt, rel=0.15)


def test_a_metal_gets_zero_gap_the_fermi_reference_and_the_conducting_sphere_response():
    al = bulk("Al", "fcc", a=4.05)
    calc = _converged(al, (6, 6, 6))
    q = periodic_descriptors(calc, al)
    assert q["gap"][0] == 0.0
    assert q["response"][0] == pytest.approx(3 * al.get_volume() / (4 * np.pi))  # r_WS^3
    # Reference = Fermi level: the DOS at 0 eV is the free-electron-like value, not a gap.
    assert q["dos"][49] > 0.05 and q["dos"][50] > 0.05
