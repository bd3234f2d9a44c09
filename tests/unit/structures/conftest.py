"""Fixtures for the structures tests: small real structures and the shared data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from ase import Atoms

from qaware.structures import read_structures

TESTS = Path(__file__).resolve().parents[2]
STRUCTURES = TESTS / "data" / "structures"
BAD = TESTS / "data" / "bad"
REPO = TESTS.parent


@pytest.fixture(scope="session")
def perov() -> list[Atoms]:
    """20 perov_5 structures (5 atoms, ABX3) from CDVAE's val split."""
    return list(read_structures(STRUCTURES / "perov_5_val_20.csv"))


@pytest.fixture(scope="session")
def carbon() -> list[Atoms]:
    """20 carbon_24 structures (6-24 C atoms, low symmetry) from CDVAE's val split."""
    return list(read_structures(STRUCTURES / "carbon_24_val_20.csv"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data``, the CDVAE CSVs; skips when this checkout has none beside it."""
    path = REPO.parent / "shared" / "data"
    if not (path / "perov_5" / "val.csv").is_file():
        pytest.skip(f"shared data folder not found at {path} (needs perov_5/, carbon_24/ CSVs)")
    return path
