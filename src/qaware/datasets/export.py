"""Export a data set: ``<output>/<name>.extxyz`` (one frame per structure) and ``README.md``.

Per level ``L`` (its extxyz key ``k = level_key(L)``, e.g. ``CCSD(T)`` -> ``CCSD_T``), a frame
carries in ``info``:

* ``energy_<k>``: total energy, eV (only when the result is ok);
* ``e_ok_<k>``: bool, True when the result passed every sanity gate;
* ``status_<k>``: ``ok`` | ``failed`` | ``gated`` (failed a sanity gate) | ``pending``;
* ``reason_<k>``: why it is not ok;
* ``stress_<k>``: (6,) Voigt eV/Å^3, where the oracle gives it;
* ``code_<k>``, ``code_version_<k>``, ``settings_hash_<k>``: what produced it;
* ``diag_<name>_<k>``: diagnostics that are scalars (nested mappings flattened with ``_``,
  lists of strings joined with ``,``, lists of numbers as arrays);
* ``desc_<name>_<k>``: descriptor vectors (1-D);

and in ``arrays``: ``forces_<k>``, (n_atoms, 3) eV/Å. Every frame also has ``structure_hash``,
``formula``, ``source``, ``index`` and ``tag`` (where set), plus the recipe's own scalar
metadata. Wall times and memory are not in the frames (they differ between identical builds):
the README has their statistics. A pair that is not ok is listed in the README, never dropped.
Bond-stretch scans pass a continuity gate first (:mod:`qaware.datasets.scan_check`).
"""

from __future__ import annotations

import math
import os
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import yaml
from ase import Atoms

from qaware._canonical import file_sha256
from qaware.datasets.spec import DatasetSpec, level_key
from qaware.datasets.subset import describe_subsets
from qaware.oracles.gates import is_gated
from qaware.oracles.result import OracleResult
from qaware.protocols import Oracle

if TYPE_CHECKING:
    from qaware.store import CallRecord

__all__ = [
    "PairOutcome",
    "Status",
    "dataset_frames",
    "export_dataset",
    "gate_scans",
    "outcome_status",
]

Status = Literal["ok", "failed", "gated", "pending"]
_MAX_TEXT = 300  # characters kept of a reason or a string diagnostic


@dataclass
class PairOutcome:
    """The stored outcome of one (structure, level) pair; ``result`` None while pending."""

    structure: int
    level: str
    key: str
    result: OracleResult | None
    attempts: int = 0

    @classmethod
    def from_call(
        cls, structure: int, level: str, key: str, call: CallRecord | None
    ) -> PairOutcome:
        """From the call row of ``key`` (None: never submitted; a submitted row is pending)."""
        if call is None:
            return cls(structure, level, key, None, 0)
        final = call.status in ("done", "failed")
        return cls(structure, level, key, call.result if final else None, call.attempt)


def outcome_status(outcome: PairOutcome) -> Status:
    """``ok``, ``gated`` (a sanity gate refused it), ``failed`` (anything else) or ``pending``."""
    result = outcome.result
    if result is None:
        return "pending"
    if result.ok:
        return "ok"
    return "gated" if is_gated(result) else "failed"


def _text(value: Any) -> str:
    """One line, no double quotes (extxyz quotes strings with them), at most _MAX_TEXT chars."""
    return " ".join(str(value).split()).replace('"', "'")[:_MAX_TEXT]


def _name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_")


def _scalar(value: Any) -> Any:
    """An extxyz-friendly version of ``value``, or None to leave it out."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list | tuple | np.ndarray):
        items = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else list(value)
        if items and all(isinstance(v, str) for v in items):
            return _text(",".join(items))
        numeric = items and all(isinstance(v, int | float | np.number) for v in items)
        if numeric and np.ndim(value) == 1:
            return np.asarray(items, dtype=float)
    return None


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}_{_name(k)}", v, out)
        return
    plain = _scalar(value)
    if plain is not None:
        out[prefix] = plain


def _metadata(atoms: Atoms) -> dict[str, Any]:
    """The structure's own info entries that extxyz can hold."""
    out: dict[str, Any] = {}
    for key, value in atoms.info.items():
        plain = _scalar(value)
        if plain is not None and _name(key) == key:
            out[key] = plain
    return out


def dataset_frames(
    structures: Sequence[Atoms],
    hashes: Sequence[str],
    levels: Sequence[str],
    outcomes: Sequence[PairOutcome],
) -> list[Atoms]:
    """One Atoms per structure with every level's outcome in ``info`` / ``arrays``."""
    by_pair = {(o.structure, o.level): o for o in outcomes}
    frames = []
    for i, (atoms, digest) in enumerate(zip(structures, hashes, strict=True)):
        frame = Atoms(
            atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc
        )  # no calculator, no stray arrays
        if atoms.has("initial_magmoms"):
            frame.set_initial_magnetic_moments(atoms.get_initial_magnetic_moments())
        info = _metadata(atoms)
        info["structure_hash"] = digest
        info.setdefault("formula", atoms.get_chemical_formula())
        for level in levels:
            outcome = by_pair.get((i, level))
            if outcome is not None:
                _add_level(frame, info, level_key(level), outcome)
        frame.info.update(info)
        frames.append(frame)
    return frames


