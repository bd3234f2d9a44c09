"""MF-ENNP on a CUDA GPU: the same numbers as on the CPU, the same physics, and a GPU-trained
validator that saves, reloads on the CPU and predicts the same. Skipped without a GPU (CI has
none); run on a GPU machine with ``python -m pytest tests/physics/test_mfennp_cuda.py``."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from ase.build import bulk

from qaware.testing.physics import (
    assert_energy_invariant,
    assert_equivariant_forces,
    assert_forces_match_finite_differences,
    assert_stress_matches_finite_strain,
)

from .conftest import cluster, energy_and_forces, energy_and_stress, make_model, skewed_cell

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none here)"
)


@pytest.fixture(scope="module")
def pair():
    """The same random float64 model on the CPU and on the GPU."""
    cpu = make_model()
    return cpu, copy.deepcopy(cpu).to("cuda")


def _structures():
    mgo = bulk("MgO", "rocksalt", a=4.21, cubic=True).repeat((2, 2, 2))  # 64 atoms
    mgo.rattle(0.05, seed=1)
    return [skewed_cell(0), cluster(0), mgo]


def test_the_gpu_gives_the_cpus_energies_forces_and_stress(pair):
    cpu, gpu = pair
    assert gpu.device.type == "cuda"
    for atoms in _structures():
        for level in range(cpu.config.n_levels):
            e_cpu, f_cpu = energy_and_forces(cpu, level)(atoms)
            e_gpu, f_gpu = energy_and_forces(gpu, level)(atoms)
            assert abs(e_gpu - e_cpu) <= 1e-9 * max(1.0, abs(e_cpu))
            np.testing.assert_allclose(f_gpu, f_cpu, atol=1e-9)
        if atoms.pbc.all():
            s_cpu = energy_and_stress(cpu)[1](atoms)
            s_gpu = energy_and_stress(gpu)[1](atoms)
            np.testing.assert_allclose(s_gpu, s_cpu, atol=1e-10)


def test_the_physics_holds_on_the_gpu(pair):
    _, gpu = pair
    assert_equivariant_forces(energy_and_forces(gpu, -1), skewed_cell(3), seed=3)
    assert_equivariant_forces(energy_and_forces(gpu, 0), cluster(3), seed=4)
    energy, stress = energy_and_stress(gpu)
    assert_energy_invariant(energy, skewed_cell(1), atol=1e-9)
    assert_forces_match_finite_differences(
        energy_and_forces(gpu, -1), skewed_cell(5), delta=1e-5, atol=1e-6
    )
    assert_stress_matches_finite_strain(energy, stress, skewed_cell(6), delta=1e-5, atol=1e-8)


def test_a_validator_trained_on_the_gpu_reloads_on_the_cpu(tmp_path):
    from qaware.fidelity import Fidelity, FidelityLadder
    from qaware.oracles.ase_calculator import ASECalculatorOracle
    from qaware.testing import emt_two_level_cells, made_up_top_energy
    from qaware.thermo.references import ElementalReferences, compute_references
    from qaware.validator.config import ModelConfig
    from qaware.validator.mf_validator import MFValidator
    from qaware.validator.train import TrainConfig

    ladder = FidelityLadder((Fidelity("EMT", weight=0.3), Fidelity("TOP", weight=1.0)))
    emt = compute_references(
        ASECalculatorOracle("ase.calculators.emt:EMT", level="EMT"), ["Cu", "Al"], kind="periodic"
    )
    top = {
        el: made_up_top_energy(bulk(el, "fcc", a=4.05 if el == "Al" else 3.61), emt.mu[el])
        for el in emt.mu
    }
    refs = {"EMT": emt, "TOP": ElementalReferences("TOP", "synthetic", top)}
    structures = emt_two_level_cells(30, seed=11, top_every=1)
    labels = {
        "EMT": [a.info["energy_EMT"] for a in structures],
        "TOP": [a.info.get("energy_TOP") for a in structures],
    }
    config = ModelConfig(
        levels=ladder.names, species=("Cu", "Al"), cutoff=4.0, channels=8, radial_hidden=16,
        readout_hidden=8, head_hidden=8, fidelity_dim=4,
    )  # fmt: skip
    validator = MFValidator(
        ladder,
        refs,
        model_config=config,
        train_config=TrainConfig(epochs=10, learning_rate=1e-2, validation_fraction=0.2),
        shrink_corrections=True,  # the Δ-correction factor is fitted and kept on the GPU too
        device="cuda",
    )
    torch.manual_seed(0)
    validator.fit(structures, labels)
    assert validator.model is not None and validator.model.device.type == "cuda"
    assert validator.last_fit is not None
    assert np.isfinite([e.train_loss for e in validator.last_fit.history]).all()
    assert set(validator.shrinkage) == {"TOP"}
    assert validator.model.correction_factor.device.type == "cuda"
    on_gpu = validator.predict(structures)
    validator.save(tmp_path / "v.pt")
    on_cpu = MFValidator.load(tmp_path / "v.pt").predict(structures)  # CPU by default
    for level in ladder.names:
        np.testing.assert_allclose(
            on_cpu.e_form_per_atom[level], on_gpu.e_form_per_atom[level], atol=1e-5
        )
        np.testing.assert_allclose(
            on_cpu.e_form_std_per_atom[level], on_gpu.e_form_std_per_atom[level], atol=1e-5
        )
    calc = validator.calculator("TOP")  # the ASE calculator follows the model to the GPU
    atoms = structures[0].copy()
    atoms.calc = calc
    assert np.isfinite(atoms.get_forces()).all()
    again = MFValidator.load(tmp_path / "v.pt", device="cuda")
    again.train_config = TrainConfig(epochs=2, learning_rate=1e-3, validation_fraction=0.2)
    again.fit(structures, labels, warm_start=True)  # warm start stays on the GPU
    assert again.model is not None and again.model.device.type == "cuda"
    assert again.last_fit is not None  # the warm start's own losses, not the first fit's
    assert np.isfinite([e.train_loss for e in again.last_fit.history]).all()
