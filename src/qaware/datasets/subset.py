"""Which structures an oracle of a data set labels: a spec's ``subset`` rules, applied.

Filters by source, tag and ``info`` flags are pure (:func:`select_subset`); the ``passed`` rule
(label only where another level's result is ok) needs the stores, so the build evaluates it with
:func:`passed_structures` and hands the result in. :func:`describe_subsets` words the rules for
the data set's README.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from qaware.datasets.spec import DatasetOracle, DatasetSpec, Subset
from qaware.errors import ConfigError
from qaware.store.keys import CallRecord

__all__ = ["describe_subsets", "passed_structures", "select_subset", "stored_structures"]

RUN_SUBDIR = "run"  # a spec's store: <output>/run (the builder's layout)


def select_subset(
    structures: Sequence[Atoms],
    subset: Subset | None,
    passed: set[int] | None = None,
    stored: set[int] | None = None,
) -> list[int]:
    """Indices of ``structures`` an oracle labels: all, or those passing ``subset``.

    passed: the indices that meet ``subset.passed`` (see :func:`passed_structures`); required
            when the subset has that filter.
    stored: the indices this oracle has labelled (:func:`stored_structures`); required when
            ``subset.stored``.
    """
    chosen = list(range(len(structures)))
    if subset is None:
        return chosen
    if subset.sources is not None:
        chosen = [i for i in chosen if structures[i].info.get("source") in subset.sources]
    if subset.tags is not None:
        tags = subset.tags
        chosen = [i for i in chosen if structures[i].info.get("tag") in tags]
        if subset.by_tag:  # stable: spec order within a tag
            chosen.sort(key=lambda i: tags.index(structures[i].info["tag"]))
    for key, allowed in (subset.info or {}).items():
        chosen = [i for i in chosen if _info_matches(structures[i].info, key, allowed)]
    if subset.passed is not None:
        if passed is None:
            raise ValueError("select_subset: the subset has a 'passed' filter; give 'passed'")
        chosen = [i for i in chosen if i in passed]
    if subset.stored:
        if stored is None:
            raise ValueError("select_subset: the subset has 'stored: true'; give 'stored'")
        chosen = [i for i in chosen if i in stored]
    if subset.first is not None:
        chosen = chosen[: subset.first]
    return chosen


def passed_structures(
    spec: DatasetSpec,
    base: Path,
    oracle: DatasetOracle,
    hashes: Sequence[str],
    own_calls: Mapping[str, CallRecord],
) -> set[int]:
    """Indices ``i`` that meet ``oracle.subset.passed``: the result of structure ``hashes[i]`` at
    the prerequisite level is ok, or ``oracle`` has already labelled it (stored in ``own_calls``,
    so a stored result never leaves the export).

    ``spec`` is resolved (absolute paths), ``base`` its folder (``passed.spec`` is relative to it).
    A prerequisite of another spec is read from that spec's store (its build may be running
    meanwhile); ConfigError when that spec, its level or its store does not exist.
    """
    from qaware.datasets.export import PairOutcome, outcome_status
    from qaware.oracles.factory import build_oracle
    from qaware.store import RunDirectory, oracle_call_key

    assert oracle.subset is not None and oracle.subset.passed is not None
    passed = oracle.subset.passed
    other_path = None if passed.spec is None else Path(base) / passed.spec  # as-is if absolute
    other_base = base if other_path is None else other_path.parent
    if other_path is None:
        other, calls = spec, own_calls
    else:
        from qaware.datasets.spec import load_dataset_spec

        other = load_dataset_spec(other_path).resolved(other_base)
        run_dir = other.output / RUN_SUBDIR
        if not (run_dir / "campaign.db").exists():
            raise ConfigError(
                f"subset.passed of {oracle.level!r}: {passed.spec} has no store yet "
                f"({run_dir}): build it first"
            )
        with RunDirectory.open(run_dir).store() as store:
            calls = {c.oracle_key: c for c in store.calls(level=passed.level)}
    matches = [o for o in other.oracles if o.level == passed.level]
    if not matches:
        raise ConfigError(
            f"subset.passed of {oracle.level!r}: no oracle {passed.level!r} in "
            f"{passed.spec or 'this spec'} (levels {[o.level for o in other.oracles]})"
        )
    digest = build_oracle(matches[0], base_dir=other_base).settings_hash()

    def status(i: int, level: str, key: str, rows: Mapping[str, CallRecord]) -> str:
        return outcome_status(PairOutcome.from_call(i, level, key, rows.get(key)))

    labelled = stored_structures(oracle, base, hashes, own_calls)
    return labelled | {
        i
        for i, shash in enumerate(hashes)
        if status(i, passed.level, oracle_call_key(shash, digest), calls) == "ok"
    }


def stored_structures(
    oracle: DatasetOracle, base: Path, hashes: Sequence[str], own_calls: Mapping[str, CallRecord]
) -> set[int]:
    """Indices ``i`` that ``oracle`` has a result of its own for in ``own_calls`` (ok, failed or
    gated; a row submitted by an earlier, interrupted build does not count)."""
    from qaware.datasets.export import PairOutcome, outcome_status
    from qaware.oracles.factory import build_oracle
    from qaware.store import oracle_call_key

    digest = build_oracle(oracle, base_dir=base).settings_hash()
    out = set()
    for i, shash in enumerate(hashes):
        key = oracle_call_key(shash, digest)
        outcome = PairOutcome.from_call(i, oracle.level, key, own_calls.get(key))
        if outcome_status(outcome) != "pending":
            out.add(i)
    return out


def _info_matches(info: dict[str, Any], key: str, allowed: Sequence[Any]) -> bool:
    """``info[key]`` is one of ``allowed``; a bool matches only a bool (True is not 1)."""
    if key not in info:
        return False
    value = info[key]
    value = bool(value) if isinstance(value, np.bool_) else value
    return any(isinstance(a, bool) == isinstance(value, bool) and a == value for a in allowed)


def describe_subsets(
    spec: DatasetSpec, n_structures: int, status: Mapping[tuple[int, str], str]
) -> list[str]:
    """README lines: one per level that labels a subset (which structures, how many of all);
    ``status`` maps (structure, level) of every labelled pair to its status."""
    out = []
    for o in spec.oracles:
        sub = o.subset
        if sub is None:
            continue
        n = sum(1 for _, level in status if level == o.level)
        dump = sub.model_dump(exclude={"passed", "stored"}, exclude_defaults=True)  # quiet False
        rules = [f"{k} {v}" for k, v in dump.items() if v is not None]
        if sub.stored:
            rules.append(
                "only the structures it labelled before the level was closed (nothing "
                "new is computed)"
            )
        if sub.passed is not None:
            where = f" of {sub.passed.spec.name}" if sub.passed.spec is not None else ""
            rules.append(
                f"only where {sub.passed.level}{where} is ok (plus any already labelled); the "
                "others are left out on purpose, not pending"
            )
        out.append(f"- {o.level} labels {n} of the {n_structures} structures: {'; '.join(rules)}.")
    return ["", *out] if out else []
