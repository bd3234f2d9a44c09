"""Model checkpoints: config + weights + fitted references + training metadata, with sha256.

One file written by ``torch.save`` holding only plain Python values and tensors (so it loads with
``torch.load(weights_only=True)``), and a sidecar ``<file>.sha256`` in ``sha256sum`` format. A
run directory stores the same file through :meth:`qaware.store.RunDirectory.save_model`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from qaware._canonical import file_sha256
from qaware._torch_io import load_payload
from qaware.errors import ConfigError
from qaware.validator.config import ModelConfig
from qaware.validator.model import MFENNP

__all__ = ["FORMAT", "load_checkpoint", "plain_metadata", "save_checkpoint", "sha256_of"]

FORMAT = "qaware-mfennp/1"


def plain_metadata(value: Any) -> Any:
    """``value`` with string keys and lists for tuples, all the way down: what
    ``torch.load(weights_only=True)`` and JSON both read back as written."""
    if isinstance(value, dict):
        return {str(k): plain_metadata(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_metadata(v) for v in value]
    return value


def sha256_of(path: str | Path) -> str:
    """sha256 (hex) of a checkpoint file."""
    return file_sha256(path)


def save_checkpoint(
    model: MFENNP, path: str | Path, *, metadata: Mapping[str, Any] | None = None
) -> str:
    """Write ``path`` and ``path.sha256`` atomically; return the sha256 (hex).

    metadata: JSON-like extras (training config, history, data checksums) kept with the weights.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = model.config
    mu = model.reference_energies.detach().cpu()
    payload = {
        "format": FORMAT,
        "config": config.to_dict(),
        "dtype": str(model.dtype).removeprefix("torch."),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "reference_energies_ev": {
            level: {el: float(mu[f, z]) for z, el in enumerate(config.species)}
            for f, level in enumerate(config.levels)
        },
        "metadata": dict(metadata or {}),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    digest = sha256_of(path)
    side = path.with_name(path.name + ".sha256")
    side_tmp = side.with_name(side.name + ".tmp")
    side_tmp.write_text(f"{digest}  {path.name}\n")
    os.replace(side_tmp, side)
    return digest


def load_checkpoint(path: str | Path, *, verify: bool = True) -> tuple[MFENNP, dict[str, Any]]:
    """(model in eval mode, metadata). With ``verify``, a sidecar sha256 must match the file.

    Raises ConfigError naming the file when the checksum or the format does not match.
    """
    path = Path(path)
    side = path.with_name(path.name + ".sha256")
    if verify and side.exists():
        expected = side.read_text().split()[0]
        actual = sha256_of(path)
        if actual != expected:
            raise ConfigError(f"{path}: sha256 {actual} does not match {side.name} ({expected})")
    payload = load_payload(path, "MF-ENNP checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"{path}: not an MF-ENNP checkpoint (format {FORMAT} expected)")
    model = MFENNP(ModelConfig.from_dict(payload["config"]))
    model = model.to(getattr(torch, payload.get("dtype", "float32")))
    state = dict(payload["state_dict"])
    state.setdefault("std_floor", torch.zeros_like(model.std_floor))  # written before the floor
    state.setdefault("correction_factor", torch.ones_like(model.correction_factor))  # and this
    model.load_state_dict(state)
    return model.eval(), dict(payload.get("metadata", {}))
