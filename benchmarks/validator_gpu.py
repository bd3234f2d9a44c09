"""MF-ENNP on a CUDA GPU against the CPU of the same machine: energy + forces per call, batched
scoring throughput and training throughput, for the quick-start architecture and a wider one.

    python benchmarks/validator_gpu.py [--frames 1024] [--epochs 2] [--repeats 20]

Needs a CUDA GPU (exits 2 without one: it measures nothing here). Data: the quick-start
validator checkpoint (E+F, scoring) and data/perov_standin (training frames). Timings only:
the models are not trained to convergence, so no accuracy is claimed. Neighbour lists are built
on the CPU in every case (qaware.validator.neighbours); the scoring numbers include them.
Writes ``benchmarks/results/validator_gpu.json``; ``QAWARE_SOURCE_COMMIT`` (when set) names the
source commit of a working tree copied onto a GPU machine, whose provenance ``git`` field then
shows that copy's own (possibly stale) HEAD.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from train_quickstart_validator import (
    DATA,
    LEVELS,
    labelled_frames,
    quickstart_ladder,
    quickstart_model_config,
)

from _gpu_common import add_devices_option, add_gpu_over_cpu, device_context, devices_or_none
from _provenance import RESULTS, Recorder
from qaware.datasets.spec import level_key
from qaware.validator import MFValidator, TrainConfig
from qaware.validator.workflow import load_references

CHECKPOINT = Path(__file__).resolve().parents[1] / "src/qaware/data/models/validator_quickstart.pt"
WIDE = {"channels": 32, "n_layers": 3, "l_max": 2, "radial_hidden": 32}  # a larger model


def _cells() -> dict[str, Any]:
    from ase import Atoms
    from ase.build import bulk

    return {
        "MgO_64": bulk("MgO", "rocksalt", a=4.21, cubic=True).repeat((2, 2, 2)),
        "SrTiO3_5": Atoms(
            "SrTiO3",
            scaled_positions=[
                [0, 0, 0],
                [0.5, 0.5, 0.5],
                [0.5, 0.5, 0],
                [0.5, 0, 0.5],
                [0, 0.5, 0.5],
            ],
            cell=[3.905] * 3,
            pbc=True,
        ),
    }


def energy_forces_ms(validator: MFValidator, repeats: int) -> dict[str, float]:
    """Milliseconds per E+F call of the ASE calculator (top level), after one warm-up call."""
    calc = validator.calculator(LEVELS[-1])
    out = {}
    for name, atoms in _cells().items():
        atoms = atoms.copy()
        calc.calculate(atoms, ["energy", "forces"], ["positions"])
        start = time.perf_counter()
        for _ in range(repeats):
            calc.calculate(atoms, ["energy", "forces"], ["positions"])
        out[name] = 1e3 * (time.perf_counter() - start) / repeats
    return out


def scoring_per_s(validator: MFValidator, n: int, batch_size: int) -> float:
    """Structures per second through ``predict`` (5-atom cells, neighbour lists included)."""
    rng = np.random.default_rng(0)
    cell = _cells()["SrTiO3_5"]
    frames = []
    for _ in range(n):
        atoms = cell.copy()
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        frames.append(atoms)
    validator.batch_size = batch_size
    validator.predict(frames[:batch_size])  # warm-up
    start = time.perf_counter()
    validator.predict(frames)
    return n / (time.perf_counter() - start)


def training_per_s(frames, refs, device: str, epochs: int, wide: bool) -> float:
    """Training structures per second over ``epochs`` epochs (after model initialisation)."""
    config = quickstart_model_config(tuple(sorted({s for a in frames for s in a.symbols})), 0)
    if wide:
        config = replace(config, **WIDE)
    labels = {lv: [a.info[f"energy_{level_key(lv)}"] for a in frames] for lv in LEVELS}
    validator = MFValidator(
        quickstart_ladder(), refs, model_config=config, device=device,
        train_config=TrainConfig(epochs=epochs, batch_size=16, validation_fraction=0.0,
                                 patience=epochs + 1, bootstrap=True),
    )  # fmt: skip
    torch.manual_seed(0)
    validator.fit(frames, labels)
    assert validator.last_fit is not None
    seconds = sum(e.seconds for e in validator.last_fit.history)
    return len(frames) * len(validator.last_fit.history) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1024, help="training frames")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--score", type=int, default=4096, help="structures scored")
    add_devices_option(parser)
    args = parser.parse_args(argv)
    devices = devices_or_none(args.devices, "validator_gpu")
    if devices is None:
        return 2
    data = DATA / "perov_standin.extxyz.gz"
    rec = Recorder("validator_gpu", seeds={"torch": 0, "rattle": 0}, data_files=[data, CHECKPOINT])
    frames = labelled_frames(data)[: args.frames]
    refs = load_references(DATA / "references.json", LEVELS)
    results: dict[str, Any] = {
        **device_context(),
        "frames": len(frames),
        "epochs": args.epochs,
        "wide_model": WIDE,
    }
    for device in devices:
        validator = MFValidator.load(CHECKPOINT, device=device)
        entry: dict[str, Any] = {"energy_forces_ms": energy_forces_ms(validator, args.repeats)}
        for batch in (64, 512):
            entry[f"scoring_per_s_batch{batch}"] = scoring_per_s(validator, args.score, batch)
        for wide in (False, True):
            name = "training_per_s_" + ("wide" if wide else "quickstart")
            entry[name] = training_per_s(frames, refs, device, args.epochs, wide)
        results[device] = entry
        print(device, entry, flush=True)
    add_gpu_over_cpu(results, devices, ("scoring", "training"))
    rec.write(RESULTS / "validator_gpu.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
