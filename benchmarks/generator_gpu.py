"""The crystal diffusion generator on a CUDA GPU against the CPU of the same machine: training
steps per second (the package default model and DiffCSP's size) and sampled structures per
second (the quick-start checkpoint).

    python benchmarks/generator_gpu.py [--steps 50] [--samples 256]

Needs a CUDA GPU (exits 2 without one). Data: ``src/qaware/data/quickstart_seeds.extxyz`` (172
perov-5 cells; training throughput only, the models are not trained to convergence) and the
quick-start generator checkpoint. Writes ``benchmarks/results/generator_gpu.json``;
``QAWARE_SOURCE_COMMIT`` names the source commit of a working tree copied onto a GPU machine.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _gpu_common import add_devices_option, add_gpu_over_cpu, device_context, devices_or_none
from _provenance import REPO, RESULTS, Recorder
from qaware.generator.denoiser import DenoiserConfig
from qaware.generator.diffusion import DiffusionConfig
from qaware.generator.diffusion_generator import DiffusionGenerator
from qaware.generator.train import initial_model, prepare_training_set, train_step
from qaware.structures import read_structures

SEEDS = REPO / "src/qaware/data/quickstart_seeds.extxyz"
CHECKPOINT = REPO / "src/qaware/data/models/generator_quickstart.pt"
SIZES = {"default_128x4": (128, 4), "diffcsp_512x6": (512, 6)}


def train_steps_per_s(data, device: str, hidden: int, layers: int, steps: int) -> float:
    """Adam steps per second (batch 64, collation included) after 3 warm-up steps; the
    training set's templates are prepared once beforehand, as in :func:`train`."""
    config = DiffusionConfig(denoiser=DenoiserConfig(hidden=hidden, layers=layers))
    torch.manual_seed(0)
    model = initial_model(data, config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    n = len(data.templates)

    def step() -> None:
        index = torch.randint(n, (64,), generator=gen).tolist()
        train_step(model, optimizer, data, index, gen, grad_clip=1.0)

    for _ in range(3):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def samples_per_s(device: str, n: int) -> float:
    """Structures per second from the quick-start model (200 network evaluations each)."""
    gen = DiffusionGenerator.load(CHECKPOINT, device=device, nfe_budget=200)
    gen.sample(8, seed=1, conditions={"elements": ["Sr", "Ti", "O"]})  # warm-up
    start = time.perf_counter()
    gen.sample(n, seed=0, conditions={"elements": ["Sr", "Ti", "Fe", "O"]})
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="timed training steps")
    parser.add_argument("--samples", type=int, default=256)
    add_devices_option(parser)
    args = parser.parse_args(argv)
    devices = devices_or_none(args.devices, "generator_gpu")
    if devices is None:
        return 2
    rec = Recorder("generator_gpu", seeds={"torch": 0, "sample": 0}, data_files=[SEEDS, CHECKPOINT])
    structures = list(read_structures(SEEDS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = prepare_training_set(structures)
    results: dict[str, Any] = {
        **device_context(),
        "training_structures": len(structures),
        "timed_steps": args.steps,
    }
    for device in devices:
        entry: dict[str, Any] = {}
        for name, (hidden, layers) in SIZES.items():
            steps = train_steps_per_s(data, device, hidden, layers, args.steps)
            entry[f"train_steps_per_s_{name}"] = steps
        entry["samples_per_s_quickstart"] = samples_per_s(device, args.samples)
        results[device] = entry
        print(device, entry, flush=True)
    add_gpu_over_cpu(results, devices, ("train", "samples"))
    rec.write(RESULTS / "generator_gpu.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
