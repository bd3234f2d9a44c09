"""Build a reference data set: every (structure, oracle) pair of a spec, cached in a store.

``build_dataset(spec, spec_path=...)`` reads the structures (files and recipes), builds the
oracles, and runs every pair through :class:`~qaware.oracles.runner.OracleRunner` with the
store of ``<output>/run/`` (a run directory) as its cache: a pair whose result is stored is never
computed again, so a build killed at any moment (``kill -9`` included) is finished by running
the same command again. Then it exports ``<output>/<name>.extxyz`` and ``<output>/README.md``
(:mod:`qaware.datasets.export`), unless the spec says ``export: false`` (a stage that only fills
the store that a fuller spec exports). Every result is an event in ``run/events.jsonl``.

The run directory records the spec without its ``execution`` section (workers may change
between runs). A changed spec is allowed: results are keyed by structure and oracle settings,
so what is still valid is reused; the change is logged and the new spec kept beside the old.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ase import Atoms

from qaware.datasets.export import PairOutcome, export_dataset, outcome_status
from qaware.datasets.spec import DatasetSpec
from qaware.datasets.subset import (
    RUN_SUBDIR,
    passed_structures,
    select_subset,
    stored_structures,
)
from qaware.errors import ConfigError, InvalidStructureError
from qaware.protocols import Oracle
from qaware.store.driver_lock import driver_lock
from qaware.store.keys import CallRecord

__all__ = ["BuildSummary", "build_dataset", "collect_structures"]

log = logging.getLogger("qaware.datasets")


@dataclass
class BuildSummary:
    """What a build did.

    counts: level -> {"ok", "failed", "gated", "pending", "computed", "cached"} pair counts;
            ``computed`` and ``cached`` count this invocation's work only.
    files:  the exported files (extxyz, README).
    """

    name: str
    output: Path
    run_dir: Path
    n_structures: int
    n_duplicates: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    elapsed_s: float = 0.0


def _load_recipe(recipe: str, base_dir: Path) -> Callable[..., Any]:
    """The function named by ``"module:function"`` or ``"file.py:function"`` (file relative to
    ``base_dir``); ConfigError when it cannot be found."""
    target, _, attr = recipe.rpartition(":")
    try:
        if target.endswith(".py"):
            path = Path(target) if Path(target).is_absolute() else base_dir / target
            if not path.is_file():
                raise ConfigError(f"recipe {recipe!r}: {path} is not a file")
            name = f"qaware_recipe_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                raise ConfigError(f"recipe {recipe!r}: cannot load {path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module  # dataclasses and pickling look modules up by name
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        fn = module
        for part in attr.split("."):
            fn = getattr(fn, part)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"recipe {recipe!r}: {type(err).__name__}: {err}") from None
    if not callable(fn):
        raise ConfigError(f"recipe {recipe!r} is not callable")
    return fn


def collect_structures(
    spec: DatasetSpec, base_dir: str | Path
) -> tuple[list[Atoms], list[str], int]:
    """Every structure of the spec, in order, validated, hashed and without duplicates.

    Returns ``(structures, hashes, n_duplicates)``. Each structure's ``info`` gets ``source``
    (the file or recipe as written in the spec), ``index`` (position in that source) and ``tag``
    (the source's tag when the structure has none). A structure whose hash an earlier one has
    is dropped (counted in ``n_duplicates``). Paths are relative to ``base_dir``.
    """
    from qaware.structures import read_structures, structure_hash
    from qaware.structures.checks import validate_structure

    base = Path(base_dir)
    structures: list[Atoms] = []
    hashes: list[str] = []
    seen: set[str] = set()
    n_dup = 0
    for s, src in enumerate(spec.structures):
        if src.file is not None:
            path = src.file if src.file.is_absolute() else base / src.file
            items = list(read_structures(path))
        else:
            fn = _load_recipe(str(src.recipe), base)
            kwargs = dict(src.kwargs)
            takes_seed = "seed" in inspect.signature(fn).parameters
            if takes_seed and spec.seed is not None and "seed" not in kwargs:
                kwargs["seed"] = spec.seed
            try:
                items = list(fn(**kwargs))
            except Exception as err:  # a broken recipe is bad input: say which one
                raise ConfigError(
                    f"structures.{s}: recipe {src.recipe!r} raised {type(err).__name__}: {err}"
                ) from err
            for i, atoms in enumerate(items):
                if not isinstance(atoms, Atoms):
                    raise ConfigError(
                        f"structures.{s}: recipe {src.recipe!r} item {i} is "
                        f"{type(atoms).__name__}, not ase.Atoms"
                    )
                validate_structure(atoms, source=f"recipe {src.recipe}", index=i)
        for i, atoms in enumerate(items):
            atoms.info["source"] = src.label
            atoms.info["index"] = i
            if src.tag is not None:
                atoms.info.setdefault("tag", src.tag)
            try:
                digest = structure_hash(atoms)
            except InvalidStructureError as err:
                raise err.located(source=src.label, index=i) from err
            if digest in seen:
                n_dup += 1
                continue
            seen.add(digest)
            structures.append(atoms)
            hashes.append(digest)
    if not structures:
        raise ConfigError("structures: the spec's files and recipes gave no structures")
    return structures, hashes, n_dup


def _record(spec: DatasetSpec) -> dict[str, Any]:
    """What the run directory records: the spec without ``execution``."""
    return spec.model_dump(mode="json", exclude={"execution"})


def _open_run(path: Path, record: dict[str, Any]) -> Any:
    from qaware.store import RunDirectory
    from qaware.store.run_directory import MARKER, config_hash

    if not (path / MARKER).exists():
        return RunDirectory.create(path, record)
    run = RunDirectory.open(path)
    if run.config_changed(record):
        digest = config_hash(record)
        history = path / "spec_history"
        history.mkdir(exist_ok=True)
        (history / f"{digest[:16]}.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
        run.events.append("spec_changed", payload={"old": run.config_hash, "new": digest})
        log.info("the spec changed since this run directory was made: reusing what still applies")
    return run


def build_dataset(
    spec: DatasetSpec,
    *,
    spec_path: str | Path,
    workers: int | None = None,
    export_only: bool = False,
    command: str | None = None,
    reuse: Sequence[str | Path] = (),
    retry_failed: bool = False,
) -> BuildSummary:
    """Compute every missing (structure, oracle) pair of ``spec``, then export the data set.

    spec_path:   the spec's file: relative paths inside the spec are relative to its folder.
    workers:     overrides ``spec.execution.max_workers``.
    export_only: compute nothing; export what the store holds (missing pairs listed as pending).
    command:     the command that rebuilds the data set, for the README (default:
                 ``qaware build-dataset <spec_path>``).
    reuse:       run directories (a campaign, another build) whose finished calls with the same
                 key are copied into this build's store instead of computed.
    retry_failed: one more attempt for every failed pair (not the gated ones) whose retries
                 are spent, e.g. a timeout on a loaded machine.

    Ctrl-C raises KeyboardInterrupt after logging it: rerun to continue.
    """
    from qaware.execution import make_executor
    from qaware.oracles.factory import build_oracle
    from qaware.oracles.runner import OracleRunner
    from qaware.store import RunDirectory, oracle_call_key

    start = time.monotonic()
    base = Path(spec_path).resolve().parent
    spec = spec.resolved(base)
    if workers is not None:
        spec.execution.max_workers = workers
    structures, hashes, n_dup = collect_structures(spec, base)
    oracles: list[Oracle] = [
        build_oracle(o, index=i, base_dir=base) for i, o in enumerate(spec.oracles)
    ]
    spec.output.mkdir(parents=True, exist_ok=True)
    run = _open_run(spec.output / RUN_SUBDIR, _record(spec))
    with driver_lock(run.path, command or ""):  # a second build here is refused
        summary = BuildSummary(spec.name, spec.output, run.path, len(structures), n_dup)
        work = {o.level: {"computed": 0, "cached": 0} for o in spec.oracles}

        def subsets_now(calls: Mapping[str, CallRecord]) -> list[list[int]]:
            out = []
            for o in spec.oracles:
                has_passed = o.subset is not None and o.subset.passed is not None
                passed = passed_structures(spec, base, o, hashes, calls) if has_passed else None
                closed = o.subset is not None and o.subset.stored
                stored = stored_structures(o, base, hashes, calls) if closed else None
                out.append(select_subset(structures, o.subset, passed, stored))
            return out

        prerequisites = any(
            o.subset is not None and (o.subset.passed or o.subset.stored) for o in spec.oracles
        )
        with run.store() as store:
            subsets = subsets_now({c.oracle_key: c for c in store.calls()} if prerequisites else {})
            if not export_only:
                run.write_cycle_structures(0, "structures", structures)
                first = spec.oracles[0]
                others = [RunDirectory.reused_store(p, "--reuse") for p in reuse]  # before any work
                executor = make_executor(spec.execution, folder=run.path / "jobs")
                runner = OracleRunner(
                    store,
                    executor,
                    timeout_s=first.timeout_s,
                    max_retries=first.max_retries,
                    desc=spec.name,
                    reuse=others,
                    retry_failed=retry_failed,
                )
                submitted: set[tuple[int, int]] = set()
                try:
                    with executor, contextlib.ExitStack() as closing:
                        for other in others:
                            closing.callback(other.close)
                        # Rounds: a 'passed' prerequisite computed in this build admits more pairs.
                        for _ in range(len(spec.oracles)):
                            pairs = [(k, i) for k, chosen in enumerate(subsets) for i in chosen]
                            pairs = [pair for pair in pairs if pair not in submitted]
                            if not pairs:
                                break
                            submitted.update(pairs)
                            _run_pairs(run, runner, spec, structures, hashes, oracles, pairs, work)
                            if not prerequisites:
                                break
                            subsets = subsets_now({c.oracle_key: c for c in store.calls()})
                except KeyboardInterrupt:
                    run.events.append("interrupted", payload={"name": spec.name})
                    raise
            calls = {c.oracle_key: c for c in store.calls()}
            if prerequisites:
                subsets = subsets_now(calls)
        outcomes = []
        for oracle, chosen in zip(oracles, subsets, strict=True):
            digest = oracle.settings_hash()
            for i in chosen:
                key = oracle_call_key(hashes[i], digest)
                outcomes.append(PairOutcome.from_call(i, oracle.level, key, calls.get(key)))
        if spec.export:
            summary.files = export_dataset(
                spec,
                structures,
                hashes,
                oracles,
                outcomes,
                command=command or f"qaware build-dataset {spec_path}",
            )
        for o in spec.oracles:
            summary.counts[o.level] = {s: 0 for s in ("ok", "failed", "gated", "pending")}
            summary.counts[o.level].update(work[o.level])
        for outcome in outcomes:
            summary.counts[outcome.level][outcome_status(outcome)] += 1
        summary.elapsed_s = time.monotonic() - start
        run.events.append(
            "dataset_exported",
            payload={"files": [str(p) for p in summary.files], "counts": summary.counts},
        )
        return summary


def _run_pairs(
    run: Any,
    runner: Any,
    spec: DatasetSpec,
    structures: Sequence[Atoms],
    hashes: Sequence[str],
    oracles: Sequence[Oracle],
    pairs: Sequence[tuple[int, int]],
    work: dict[str, dict[str, int]],
) -> None:
    """Run the (oracle index, structure index) ``pairs`` through ``runner``; count and log."""
    from qaware.oracles.runner import Task

    tasks = []
    for k, i in pairs:
        o = spec.oracles[k]
        tasks.append(
            Task(None, structures[i], oracles[k], hashes[i], o.timeout_s, o.max_retries, o.isolate)
        )
    run.events.append(
        "dataset_build_started",
        payload={"name": spec.name, "structures": len(structures), "pairs": len(tasks)},
    )
    served, computing = 0, False
    for task, result, cached in runner.evaluate(tasks):  # stored answers come first
        work[task.oracle.level]["cached" if cached else "computed"] += 1
        if cached:
            served += 1
            continue
        if not computing:  # what `qaware status` counts progress and its ETA against
            computing = True
            payload = {"name": spec.name, "to_compute": len(tasks) - served, "served": served}
            run.events.append("dataset_computing", payload=payload)
        run.events.append("oracle_result", payload=_event(task, result))


def _event(task: Any, result: Any) -> dict[str, Any]:
    return {
        "level": result.level,
        "structure_hash": task.structure_hash,
        "source": task.atoms.info.get("source"),
        "index": task.atoms.info.get("index"),
        "ok": result.ok,
        "reason": result.reason,
        "wall_time_s": round(float(result.wall_time_s), 3),
    }
