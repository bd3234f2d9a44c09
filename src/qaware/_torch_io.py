"""Read a ``torch.save`` file of plain containers and tensors, with one clear error.

``torch.load`` fails in many ways on a file that is not a checkpoint (truncated, another
format, plain text): ``RuntimeError``, ``UnpicklingError``, ``EOFError``, ``struct.error``.
Every model loader of the package says the same thing instead: which file, and that it could
not be read as the kind of model it should hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qaware.errors import ConfigError

__all__ = ["load_payload"]


def load_payload(path: str | Path, what: str) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; ConfigError naming ``path`` and
    ``what`` (e.g. "generator checkpoint") when the file is missing or unreadable."""
    import torch

    try:
        return torch.load(Path(path), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises a different type for each way a file can be bad
        raise ConfigError(f"{path}: cannot read {what} ({type(exc).__name__}: {exc})") from exc
