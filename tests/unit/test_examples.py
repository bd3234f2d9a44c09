"""Every example config parses and its oracles build (no calculation is run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaware.config_io import load_config
from qaware.oracles.factory import build_oracle

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_parses_and_builds_its_oracles(path):
    pytest.importorskip("pyscf")
    pytest.importorskip("gpaw")
    config = load_config(path)
    oracles = [build_oracle(s, index=i, base_dir=path.parent) for i, s in enumerate(config.oracles)]
    assert [o.level for o in oracles] == [f.name for f in config.fidelities]


def test_there_are_examples():
    assert len(EXAMPLES) >= 2
