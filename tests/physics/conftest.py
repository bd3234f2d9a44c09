"""Small random MF-ENNP models in float64 and the adapters the physics helpers call."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from ase import Atoms

from qaware.validator.config import ModelConfig
from qaware.validator.graph import batch_graph
from qaware.validator.model import MFENNP

LEVELS = ("PBE", "r2SCAN", "CCSD(T)")
SPECIES = ("H", "O", "Mg", "Ti")


def make_model(**overrides) -> MFENNP:
    """A tiny random float64 model with non-trivial references and scales (eval mode)."""
    settings = dict(
        levels=LEVELS,
        species=SPECIES,
        cutoff=3.5,
        channels=6,
        n_layers=2,
        radial_hidden=16,
        n_conditioned_blocks=1,
        fidelity_dim=4,
        readout_hidden=8,
        head_hidden=8,
        n_heads=3,
        avg_num_neighbours=8.0,
        residual_levels=False,  # independent heads; the Δ-learning tests ask for True
        seed=1,
    )
    settings.update(overrides)
    model = MFENNP(ModelConfig(**settings)).double()
    rng = np.random.default_rng(7)
    with torch.no_grad():
        model.reference_energies.copy_(torch.as_tensor(rng.normal(-3, 1, (len(LEVELS), 4))))
        model.energy_scale.copy_(torch.tensor([0.5, 0.7, 0.9]))
    return model.eval()


def make_delta_model(**overrides) -> MFENNP:
    """:func:`make_model` with Δ-learning heads (the package default), their corrections made
    non-zero (they start at zero, which would make every upper level a copy of the one below)."""
    model = make_model(residual_levels=True, **overrides)
    model.load_state_dict(make_model(**overrides).state_dict())
    return model.eval()


@pytest.fixture(scope="module", params=["independent", "delta"])
def model(request: pytest.FixtureRequest) -> MFENNP:
    """Every physics test runs on both head kinds: independent heads and Δ-learning heads."""
    return make_model() if request.param == "independent" else make_delta_model()


def graph_of(model: MFENNP, structures: list[Atoms]):
    """The batch graph of ``structures`` in float64, on the model's device."""
    return batch_graph(
        structures, model.config.cutoff, model.config.species, torch.float64, model.device
    )


def energy_and_forces(
    model: MFENNP, level: int = -1
) -> Callable[[Atoms], tuple[float, np.ndarray]]:
    index = level % model.config.n_levels

    def run(atoms: Atoms) -> tuple[float, np.ndarray]:
        out = model.compute(graph_of(model, [atoms]), level=index)
        assert out.forces is not None
        return float(out.energy[0, index].detach()), out.forces.detach().cpu().numpy()

    return run


def energy_and_stress(model: MFENNP, level: int = -1):
    index = level % model.config.n_levels

    def energy(atoms: Atoms) -> float:
        with torch.no_grad():
            return float(model(graph_of(model, [atoms])).energy[0, index])

    def stress(atoms: Atoms) -> np.ndarray:
        out = model.compute(graph_of(model, [atoms]), level=index, forces=False, stress=True)
        assert out.stress is not None
        return out.stress[0].detach().cpu().numpy()

    return energy, stress


def skewed_cell(seed: int = 0) -> Atoms:
    """4 atoms in a small triclinic cell: each atom sees several of its own images."""
    rng = np.random.default_rng(seed)
    cell = np.array([[2.9, 0.0, 0.0], [1.6, 2.6, 0.0], [0.7, 0.9, 2.8]])
    atoms = Atoms("MgTiO2", cell=cell, pbc=True, scaled_positions=rng.random((4, 3)))
    atoms.positions += rng.normal(0, 0.05, (4, 3))
    return atoms


def cluster(seed: int = 0) -> Atoms:
    """A non-periodic 5-atom cluster with every pair between 1 and 3 Å."""
    rng = np.random.default_rng(seed)
    pos = [[0.0, 0.0, 0.0]]
    while len(pos) < 5:
        trial = rng.normal(0, 1.3, 3)
        d = np.linalg.norm(np.array(pos) - trial, axis=1)
        if d.min() > 1.0 and d.max() < 3.0:
            pos.append(trial)
    return Atoms("TiOOHH", positions=pos)
