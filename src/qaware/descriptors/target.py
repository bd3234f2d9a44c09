"""A guidance target q from a file: the vector itself, or "more like these" via the proxy.

One reader for ``qaware generate --descriptors`` and a campaign's ``generator.descriptors``:

* a ``.json`` file: a list of numbers, ``{"q": [...]}``, ``{"descriptors": [...]}``, or an
  oracle's descriptor dict (keys ``dos``, ``gap``, ``elf``, ``response``);
* any other file is read as structures (CIF, extxyz, CDVAE CSV...): the target is the descriptor
  proxy's mean prediction over them, so a user can ask for candidates like known materials
  without computing their q.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from qaware.errors import ConfigError

__all__ = ["descriptor_target"]


def _from_json(path: Path) -> np.ndarray:
    from qaware.descriptors import DESCRIPTOR_KEYS, descriptor_vector_from_dict

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read descriptor target ({exc})") from None
    if isinstance(data, dict):
        for key in ("q", "descriptors"):
            if key in data:
                data = data[key]
                break
    if isinstance(data, dict):
        if not all(k in data for k in DESCRIPTOR_KEYS):
            raise ConfigError(
                f"{path}: give a list, {{'q': [...]}}, {{'descriptors': [...]}} or the keys "
                f"{DESCRIPTOR_KEYS}"
            )
        return np.asarray(descriptor_vector_from_dict(data), dtype=float)
    if not isinstance(data, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in data
    ):
        raise ConfigError(f"{path}: descriptor target must be a list of numbers")
    q = np.asarray(data, dtype=float)
    if not np.all(np.isfinite(q)):
        raise ConfigError(f"{path}: descriptor target has a non-finite value")
    return q


def descriptor_target(path: str | Path, proxy: Any = None) -> np.ndarray:
    """q (1-D) to guide sampling toward, read from ``path`` (see the module docstring).

    proxy: a :class:`~qaware.descriptors.proxy.DescriptorProxy`; required for a structure file.
    Raises ConfigError naming ``path`` for anything unreadable.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        return _from_json(path)
    if proxy is None:
        raise ConfigError(
            f"{path}: a structure file as the descriptor target needs the descriptor proxy "
            "(its q comes from the proxy's prediction): set generator.proxy in a campaign, "
            "--proxy on the command line, or give a JSON file with q"
        )
    from qaware.structures.io import read_structures

    structures = list(read_structures(path))
    if not structures:
        raise ConfigError(f"{path}: holds no structure")
    return np.asarray(proxy.predict(structures), dtype=float).mean(axis=0)
