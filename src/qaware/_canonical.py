"""Canonical JSON and its sha256: the one way qaware hashes settings and configurations.

Two objects that mean the same (keys in another order, tuples for lists, numpy scalars for
floats) give the same text and so the same hash: oracle settings hashes, config hashes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import PurePath
from typing import Any

__all__ = ["canonical_json", "canonical_sha256", "file_sha256"]


def _plain(value: Any) -> Any:
    """Turn a settings value into plain JSON types, deterministically."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=repr)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN/inf; keep them distinct from each other
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, PurePath):
        return str(value)
    if callable(value):
        return f"{getattr(value, '__module__', '?')}:{getattr(value, '__qualname__', repr(value))}"
    return repr(value)


def canonical_json(obj: Mapping[str, Any]) -> str:
    """Sorted-key, whitespace-free JSON of ``obj`` (dataclasses, tuples, numpy values allowed)."""
    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def canonical_sha256(obj: Mapping[str, Any]) -> str:
    """sha256 hex digest (64 chars) of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def file_sha256(path: str | PurePath) -> str:
    """sha256 hex digest of a file's bytes, read in 1 MiB blocks (data sets, weights, models)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