def _add_level(frame: Atoms, info: dict[str, Any], k: str, outcome: PairOutcome) -> None:
    status = outcome_status(outcome)
    result = outcome.result
    info[f"status_{k}"] = status
    info[f"e_ok_{k}"] = status == "ok"
    if result is None:
        return
    if result.ok and result.energy is not None:
        info[f"energy_{k}"] = float(result.energy)
    if not result.ok:
        info[f"reason_{k}"] = _text(result.reason)
    info[f"code_{k}"] = _text(result.code)
    info[f"code_version_{k}"] = _text(result.code_version)
    info[f"settings_hash_{k}"] = result.settings_hash
    if not result.ok:
        return
    if result.stress is not None:
        info[f"stress_{k}"] = np.asarray(result.stress, dtype=float)
    if result.forces is not None:
        frame.arrays[f"forces_{k}"] = np.asarray(result.forces, dtype=float)
    diag: dict[str, Any] = {}
    _flatten("diag", {name: value for name, value in result.diagnostics.items()}, diag)
    for name, value in diag.items():
        info[f"{name}_{k}"] = value
    for name, vector in result.descriptors.items():
        if np.ndim(vector) == 1:
            info[f"desc_{_name(name)}_{k}"] = np.asarray(vector, dtype=float)


def gate_scans(structures: Sequence[Atoms], outcomes: Sequence[PairOutcome]) -> list[PairOutcome]:
    """``outcomes`` with each level's bond-scan outliers gated
    (:func:`qaware.datasets.scan_check.gate_scan_results`); the store is not changed."""
    from dataclasses import replace

    from qaware.datasets.scan_check import gate_scan_results

    by_level: dict[str, dict[int, OracleResult]] = {}
    for o in outcomes:
        if o.result is not None:
            by_level.setdefault(o.level, {})[o.structure] = o.result
    gated = {level: gate_scan_results(structures, res) for level, res in by_level.items()}
    return [
        o if o.result is None else replace(o, result=gated[o.level][o.structure]) for o in outcomes
    ]


