"""Fixtures for the generator tests: real perov-5 / carbon-24 structures and their templates."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from ase import Atoms

from qaware.generator.wyckoff import WyckoffTemplate, template_from_structure
from qaware.structures import read_structures

STRUCTURES = Path(__file__).resolve().parents[2] / "data" / "structures"


@pytest.fixture(scope="session")
def perov() -> list[Atoms]:
    """20 perov_5 structures (5 atoms, ABX3) from CDVAE's val split."""
    return list(read_structures(STRUCTURES / "perov_5_val_20.csv"))


@pytest.fixture(scope="session")
def carbon() -> list[Atoms]:
    """20 carbon_24 structures (6-24 C atoms, low symmetry) from CDVAE's val split."""
    return list(read_structures(STRUCTURES / "carbon_24_val_20.csv"))


def _templates(structures: list[Atoms]) -> list[WyckoffTemplate]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [template_from_structure(a) for a in structures]


@pytest.fixture(scope="session")
def perov_templates(perov: list[Atoms]) -> list[WyckoffTemplate]:
    return _templates(perov)


@pytest.fixture(scope="session")
def carbon_templates(carbon: list[Atoms]) -> list[WyckoffTemplate]:
    return _templates(carbon)


@pytest.fixture(scope="session")
def tiny_bundle(perov, carbon, tmp_path_factory):
    """A tiny model (32 hidden, 2 layers) trained for 60 steps on the 40 fixture structures,
    conditioned on the perovskites' ``heat_ref`` and ``dir_gap`` (carbon rows: no condition)."""
    import torch

    from qaware.generator.denoiser import DenoiserConfig
    from qaware.generator.diffusion import DiffusionConfig
    from qaware.generator.train import TrainConfig, train

    torch.manual_seed(0)
    config = TrainConfig(
        steps=60, batch_size=40, progress=False, descriptor_keys=("heat_ref", "dir_gap")
    )
    model_config = DiffusionConfig(denoiser=DenoiserConfig(hidden=32, layers=2))
    out = tmp_path_factory.mktemp("tiny_generator")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle, _ = train(perov + carbon, out, config=config, model_config=model_config)
    bundle.meta["path"] = str(out / "model.pt")
    return bundle
