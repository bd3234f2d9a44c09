"""Resumable units of a long benchmark: each finished unit is appended to a JSON-lines file
beside the result (``<name>.partial.jsonl``, not committed), and a rerun reuses it.

    units = PartialUnits(args.output, inputs=[data_file])
    unit = units.get(key, run_fold, track, table, ...)   # computed once per key and inputs

A unit is reused only for the same inputs: the key gets a stamp of the data files and of the
code (git trees of ``src/`` and ``benchmarks/`` plus any uncommitted change to them), so a data
set that grew or a changed strategy never serves a stale unit.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["PartialUnits", "inputs_stamp"]

_REPO = Path(__file__).resolve().parents[1]


_RESULTS = ":(exclude)benchmarks/results"  # outputs: committing a result changes no unit


def _code_stamp(repo: Path = _REPO) -> str:
    """The committed files of src/ and benchmarks/ (results excluded) and the diff of their
    uncommitted changes ("" when this is not a git checkout)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True
        ).stdout

    try:
        listing = git("ls-tree", "-r", "HEAD", "--", "src", "benchmarks")
        diff = git("diff", "HEAD", "--", "src", "benchmarks", _RESULTS)
    except (OSError, subprocess.CalledProcessError):
        return ""
    listing = "\n".join(
        line for line in listing.splitlines() if "\tbenchmarks/results/" not in line
    )
    return hashlib.sha256((listing + diff).encode()).hexdigest()


def inputs_stamp(files: Sequence[str | Path]) -> str:
    """12 hex digits naming the bytes of ``files`` and the code that reads them."""
    digest = hashlib.sha256(_code_stamp().encode())
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class PartialUnits:
    """Units keyed by a string that names everything they depend on (track, fold, seed and a
    settings digest): a changed setting is a new key, never a stale unit."""

    def __init__(self, output: Path, inputs: Sequence[str | Path] = ()) -> None:
        self.stamp = inputs_stamp(inputs)
        self.path = Path(output).with_suffix(".partial.jsonl")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                unit = json.loads(line)
                self.done[unit["key"]] = unit

    def get(
        self, key: str, compute: Callable[..., dict[str, Any]], *args: Any, note: str = ""
    ) -> dict[str, Any]:
        """The unit of ``key`` (and these inputs): from the file, or ``compute(*args)`` now (with
        the stamped key added), appended before it is returned, so a kill loses at most the unit
        in progress."""
        key = f"{key}|inputs:{self.stamp}"
        if key not in self.done:
            print(f"{time.strftime('%H:%M:%S')} {key} {note}".rstrip(), flush=True)
            unit = compute(*args) | {"key": key}
            with self.path.open("a") as fh:
                fh.write(json.dumps(unit) + "\n")
            self.done[key] = unit
        return self.done[key]
