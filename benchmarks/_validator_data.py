"""The perov-5 stand-in data set of benchmarks/validator.py: where it lives, which families test
and validate, and the label variants its ablations train on (out of validator.py: one concept)."""

from __future__ import annotations

import numpy as np
from train_quickstart_validator import LEVELS

from _provenance import REPO
from qaware.datasets.spec import level_key

DATA = REPO / "data" / "perov_standin"
TEST_FAMILY = "X3=ONF"
VALIDATION_FAMILY = "X3=ON2"


def _frames_with(frames: list, keep: tuple[str, ...]) -> list:
    """Copies of ``frames`` that carry only the labels of levels ``keep``."""
    drop = [level_key(x) for x in LEVELS if x not in keep]
    out = []
    for atoms in frames:
        a = atoms.copy()
        for k in drop:
            for key in (f"energy_{k}", f"stress_{k}"):
                a.info.pop(key, None)
            a.arrays.pop(f"forces_{k}", None)
        out.append(a)
    return out


def _sparsify_top(frames: list, fraction: float, seed: int) -> list:
    """Drop the top-level labels of all but ``fraction`` of the non-test frames."""
    rng = np.random.default_rng(seed)
    k = level_key(LEVELS[-1])
    out = []
    for atoms in frames:
        a = atoms.copy()
        if a.info["tag"] != TEST_FAMILY and rng.random() >= fraction:
            a.info.pop(f"energy_{k}", None)
            a.info.pop(f"stress_{k}", None)
            a.arrays.pop(f"forces_{k}", None)
        out.append(a)
    return out


def _spanning_split(frames: list, share: float, seed: int) -> tuple[list, tuple[str, ...]]:
    """Copies whose ``info["split"]`` moves a seeded ``share`` of every training family's frames
    to a held-out group ``held:<family>``; the validation groups are those plus the validation
    family. Calibration then sees errors of several families, not of one."""
    rng = np.random.default_rng(seed)
    out, held = [], set()
    for atoms in frames:
        a = atoms.copy()
        tag = a.info["tag"]
        a.info["split"] = tag
        if tag not in (TEST_FAMILY, VALIDATION_FAMILY) and rng.random() < share:
            a.info["split"] = f"held:{tag}"
            held.add(a.info["split"])
        out.append(a)
    return out, (VALIDATION_FAMILY, *sorted(held))
