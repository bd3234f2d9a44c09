"""Replay oracle: answers from a recorded table instead of running a calculation.

Used for benchmarks on published data (DESIGN.md §5, Track R), CI, and users' own historical data
(the CAMD "after the fact" idea). It is a picklable spec like every oracle: the table is a small
:class:`~qaware.oracles.replay_tables.ReplayTable` of numpy arrays and lists.

Conventions (what ``compute`` returns for a structure of N atoms whose key is in the table):

* ``quantity == "formation_energy_per_atom"`` (e.g. RxnNet ΔH_f): ``energy = e_form · N`` (eV) and
  ``diagnostics["e_form_per_atom"] = e_form``. The table's values are already referenced, so
  ``energy`` is what a total energy would be with every μ_i = 0; :meth:`ReplayOracle.references`
  returns exactly those zero references, and the ordinary thermo path (references -> e_form ->
  hull) then gives back the table's values.
* ``quantity == "band_gap"``: ``energy = gap`` (eV, intensive, *not* per atom and not a total
  energy) and ``diagnostics["band_gap_ev"] = gap``. ``energy`` carries the label so that a success
  stays a finite labelled number (``OracleResult`` needs one) and the validator/acquisition path
  works unchanged for the gap track. :meth:`ReplayOracle.references` refuses, so a gap can never be
  referenced or put on an energy hull by mistake.

In both cases ``diagnostics`` also holds ``quantity``, ``value``, ``key``, ``table_row`` and
``table_id``. A key not in the table (or in it without a value at this level) gives
``ok=False, reason="not_in_table"``; nothing is invented.

Duplicates: a composition key can match several rows (polymorphs: the band-gap table has 15 such
formulas, e.g. SiC ×4; RxnNet has none). ``duplicates="lowest"`` answers with the lowest value (for
formation energies: the most stable polymorph, the one a hull keeps; the default for energies),
``"skip"`` answers ``ok=False, reason="ambiguous_in_table"`` for those keys (the default for gaps,
where no polymorph is the natural answer), ``"refuse"`` raises ConfigError at construction.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

from ase import Atoms

from qaware.errors import ConfigError
from qaware.oracles.replay_tables import Quantity, ReplayTable, formula_key, read_table
from qaware.oracles.result import OracleResult
from qaware.thermo.references import ElementalReferences

__all__ = ["DuplicatePolicy", "KeyKind", "ReplayOracle"]

KeyKind = Literal["composition", "structure"]
DuplicatePolicy = Literal["lowest", "skip", "refuse"]

NOT_IN_TABLE = "not_in_table"
AMBIGUOUS = "ambiguous_in_table"
_DIAG_NAME = {"formation_energy_per_atom": "e_form_per_atom", "band_gap": "band_gap_ev"}


class ReplayOracle:
    """Looks ``level`` up in ``table`` by reduced composition or by structure hash.

    table:      a ReplayTable or the path of a CSV that :func:`read_table` understands.
    level:      one of ``table.levels`` (e.g. ``"r2SCAN@MP"``, ``"HSE06@Borlido2019"``).
    key:        ``"composition"`` (``formula_key`` of the atoms, the format of
                ``qaware.structures.hashing.composition_key``) or ``"structure"``
                (``qaware.structures.hashing.structure_hash``; the table needs structure hashes).
    duplicates: see the module docstring; None picks "lowest" for energies, "skip" for gaps.
    """

    def __init__(
        self,
        table: ReplayTable | str | os.PathLike[str],
        level: str,
        *,
        key: KeyKind = "composition",
        duplicates: DuplicatePolicy | None = None,
    ) -> None:
        self.table = table if isinstance(table, ReplayTable) else read_table(table)
        values = self.table.column(level)  # ConfigError for an unknown level
        if key not in ("composition", "structure"):
            raise ConfigError(f"replay key must be 'composition' or 'structure', got {key!r}")
        if key == "structure" and self.table.structure_hashes is None:
            raise ConfigError(
                f"table {self.table.name} has no structure hashes: use key='composition'"
            )
        if duplicates is None:
            duplicates = "lowest" if self.table.quantity == "formation_energy_per_atom" else "skip"
        if duplicates not in ("lowest", "skip", "refuse"):
            raise ConfigError(
                f"duplicates must be 'lowest', 'skip' or 'refuse', got {duplicates!r}"
            )
        self._level = level
        self.key = key
        self.duplicates = duplicates
        keys = self.table.keys if key == "composition" else self.table.structure_hashes
        rows: dict[str, list[int]] = {}
        for i, k in enumerate(keys or []):
            if values[i] == values[i]:  # not NaN
                rows.setdefault(k, []).append(i)
        multi = {k: [self.table.ids[i] for i in r] for k, r in rows.items() if len(r) > 1}
        if multi and duplicates == "refuse":
            raise ConfigError(
                f"table {self.table.name}, level {level}: {len(multi)} keys have several rows "
                f"(e.g. {dict(list(multi.items())[:3])}); choose duplicates='lowest' or 'skip'"
            )
        self._row: dict[str, int] = {
            k: min(r, key=lambda i: values[i])
            for k, r in rows.items()
            if len(r) == 1 or duplicates == "lowest"
        }
        self._ambiguous: dict[str, list[str]] = multi if duplicates == "skip" else {}

    @property
    def level(self) -> str:
        return self._level

    @property
    def quantity(self) -> Quantity:
        return self.table.quantity

    def settings_hash(self) -> str:
        """sha256 (32 hex) of the table file's sha256, the column, the key kind and the policy."""
        column = self.table.columns.get(self._level, self._level)
        text = f"replay-v1|{self.table.sha256}|{column}|{self._level}|{self.key}|{self.duplicates}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def lookup_key(self, atoms: Atoms) -> str:
        """The table key of ``atoms`` (reduced composition or structure hash)."""
        if self.key == "structure":
            from qaware.structures.hashing import structure_hash

            return structure_hash(atoms)
        return formula_key(Counter(atoms.get_chemical_symbols()))

    def compute(self, atoms: Atoms) -> OracleResult:
        """The recorded value for ``atoms``; ``ok=False`` with a reason when there is none."""
        start = time.perf_counter()
        common: dict[str, Any] = {
            "code": f"replay:{self.table.name}",
            "code_version": self.table.sha256[:16],
            "settings_hash": self.settings_hash(),
        }
        if len(atoms) == 0:
            return OracleResult.failure(self._level, "empty_structure", **common)
        key = self.lookup_key(atoms)
        diagnostics: dict[str, Any] = {
            "key": key,
            "quantity": self.quantity,
            "table": self.table.name,
        }
        if key in self._ambiguous:
            diagnostics["table_ids"] = self._ambiguous[key]
            return OracleResult.failure(self._level, AMBIGUOUS, diagnostics=diagnostics, **common)
        row = self._row.get(key)
        if row is None:
            return OracleResult.failure(
                self._level, NOT_IN_TABLE, diagnostics=diagnostics, **common
            )
        value = float(self.table.column(self._level)[row])
        diagnostics |= {
            "value": value,
            _DIAG_NAME[self.quantity]: value,
            "table_row": row,
            "table_id": self.table.ids[row],
        }
        energy = value * len(atoms) if self.quantity == "formation_energy_per_atom" else value
        return OracleResult(
            ok=True,
            level=self._level,
            energy=energy,
            diagnostics=diagnostics,
            wall_time_s=time.perf_counter() - start,
            **common,
        )

    def references(self, elements: Iterable[str]) -> ElementalReferences:
        """Zero elemental references of this oracle (the table is already referenced).

        Refuses (ConfigError) for band-gap tables: a gap is not an energy.
        """
        if self.quantity != "formation_energy_per_atom":
            raise ConfigError(
                f"replay of {self.quantity} at {self._level} is not an energy: no references"
            )
        els = sorted(set(elements))
        note = f"0 by construction: {self.table.name} holds formation energies"
        return ElementalReferences(
            self._level, self.settings_hash(), dict.fromkeys(els, 0.0), dict.fromkeys(els, note)
        )

    def __repr__(self) -> str:
        return (
            f"ReplayOracle({self.table.name!r}, level={self._level!r}, key={self.key!r}, "
            f"duplicates={self.duplicates!r}, rows={len(self.table)})"
        )
