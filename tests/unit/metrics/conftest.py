"""Fixtures for the metrics tests: the CDVAE test splits in ../shared/data (skipped if absent)."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import pytest
from ase import Atoms

from qaware.structures.cdvae_csv import iter_cdvae_csv_text

REPO = Path(__file__).resolve().parents[3]


def _split(name: str, rows: int) -> list[Atoms]:
    path = REPO.parent / "shared" / "data" / name / "test.csv"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    with path.open(newline="") as handle:  # parse only the rows we need (the files are large)
        reader = csv.reader(handle)
        head = [next(reader) for _ in range(rows + 1)]
    text = io.StringIO()
    csv.writer(text).writerows(head)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        items = list(iter_cdvae_csv_text(text.getvalue()))
    assert all(isinstance(a, Atoms) for a in items)
    return items


@pytest.fixture(scope="session")
def perov_test() -> list[Atoms]:
    """The first 300 rows of perov_5/test.csv."""
    return _split("perov_5", 300)


@pytest.fixture(scope="session")
def carbon_test() -> list[Atoms]:
    """The first 120 rows of carbon_24/test.csv."""
    return _split("carbon_24", 120)
