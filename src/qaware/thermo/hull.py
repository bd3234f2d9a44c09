"""Convex hull of formation energies at one fidelity, and the hit test (DESIGN.md §3).

A :class:`FidelityHull` is built with pymatgen's ``PhaseDiagram`` from :class:`HullEntry` records
(id, composition, e_form_per_atom) that all come from one oracle (level + settings hash). Every
element of the chemical space enters at 0 eV/atom (entry id ``ref:<El>``), since formation energies
are referenced to those elements. The hull records exactly which entries built it and the pymatgen
version, survives a JSON round trip, and grows with :meth:`FidelityHull.add` as candidates are
evaluated. ``e_above_hull`` of a candidate not in the hull is negative when it lies below it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaware.errors import ConfigError
from qaware.oracles.result import OracleResult
from qaware.thermo.formation import formation_energy_from_result
from qaware.thermo.references import ElementalReferences

__all__ = ["HIT_TOLERANCE", "FidelityHull", "HullEntry", "is_hit"]

HIT_TOLERANCE = 1e-8
"""eV/atom: an entry on the hull comes back as ±1e-16, not exactly 0; it still counts as a hit."""

_SCHEMA = "qaware-fidelity-hull-v1"
_REF_PREFIX = "ref:"


@dataclass(frozen=True)
class HullEntry:
    """One phase of a hull.

    composition:     element -> atom count (any multiple of the formula; floats allowed).
    e_form_per_atom: eV/atom, referenced at ``level`` with the oracle of ``settings_hash``.
    """

    id: str
    composition: Mapping[str, float]
    e_form_per_atom: float
    level: str
    settings_hash: str

    def __post_init__(self) -> None:
        comp = {str(k): float(v) for k, v in self.composition.items() if float(v) != 0.0}
        if not comp or any(v < 0 for v in comp.values()):
            raise ConfigError(f"hull entry {self.id!r}: bad composition {dict(self.composition)}")
        if not math.isfinite(self.e_form_per_atom):
            raise ConfigError(f"hull entry {self.id!r}: e_form_per_atom {self.e_form_per_atom}")
        object.__setattr__(self, "composition", dict(sorted(comp.items())))
        object.__setattr__(self, "e_form_per_atom", float(self.e_form_per_atom))

    @classmethod
    def from_result(
        cls,
        entry_id: str,
        result: OracleResult,
        counts: Mapping[str, int],
        references: ElementalReferences,
    ) -> HullEntry:
        """Entry from an oracle result and the references of the same oracle (checked)."""
        e_form = formation_energy_from_result(result, counts, references)
        return cls(entry_id, dict(counts), e_form, result.level, result.settings_hash)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "composition": dict(self.composition),
            "e_form_per_atom": self.e_form_per_atom,
            "level": self.level,
            "settings_hash": self.settings_hash,
        }


@dataclass(frozen=True)
class FidelityHull:
    """Hull of ``entries`` at one ``level``; element entries at 0 are added if missing."""

    entries: tuple[HullEntry, ...]
    level: str
    settings_hash: str
    pymatgen_version: str = ""
    _pd: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entries = tuple(self.entries)
        for e in entries:
            if (e.level, e.settings_hash) != (self.level, self.settings_hash):
                raise ConfigError(
                    f"hull at {self.level} [{self.settings_hash}]: entry {e.id!r} is from "
                    f"{e.level} [{e.settings_hash}]; energies of two levels are never mixed"
                )
        ids = [e.id for e in entries]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ConfigError(f"hull at {self.level}: duplicate entry ids {dupes}")
        elements = sorted({el for e in entries for el in e.composition})
        if not elements:
            raise ConfigError(f"hull at {self.level}: no entries")
        present = set(ids)
        refs = tuple(
            HullEntry(f"{_REF_PREFIX}{el}", {el: 1.0}, 0.0, self.level, self.settings_hash)
            for el in elements
            if f"{_REF_PREFIX}{el}" not in present
        )
        object.__setattr__(self, "entries", refs + entries)
        object.__setattr__(self, "pymatgen_version", self.pymatgen_version or _pymatgen_version())
        object.__setattr__(self, "_pd", _phase_diagram(self.entries))

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(sorted({el for e in self.entries for el in e.composition}))

    @property
    def stable_ids(self) -> tuple[str, ...]:
        """Ids of the entries on the hull (vertices of the phase diagram)."""
        return tuple(sorted(e.name for e in self._pd.stable_entries))

    def e_above_hull(
        self,
        composition: Mapping[str, float] | str,
        e_form_per_atom: float,
        *,
        level: str | None = None,
    ) -> float:
        """eV/atom above (> 0) or below (< 0) the hull of a candidate of that composition.

        composition: element -> count, or a formula string; must lie in this hull's elements.
        level:       if given, must be this hull's level (guards against mixing fidelities).
        """
        if level is not None and level != self.level:
            raise ConfigError(f"candidate at level {level!r} tested against the {self.level} hull")
        return float(e_form_per_atom) - self.hull_energy_per_atom(composition)

    def hull_energy_per_atom(self, composition: Mapping[str, float] | str) -> float:
        """Formation energy (eV/atom) of the hull at ``composition``."""
        from pymatgen.core import Composition

        comp = Composition(composition)
        missing = sorted({str(el) for el in comp.elements} - set(self.elements))
        if missing:
            raise ConfigError(
                f"composition {comp.formula} has elements {missing} outside the {self.level} "
                f"hull's chemical space {list(self.elements)}"
            )
        return float(self._pd.get_hull_energy_per_atom(comp))

    def entry_e_above_hull(self, entry_id: str) -> float:
        """E_hull (≥ 0, eV/atom) of an entry that is part of this hull."""
        for e in self.entries:
            if e.id == entry_id:
                return max(0.0, self.e_above_hull(e.composition, e.e_form_per_atom))
        raise ConfigError(f"no entry {entry_id!r} in the {self.level} hull")

    def add(self, entries: Iterable[HullEntry]) -> FidelityHull:
        """A new hull with ``entries`` appended (same level and settings hash required)."""
        return FidelityHull(
            (*self._user_entries(), *entries), level=self.level, settings_hash=self.settings_hash
        )

    def _user_entries(self) -> tuple[HullEntry, ...]:
        return tuple(e for e in self.entries if not _is_auto_reference(e))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": _SCHEMA,
            "level": self.level,
            "settings_hash": self.settings_hash,
            "pymatgen_version": self.pymatgen_version,
            "entries": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FidelityHull:
        if d.get("schema") != _SCHEMA:
            raise ConfigError(f"hull record: schema {d.get('schema')!r}, expected {_SCHEMA!r}")
        entries = tuple(HullEntry(**e) for e in d["entries"])
        return cls(entries, d["level"], d["settings_hash"], d["pymatgen_version"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> FidelityHull:
        return cls.from_dict(json.loads(text))


def is_hit(e_hull: float | np.ndarray, threshold: float = 0.0) -> bool | np.ndarray:
    """E_hull ≤ threshold (eV/atom, within :data:`HIT_TOLERANCE`); NaN is never a hit."""
    arr = np.asarray(e_hull, dtype=float)
    hit = arr <= threshold + HIT_TOLERANCE  # NaN compares False
    return bool(hit) if hit.ndim == 0 else hit


def _is_auto_reference(e: HullEntry) -> bool:
    return (
        e.id.startswith(_REF_PREFIX)
        and e.e_form_per_atom == 0.0
        and len(e.composition) == 1
        and e.id == f"{_REF_PREFIX}{next(iter(e.composition))}"
    )


def _phase_diagram(entries: tuple[HullEntry, ...]) -> Any:
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    pd_entries = []
    for e in entries:
        comp = Composition(e.composition)
        pd_entries.append(PDEntry(comp, e.e_form_per_atom * comp.num_atoms, name=e.id))
    return PhaseDiagram(pd_entries)


def _pymatgen_version() -> str:
    from importlib.metadata import version

    return version("pymatgen")
