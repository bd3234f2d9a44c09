"""Training: the loss falls on a tiny set; checkpoints resume; inputs are checked."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from qaware.errors import ConfigError
from qaware.generator.batch import collate_templates
from qaware.generator.checkpoint import load_bundle
from qaware.generator.denoiser import DenoiserConfig
from qaware.generator.diffusion import DiffusionConfig
from qaware.generator.train import (
    TrainConfig,
    descriptor_matrix,
    prepare_training_set,
    train,
)

SMALL = DiffusionConfig(denoiser=DenoiserConfig(hidden=32, layers=2))


def _fixed_loss(bundle, data) -> float:
    """Mean loss over 8 fixed noise draws of the whole set (same draws before and after)."""
    model = bundle.model
    batch = collate_templates(data.templates, dtype=model.dtype)
    xyz0, k0 = data.anchors_and_lattice(range(len(data.templates)), batch.orbit_mask.shape[1])
    with torch.no_grad():
        losses = [
            model.loss(batch, xyz0, k0, generator=torch.Generator().manual_seed(s)).total
            for s in range(8)
        ]
    return float(torch.stack(losses).mean())


def test_loss_decreases_on_a_tiny_set(perov, tmp_path) -> None:
    structures = perov[:8]
    data = prepare_training_set(structures)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        untrained, _ = train(
            structures,
            tmp_path / "a",
            config=TrainConfig(steps=1, progress=False),
            model_config=SMALL,
        )
        before = _fixed_loss(untrained, data)
        trained, history = train(
            structures,
            tmp_path / "b",
            config=TrainConfig(steps=150, batch_size=8, progress=False),
            model_config=SMALL,
        )
    after = _fixed_loss(trained, data)
    assert after < 0.7 * before, (before, after)
    assert len(history) == 150
    lines = (tmp_path / "b" / "history.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 150
    assert (tmp_path / "b" / "model.pt").exists() and (tmp_path / "b" / "last.pt").exists()


def test_training_resumes_from_the_last_checkpoint(perov, tmp_path) -> None:
    config = TrainConfig(steps=4, batch_size=4, checkpoint_every=2, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(perov[:4], tmp_path, config=config, model_config=SMALL)
        longer = TrainConfig(steps=6, batch_size=4, checkpoint_every=2, progress=False)
        _, history = train(perov[:4], tmp_path, config=longer, model_config=SMALL, resume=True)
    assert [r["step"] for r in history] == [5, 6]
    _, extra = load_bundle(tmp_path / "last.pt")
    assert extra["step"] == 6


def test_descriptor_matrix_reads_info_and_marks_missing_rows(perov, carbon) -> None:
    q = descriptor_matrix([perov[0], carbon[0]], ["heat_ref", "dir_gap"])
    assert q.shape == (2, 2)
    assert q[0, 0].item() == pytest.approx(perov[0].info["heat_ref"])
    assert torch.isnan(q[1]).all()
    with pytest.raises(ConfigError, match="'band_gap'"):
        descriptor_matrix(perov[:2], ["band_gap"])


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path) -> None:
    bad = tmp_path / "x.pt"
    torch.save({"format": "something else"}, bad)
    with pytest.raises(ConfigError, match="not a"):
        load_bundle(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_bundle(tmp_path / "missing.pt")
