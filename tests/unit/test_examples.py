"""Every example config parses and its oracles build (no calculation is run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qaware.config_io import load_config
from qaware.oracles.factory import build_oracle

FOLDER = Path(__file__).resolve().parents[2] / "examples"
TRAINING = sorted(FOLDER.glob("train_validator_*.yaml"))  # qaware train-validator configs
EXAMPLES = sorted(set(FOLDER.glob("*.yaml")) - set(TRAINING))  # campaign configs


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_parses_and_builds_its_oracles(path):
    pytest.importorskip("pyscf")
    pytest.importorskip("gpaw")
    config = load_config(path)
    oracles = [build_oracle(s, index=i, base_dir=path.parent) for i, s in enumerate(config.oracles)]
    assert [o.level for o in oracles] == [f.name for f in config.fidelities]


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


def test_every_live_example_has_a_training_config_for_its_validator():
    """A campaign example's validator checkpoint is written by one train_validator_*.yaml
    whose ladder is the campaign's, on data that exist in the repository."""
    from qaware.validator.run_config import load_train_validator_config

    outputs = {}
    for path in TRAINING:
        training = load_train_validator_config(path)
        assert all(p.is_file() for p in training.data), path.name
        outputs[training.output.resolve()] = [lv.name for lv in training.ladder]
    assert len(outputs) == len(TRAINING) >= 2
    for path in EXAMPLES:
        config = load_config(path)
        if config.validator.checkpoint is None:
            continue  # the bundled quick-start model
        checkpoint = (path.parent / config.validator.checkpoint).resolve()
        assert checkpoint in outputs, f"{path.name}: no train_validator_*.yaml writes it"
        assert outputs[checkpoint] == [f.name for f in config.fidelities], path.name
