"""A StructureGenerator over a fixed pool: replay benchmarks and user-supplied candidate lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ase import Atoms

from qaware.errors import ConfigError

__all__ = ["PoolGenerator"]


class PoolGenerator:
    """Draws up to ``n`` pool members per call, without replacement within a call (seeded).

    ``conditions`` may restrict the draw to ``elements`` (symbols); other keys are refused,
    since a fixed pool cannot honour them.
    """

    def __init__(self, structures: Sequence[Atoms]) -> None:
        if not structures:
            raise ConfigError("generator: the pool is empty")
        self.structures = [a.copy() for a in structures]

    def __len__(self) -> int:
        return len(self.structures)

    def sample(
        self, n: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> list[Atoms]:
        cond = dict(conditions or {})
        allowed = cond.pop("elements", None)
        if cond:
            raise ConfigError(f"pool generator: conditions {sorted(cond)} are not supported")
        members = self.structures
        if allowed is not None:
            keep = set(allowed)
            members = [a for a in members if set(a.get_chemical_symbols()) <= keep]
        order = np.random.default_rng(seed).permutation(len(members))[: max(0, n)]
        return [members[i].copy() for i in order]
