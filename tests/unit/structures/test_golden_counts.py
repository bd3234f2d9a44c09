"""All 11,634 CDVAE val/test structures of perov_5 and carbon_24 read and validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaware.structures import read_structures

GOLDEN = {
    "perov_5/val.csv": 3787,
    "perov_5/test.csv": 3785,
    "carbon_24/val.csv": 2032,
    "carbon_24/test.csv": 2030,
}


@pytest.mark.slow  # about 20 s on one core (~1.7 ms per structure, pymatgen's CIF parser)
def test_every_shared_structure_parses(shared_data: Path):
    total = 0
    for name, count in GOLDEN.items():
        batch = read_structures(shared_data / name)
        assert batch.skipped == []
        assert len(batch) == count, name
        assert batch[-1].info["index"] == count - 1
        total += len(batch)
    assert total == 11_634
