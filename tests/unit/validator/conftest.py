"""Small labelled fixtures: EMT energies/forces/stress and a synthetic 'top' level."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from qaware.fidelity import Fidelity, FidelityLadder
from qaware.validator.config import ModelConfig

LADDER = FidelityLadder((Fidelity("EMT", weight=0.3), Fidelity("TOP", weight=1.0)))


def top_energy(atoms: Atoms, emt_energy: float) -> float:
    """A made-up higher level: scaled EMT plus 0.2 eV per Al atom."""
    return 1.05 * emt_energy + 0.2 * int((atoms.symbols == "Al").sum())


def emt_structures(n: int, *, seed: int = 0, top_every: int = 3) -> list[Atoms]:
    """Rattled 4-atom Cu/CuAl cells with EMT labels; every ``top_every``-th also at TOP."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", a=3.6 + 0.05 * rng.normal(), cubic=True)
        if i % 2:
            atoms.symbols[[0, 3]] = "Al"
        atoms.rattle(0.05, seed=seed * 1000 + i)
        atoms.calc = EMT()
        energy = atoms.get_potential_energy()
        atoms.info["energy_EMT"] = energy
        atoms.info["stress_EMT"] = atoms.get_stress()
        atoms.arrays["forces_EMT"] = atoms.get_forces()
        atoms.calc = None
        if i % top_every == 0:
            atoms.info["energy_TOP"] = top_energy(atoms, energy)
        atoms.info["family"] = "CuAl" if i % 2 else "Cu"
        out.append(atoms)
    return out


def small_config(**overrides) -> ModelConfig:
    settings = dict(
        levels=LADDER.names,
        species=("Cu", "Al"),
        cutoff=4.0,
        channels=8,
        n_layers=2,
        radial_hidden=16,
        readout_hidden=8,
        head_hidden=8,
        fidelity_dim=4,
    )
    settings.update(overrides)
    return ModelConfig(**settings)


@pytest.fixture(scope="module")
def structures() -> list[Atoms]:
    return emt_structures(24)


@pytest.fixture(scope="session")
def trained_model():
    """A small float64 model trained briefly on EMT/TOP labels (shared, do not modify)."""
    import torch

    from qaware.validator.train import TrainConfig, initialise_model, prepare_samples, train

    structures = emt_structures(24, seed=5)
    config = small_config(seed=2)
    samples = prepare_samples(structures, config)
    model = initialise_model(config, samples).double()
    torch.manual_seed(0)
    train(model, samples, LADDER, TrainConfig(epochs=20, learning_rate=1e-2))
    return model
