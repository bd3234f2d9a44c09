"""Levels of theory ("fidelities") and the ordered ladder a campaign climbs.

A level's *name* states what produced it. A first-principles level is named by its theory
(``PBE``, ``CCSD(T)``); a stand-in that imitates a theory (a pretrained potential, a replayed
table) must say which code produced it: ``r2SCAN@SevenNet-MF-0``, never plain ``r2SCAN``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from qaware.errors import ConfigError

__all__ = ["DEFAULT_LADDER", "Fidelity", "FidelityLadder", "LevelKind"]

LevelKind = Literal["first-principles", "stand-in", "experiment", "empirical"]
"""What a level is: a real calculation, an imitation of one, a measurement, or a cheap model."""


@dataclass(frozen=True)
class Fidelity:
    """One level of theory.

    name:   unique label, ``theory`` or ``theory@code`` (required for stand-ins).
    weight: loss weight of this level in multi-fidelity training (> 0).
    cost:   relative cost of one call, used by cost-aware budgets (> 0).
    kind:   see :data:`LevelKind`.
    """

    name: str
    weight: float = 1.0
    cost: float = 1.0
    kind: LevelKind = "first-principles"

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip():
            raise ConfigError(f"fidelity name {self.name!r}: must be non-empty, no outer spaces")
        if not self.weight > 0:
            raise ConfigError(f"fidelity {self.name}: weight must be > 0, got {self.weight}")
        if not self.cost > 0:
            raise ConfigError(f"fidelity {self.name}: cost must be > 0, got {self.cost}")
        if self.kind == "stand-in" and not self.code:
            raise ConfigError(
                f"fidelity {self.name!r} is a stand-in: its name must say which code produced "
                f"it, e.g. '{self.name}@SevenNet-MF-0'"
            )

    @property
    def theory(self) -> str:
        """The level of theory the name claims (the part before ``@``)."""
        return self.name.split("@", 1)[0]

    @property
    def code(self) -> str | None:
        """The code that produced a stand-in level (the part after ``@``), else None."""
        parts = self.name.split("@", 1)
        return parts[1] if len(parts) == 2 and parts[1] else None


@dataclass(frozen=True)
class FidelityLadder(Sequence[Fidelity]):
    """Levels ordered from cheapest/least accurate (``low``) to the reference (``top``)."""

    levels: tuple[Fidelity, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if len(self.levels) < 1:
            raise ConfigError("fidelity ladder: needs at least one level")
        names = [f.name for f in self.levels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"fidelity ladder: duplicate level names {dupes}")

    @classmethod
    def from_levels(cls, levels: Iterable[Fidelity]) -> FidelityLadder:
        return cls(tuple(levels))

    def __len__(self) -> int:
        return len(self.levels)

    def __iter__(self) -> Iterator[Fidelity]:
        return iter(self.levels)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.levels[self.rank(key)]
        return self.levels[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return key in self.names
        return key in self.levels

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.levels)

    @property
    def low(self) -> Fidelity:
        return self.levels[0]

    @property
    def top(self) -> Fidelity:
        return self.levels[-1]

    def rank(self, name: str) -> int:
        """0-based position of level ``name`` (0 = lowest)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ConfigError(
                f"fidelity {name!r} is not on the ladder {list(self.names)}"
            ) from None

    def weights(self) -> tuple[float, ...]:
        return tuple(f.weight for f in self.levels)


DEFAULT_LADDER = FidelityLadder(
    (
        Fidelity("PBE", weight=0.1, cost=1.0),
        Fidelity("r2SCAN", weight=0.3, cost=3.0),
        Fidelity("HSE06", weight=0.5, cost=30.0),
        Fidelity("CCSD(T)", weight=1.0, cost=100.0),
    )
)
"""PBE < r2SCAN < HSE06 < CCSD(T), loss weights 0.1/0.3/0.5/1.0 (the paper gives only the ends)."""
