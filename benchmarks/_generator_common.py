"""Helpers every section of benchmarks/generator.py shares (a structure's composition, JSON-safe
numbers, timing a call), kept apart so the section modules can use them too."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _composition(atoms) -> dict[int, int]:
    z, c = np.unique(atoms.numbers, return_counts=True)
    return {int(a): int(b) for a, b in zip(z, c, strict=True)}


def _num(x: float) -> float | None:
    """JSON-safe: NaN (e.g. the RMSE of zero matches) becomes null."""
    return None if x is None or not np.isfinite(x) else float(x)


def _timed(fn, *args, **kwargs) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
