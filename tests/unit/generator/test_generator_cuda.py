"""The diffusion generator on a CUDA GPU: the CPU's loss, the CPU's samples (same seed, same
noise: draws stay on the CPU), symmetry kept, and GPU training / fine-tuning whose checkpoints
reload on the CPU. Skipped without a GPU (CI has none)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

from qaware.generator.batch import collate_templates
from qaware.generator.checkpoint import load_bundle
from qaware.generator.denoiser import DenoiserConfig
from qaware.generator.diffusion import DiffusionConfig
from qaware.generator.diffusion_generator import DiffusionGenerator
from qaware.generator.sampler import SamplerConfig, sample
from qaware.generator.train import TrainConfig, prepare_training_set, train
from qaware.generator.wyckoff import symmetry_error

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none here)"
)
SMALL = DiffusionConfig(denoiser=DenoiserConfig(hidden=32, layers=2))


def test_the_loss_on_the_gpu_is_the_cpus(tiny_bundle, perov) -> None:
    cpu = tiny_bundle.model
    gpu = copy.deepcopy(cpu).to("cuda")
    data = prepare_training_set(perov[:12], descriptor_keys=("heat_ref", "dir_gap"))
    batch = collate_templates(data.templates, dtype=cpu.dtype)
    xyz0, k0 = data.anchors_and_lattice(range(len(data.templates)), batch.orbit_mask.shape[1])
    for seed in range(3):
        with torch.no_grad():
            a = cpu.loss(batch, xyz0, k0, data.cond, generator=torch.Generator().manual_seed(seed))
            b = gpu.loss(batch, xyz0, k0, data.cond, generator=torch.Generator().manual_seed(seed))
        assert b.total.device.type == "cuda"
        assert float(b.total) == pytest.approx(float(a.total), rel=1e-4)


def test_gpu_samples_are_the_cpus_and_keep_the_symmetry(tiny_bundle) -> None:
    templates = tiny_bundle.library.templates[:16]
    config = SamplerConfig(n_steps=10)
    cpu = sample(tiny_bundle.model, templates, seed=0, config=config).structures
    gpu_model = copy.deepcopy(tiny_bundle.model).to("cuda")
    gpu = sample(gpu_model, templates, seed=0, config=config).structures
    for a, b, template in zip(cpu, gpu, templates, strict=True):
        # float32 kernels sum in another order: 10 steps drift by ~1e-4 (relative) here
        assert (a.numbers == b.numbers).all()
        np.testing.assert_allclose(b.cell.array, a.cell.array, rtol=1e-3, atol=1e-3)
        d = b.get_scaled_positions(wrap=False) - a.get_scaled_positions(wrap=False)
        assert np.abs(d - np.round(d)).max() < 5e-3  # the same point modulo the cell
        resolution = 16 * float(np.finfo(np.float32).eps) * max(1.0, b.cell.lengths().max())
        assert symmetry_error(b, template.space_group) < resolution  # as on the CPU
    generated = sample(
        gpu_model, [t.with_species([0] * len(t.orbits)) for t in templates], seed=1,
        config=config, generate_species=True, allowed_species=[8, 22, 38],
    ).structures  # fmt: skip
    assert all(set(a.numbers) <= {8, 22, 38} and a.get_volume() > 0 for a in generated)


def test_training_and_fine_tuning_on_the_gpu_reload_on_the_cpu(perov, tmp_path) -> None:
    config = TrainConfig(steps=20, batch_size=8, checkpoint_every=10, progress=False, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle, history = train(perov[:8], tmp_path, config=config, model_config=SMALL)
        assert bundle.model.device.type == "cuda"
        assert np.isfinite([h["total"] for h in history]).all()
        longer = TrainConfig(steps=24, batch_size=8, progress=False, device="cuda")
        _, more = train(perov[:8], tmp_path, config=longer, model_config=SMALL, resume=True)
    assert [h["step"] for h in more] == [21, 22, 23, 24]
    reloaded, _ = load_bundle(tmp_path / "model.pt")  # the CPU, whatever trained it
    assert next(reloaded.model.parameters()).device.type == "cpu"
    on_gpu = DiffusionGenerator(reloaded, nfe_budget=20, device="cuda")
    record = on_gpu.fine_tune(perov[:4], steps=3, seed=0)
    assert record["steps"] == 3 and np.isfinite([record["loss_before"], record["loss_after"]]).all()
    structures = on_gpu.sample(4, seed=0, conditions={"composition": "SrTiO3"})
    assert all(a.get_chemical_formula(empirical=True) == "O3SrTi" for a in structures)
