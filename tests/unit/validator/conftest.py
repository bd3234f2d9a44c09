"""Small labelled fixtures: EMT energies/forces/stress and a synthetic 'top' level."""

from __future__ import annotations

import pytest
from ase import Atoms

from qaware.fidelity import Fidelity, FidelityLadder
from qaware.testing import emt_two_level_cells, made_up_top_energy
from qaware.validator.config import ModelConfig

LADDER = FidelityLadder((Fidelity("EMT", weight=0.3), Fidelity("TOP", weight=1.0)))


top_energy = made_up_top_energy  # a made-up higher level: scaled EMT plus 0.2 eV per Al atom
emt_structures = emt_two_level_cells  # rattled Cu/CuAl cells, EMT on all, TOP on every third


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
