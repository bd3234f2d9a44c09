"""What the GPU benchmarks (validator_gpu.py, generator_gpu.py) share: the --devices option,
the refusal without a GPU, the context every result carries, and the GPU/CPU ratios."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import torch


def add_devices_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--devices", default="cpu,cuda", help="comma-separated, in order")


def devices_or_none(text: str, benchmark: str) -> list[str] | None:
    """The devices of ``--devices``; None (after saying why) when CUDA is asked for but absent."""
    devices = text.split(",")
    if "cuda" in devices and not torch.cuda.is_available():
        print(f"{benchmark}: torch sees no CUDA GPU; nothing to measure", file=sys.stderr)
        return None
    return devices


def device_context() -> dict[str, Any]:
    """GPU, torch, CPU threads, and ``QAWARE_SOURCE_COMMIT``: the source commit of a working
    tree copied onto a GPU machine (whose own git HEAD the provenance then shows)."""
    return {
        "source_commit": os.environ.get("QAWARE_SOURCE_COMMIT"),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
    }


def add_gpu_over_cpu(results: dict[str, Any], devices: list[str], prefixes: tuple[str, ...]):
    """``results["gpu_over_cpu"]``: cuda / cpu for the rates whose names start with ``prefixes``
    (when both devices ran); printed too."""
    if {"cpu", "cuda"} <= set(devices):
        cpu, gpu = results["cpu"], results["cuda"]
        results["gpu_over_cpu"] = {k: gpu[k] / cpu[k] for k in cpu if k.startswith(prefixes)}
        print(results["gpu_over_cpu"])
