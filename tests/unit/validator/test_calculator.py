"""QawareCalculator: ASE contract, physics through ASE, optimisers, divergence."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

from qaware.errors import ConfigError
from qaware.testing import (
    assert_forces_match_finite_differences,
    assert_stress_matches_finite_strain,
)
from qaware.thermo.references import ElementalReferences
from qaware.validator.calculator import QawareCalculator
from qaware.validator.graph import batch_graph


def _cell() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.62, cubic=True)
    atoms.symbols[[1]] = "Al"
    atoms.rattle(0.08, seed=3)
    return atoms


def test_results_equal_the_model_at_the_chosen_fidelity(trained_model):
    atoms = _cell()
    graph = batch_graph([atoms], 4.0, trained_model.config.species, trained_model.dtype)
    for f, level in enumerate(trained_model.config.levels):
        atoms.calc = QawareCalculator(trained_model, fidelity=level)
        out = trained_model.compute(graph, level=f, stress=True)
        assert atoms.get_potential_energy() == pytest.approx(float(out.energy[0, f].detach()))
        assert atoms.get_potential_energy(force_consistent=True) == atoms.get_potential_energy()
        np.testing.assert_allclose(atoms.get_forces(), out.forces.detach().numpy())
        s = out.stress[0].detach().numpy()
        voigt = [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
        np.testing.assert_allclose(atoms.get_stress(), voigt)
        by_level = atoms.calc.get_property("energies_by_fidelity", atoms)
        assert set(by_level) == {"EMT", "TOP"}
        assert by_level[level] == pytest.approx(atoms.get_potential_energy())
        assert atoms.calc.get_property("energy_std", atoms) >= 0


def test_default_fidelity_is_the_top_and_unknown_levels_fail(trained_model):
    assert QawareCalculator(trained_model).fidelity == "TOP"
    with pytest.raises(ConfigError, match="PBE"):
        QawareCalculator(trained_model, fidelity="PBE")


def test_forces_and_stress_are_derivatives_through_ase(trained_model):
    calc = QawareCalculator(trained_model, fidelity="EMT")

    def energy_forces(atoms):
        atoms = atoms.copy()
        atoms.calc = calc
        return atoms.get_potential_energy(), atoms.get_forces()

    def energy(atoms):
        return energy_forces(atoms)[0]

    def stress(atoms):
        atoms = atoms.copy()
        atoms.calc = calc
        return atoms.get_stress()

    assert_forces_match_finite_differences(energy_forces, _cell(), delta=1e-5, atol=1e-6)
    assert_stress_matches_finite_strain(energy, stress, _cell(), delta=1e-5, atol=1e-7)


def test_molecules_have_no_stress(trained_model):
    atoms = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.4]])
    atoms.calc = QawareCalculator(trained_model)
    atoms.get_forces()
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


def test_bfgs_relaxes_a_rattled_cell(trained_model):
    atoms = bulk("Cu", "fcc", a=3.62, cubic=True)
    atoms.rattle(0.1, seed=8)
    emt_fmax0 = np.abs(EMT().get_forces(atoms)).max()
    atoms.calc = QawareCalculator(trained_model, fidelity="EMT")
    fmax0 = np.abs(atoms.get_forces()).max()
    e0 = atoms.get_potential_energy()
    BFGS(atoms, logfile=None).run(fmax=0.01, steps=40)
    assert np.abs(atoms.get_forces()).max() < 0.2 * fmax0
    assert atoms.get_potential_energy() < e0
    # the model learned EMT: its relaxed geometry is nearly force-free for EMT too
    assert np.abs(EMT().get_forces(atoms)).max() < 0.3 * emt_fmax0


def test_cell_filter_uses_the_stress(trained_model):
    atoms = bulk("Cu", "fcc", a=3.75, cubic=True)  # stretched: a tensile stress to relax
    atoms.calc = QawareCalculator(trained_model, fidelity="EMT")
    s0 = np.abs(atoms.get_stress()[:3]).max()
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=0.005, steps=30)
    assert np.abs(atoms.get_stress()[:3]).max() < 0.5 * s0


def test_divergence_is_the_signed_formation_energy_gap(trained_model):
    refs = {
        "EMT": ElementalReferences("EMT", "x", {"Cu": -0.1, "Al": 0.2}),
        "TOP": ElementalReferences("TOP", "y", {"Cu": 0.3, "Al": -0.4}),
    }
    atoms = _cell()
    atoms.calc = QawareCalculator(trained_model, references=refs)
    e = atoms.calc.get_property("energies_by_fidelity", atoms)
    e_form_low = (e["EMT"] - 3 * -0.1 - 1 * 0.2) / 4
    e_form_top = (e["TOP"] - 3 * 0.3 - 1 * -0.4) / 4
    assert atoms.calc.get_property("divergence", atoms) == pytest.approx(e_form_low - e_form_top)
    plain = _cell()
    plain.calc = QawareCalculator(trained_model)
    with pytest.raises(PropertyNotImplementedError):
        plain.calc.get_property("divergence", plain)