def export_dataset(
    spec: DatasetSpec,
    structures: Sequence[Atoms],
    hashes: Sequence[str],
    oracles: Sequence[Oracle],
    outcomes: Sequence[PairOutcome],
    *,
    command: str,
) -> list[Path]:
    """Write ``<spec.output>/<name>.extxyz`` (``.extxyz.gz`` when ``spec.compress``) and
    ``README.md``; return their paths. ``ase.io.read`` reads either.

    ``spec.output`` must be resolved (absolute or relative to the current directory).
    A compressed export carries no timestamp or file name, so identical frames give identical
    bytes (and checksum); the other of the two files, left from an earlier export, is removed.
    """
    import gzip
    import io

    import ase.io

    out = Path(spec.output)
    out.mkdir(parents=True, exist_ok=True)
    levels = [o.level for o in spec.oracles]
    outcomes = gate_scans(structures, outcomes)
    frames = dataset_frames(structures, hashes, levels, outcomes)
    plain = out / f"{spec.name}.extxyz"
    extxyz = plain.with_name(plain.name + ".gz") if spec.compress else plain
    tmp = extxyz.with_name(extxyz.name + ".tmp")
    if spec.compress:
        buffer = io.StringIO()
        ase.io.write(buffer, frames, format="extxyz")
        with open(tmp, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as gz:
            gz.write(buffer.getvalue().encode())
        plain.unlink(missing_ok=True)
    else:
        ase.io.write(tmp, frames, format="extxyz")
        plain.with_name(plain.name + ".gz").unlink(missing_ok=True)
    os.replace(tmp, extxyz)
    checksums = {extxyz.name: file_sha256(extxyz)}
    text = readme_text(spec, structures, hashes, oracles, outcomes, checksums, command=command)
    readme = out / "README.md"
    tmp = readme.with_name("README.md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, readme)
    return [extxyz, readme]


def timing_stats(results: Sequence[OracleResult]) -> dict[str, float]:
    """Median/mean/max wall time (s), total hours and max peak memory (MiB) of ``results``."""
    walls = [float(r.wall_time_s) for r in results]
    mems = [float(r.peak_memory_mb) for r in results if r.peak_memory_mb is not None]
    if not walls:
        return {}
    return {
        "n": float(len(walls)),
        "median_s": statistics.median(walls),
        "mean_s": statistics.fmean(walls),
        "max_s": max(walls),
        "total_h": math.fsum(walls) / 3600.0,
        "max_peak_mb": max(mems) if mems else math.nan,
    }


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False).rstrip()


def _fmt(x: float, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def readme_text(
    spec: DatasetSpec,
    structures: Sequence[Atoms],
    hashes: Sequence[str],
    oracles: Sequence[Oracle],
    outcomes: Sequence[PairOutcome],
    checksums: Mapping[str, str],
    *,
    command: str,
) -> str:
    """The data set's README (Markdown): counts, problems, checksums, settings, timings."""
    from qaware.store.environment import environment_info

    env = environment_info()
    data_file = next(iter(checksums), f"{spec.name}.extxyz")  # the export is the first file
    lines = [f"# {spec.name}", "", spec.description.strip() or "(no description)", ""]
    lines += ["## Rebuild", "", "```", command, "```", ""]
    lines += [
        "The build is resumable: rerunning the command computes only what is not stored in "
        "`run/campaign.db` (killed builds included).",
        "",
        f"{len(structures)} structures, one extxyz frame each, in `{data_file}`.",
        "",
        "## Counts per level",
        "",
        "| level | extxyz key | pairs | ok | failed | gated | pending |",
        "|---|---|---|---|---|---|---|",
    ]
    status = {(o.structure, o.level): outcome_status(o) for o in outcomes}
    for o in spec.oracles:
        counts = {s: 0 for s in ("ok", "failed", "gated", "pending")}
        for (_, level), st in status.items():
            if level == o.level:
                counts[st] += 1
        n = sum(counts.values())
        lines.append(
            f"| {o.level} | `{level_key(o.level)}` | {n} | {counts['ok']} | {counts['failed']} "
            f"| {counts['gated']} | {counts['pending']} |"
        )
    lines += describe_subsets(spec, len(structures), status)
    lines += ["", "Per level `k`: `info['energy_<k>']` (eV, ok results only), `info['e_ok_<k>']`,",
              "`info['status_<k>']`, `info['reason_<k>']`, `arrays['forces_<k>']` (eV/Å),",
              "`info['stress_<k>']` (Voigt, eV/Å^3), `info['diag_<name>_<k>']`,",
              "`info['desc_<name>_<k>']`, `info['code_<k>']`, `info['code_version_<k>']`,",
              "`info['settings_hash_<k>']`. Every frame has `structure_hash`, `formula`,",
              "`source`, `index` and, where set, `tag`.", ""]  # fmt: skip
    bad = [o for o in outcomes if status[(o.structure, o.level)] != "ok"]
    lines += ["## Pairs that are not ok", ""]
    if not bad:
        lines += ["None: every pair is ok.", ""]
    else:
        lines += ["| # | formula | structure hash | level | status | attempts | reason |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for p in sorted(bad, key=lambda p: (p.structure, p.level)):
            reason = _text(p.result.reason if p.result is not None else "not computed yet")
            lines.append(
                f"| {p.structure} | {structures[p.structure].get_chemical_formula()} | "
                f"`{hashes[p.structure][:16]}` | {p.level} | {status[(p.structure, p.level)]} | "
                f"{p.attempts} | {reason.replace('|', '/')} |"
            )
        lines.append("")
    lines += ["## Files", "", "| file | sha256 |", "|---|---|"]
    lines += [f"| `{name}` | `{digest}` |" for name, digest in checksums.items()]
    lines += ["", "## Timing per level", "",
              "Wall time of the stored (final) attempt of every computed pair, on the machine "
              "that ran it; peak memory is the resident set of the process that ran the call.", "",
              "| level | n | median s | mean s | max s | total h | max peak MiB |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for o in spec.oracles:
        results = [p.result for p in outcomes if p.level == o.level and p.result is not None]
        t = timing_stats(results)
        if t:
            lines.append(
                f"| {o.level} | {int(t['n'])} | {_fmt(t['median_s'])} | {_fmt(t['mean_s'])} | "
                f"{_fmt(t['max_s'])} | {_fmt(t['total_h'], 3)} | {_fmt(t['max_peak_mb'], 0)} |"
            )
        else:
            lines.append(f"| {o.level} | 0 | – | – | – | – | – |")
    lines += ["", "## Oracles", ""]
    for o, oracle in zip(spec.oracles, oracles, strict=True):
        done = [p.result for p in outcomes if p.level == o.level and p.result is not None]
        code = f"{done[0].code} {done[0].code_version}" if done else "(no result yet)"
        plain = o.model_dump(mode="json", exclude_none=True)
        lines += [f"### {o.level}", "", f"- settings hash: `{oracle.settings_hash()}`",
                  f"- code: {code}", "", "```yaml", _yaml(plain), "```", ""]  # fmt: skip
    sources = [s.model_dump(mode="json", exclude_none=True) for s in spec.structures]
    seed = spec.seed if spec.seed is not None else "the recipes' defaults"
    lines += ["## Structures", "", "```yaml", _yaml(sources), "```", "", f"Seed: {seed}.", ""]
    git = env.get("git") or {}
    packages = {k: v for k, v in env["packages"].items() if v is not None}
    lines += ["## Environment", "",
              f"- qaware git commit: `{git.get('commit', 'unknown')}`"
              + (" (with uncommitted changes)" if git.get("dirty") else ""),
              f"- Python {env['python']} on {env['platform']}",
              "- packages: " + ", ".join(f"{k} {v}" for k, v in packages.items()), ""]  # fmt: skip
    return "\n".join(lines)
