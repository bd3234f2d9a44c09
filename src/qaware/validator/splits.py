"""Train/validation splits of a training set: random, or by whole groups (chemical families)
so that no family is split between the two (early stopping then watches unseen families)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qaware.errors import ConfigError

__all__ = ["split_indices"]


def split_indices(
    n: int, fraction: float, *, seed: int = 0, groups: Sequence[str] | None = None
) -> tuple[list[int], list[int]]:
    """(train, validation) indices of ``n`` structures; with ``groups`` (one name per
    structure, e.g. a chemical family), whole groups go to validation until it holds at least
    ``fraction`` of the structures, so no group is split between the two."""
    rng = np.random.default_rng(seed)
    if fraction <= 0 or n < 2:
        return list(range(n)), []
    if groups is None:
        order = rng.permutation(n)
        n_val = max(1, round(fraction * n))
        return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())
    if len(groups) != n:
        raise ConfigError(f"{len(groups)} group names for {n} structures")
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(str(g), []).append(i)
    names = sorted(members)
    val: list[int] = []
    for g in rng.permutation(len(names)):
        if len(val) >= fraction * n or len(val) + len(members[names[g]]) >= n:
            break
        val += members[names[g]]
    return sorted(set(range(n)) - set(val)), sorted(val)
