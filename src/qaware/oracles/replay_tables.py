"""Recorded multi-fidelity tables for replay oracles: the two published sets and users' own CSVs.

Published tables (in the shared data folder, see :func:`shared_data_dir`; READMEs there):

* ``formation_enthalpy_rxnnet/rxnnet_main.csv`` (1,555 rows; 272 more in
  ``rxnnet_intermetallics.csv``): formation enthalpies ΔH_f in eV/atom, :data:`RXNNET_LEVELS`.
  974 main rows have GGA(+U), r2SCAN and experiment.
* ``bandgap_borlido_mbpt/revised_bandgap_benchmark.csv`` (464 rows; 472 in the original
  ``bandgap_benchmark.csv``): band gaps in eV, :data:`GAP_LEVELS`.

Level names say where the numbers come from (``r2SCAN@MP``, ``HSE06@Borlido2019``); measurements
are ``experiment``. Every row is keyed by its reduced composition in :func:`formula_key`'s format
(that of ``qaware.structures.hashing.composition_key``: elements alphabetical, counts of 1 omitted;
fractional formulas are scaled to integers, ThH3.75 -> "H15Th4"; hydrates "A·nB" are summed) and
gets a chemical family (:func:`chemical_family`) for family-split benchmarks.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence, Sized
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Literal

import numpy as np

from qaware.errors import ConfigError, InvalidStructureError

__all__ = [
    "GAP_LEVELS",
    "RXNNET_LEVELS",
    "Quantity",
    "ReplayTable",
    "chemical_family",
    "formula_key",
    "load_band_gaps",
    "load_formation_enthalpies",
    "parse_formula",
    "read_table",
    "shared_data_dir",
]

Quantity = Literal["formation_energy_per_atom", "band_gap"]
UNITS: dict[str, str] = {"formation_energy_per_atom": "eV/atom", "band_gap": "eV"}

RXNNET_LEVELS: dict[str, str] = {
    "GGA(+U)@MP": "hf_gga_gga_u",
    "r2SCAN@MP": "hf_r2scan",
    "GGA(+U)/r2SCAN-mixing@MP": "hf_gga_gga_u_r2scan",
    "experiment": "hf_ref",  # NBS tables (Wagman 1982)
    "experiment@Wang2021": "hf_wang",
}
"""level -> column of the RxnNet CSVs (formation enthalpies, eV/atom)."""

GAP_LEVELS: dict[str, str] = {
    "LDA@Borlido2019": "LDA",
    "PBE@Borlido2019": "PBE",
    "PBEsol@Borlido2019": "PBE_SOL",
    "SCAN@Borlido2019": "SCAN",
    "mBJ@Borlido2019": "MBJ",
    "HLE16@Borlido2019": "HLE16",
    "HSE06@Borlido2019": "HSE06",
    "HSE14@Borlido2019": "HSE14",
    "PBE0@Borlido2019": "PBE0",
    "G0W0(PBE,PPA)@Grossmann2025": "G0W0@PBE-PPA",
    "QSGW@Grossmann2025": "QSGW",
    "QSGW^@Grossmann2025": "QSGW^",
    "experiment": "Experimental",
}
"""level -> column of the Borlido/Großmann CSVs (band gaps, eV)."""

_ENV = "QAWARE_SHARED_DATA"
# open-shell 3d metals; Sc (d0) and Zn (d10) oxides are closed-shell and count as plain "oxide"
_3D_METALS = frozenset({"Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu"})
_HALOGENS = frozenset({"F", "Cl", "Br", "I"})
_CHALCOGENS = frozenset({"S", "Se", "Te"})
_PNICTOGENS = frozenset({"N", "P", "As"})
_NONMETALS = _HALOGENS | _CHALCOGENS | _PNICTOGENS
_NONMETALS |= {"H", "B", "C", "O", "Si", "He", "Ne", "Ar", "Kr", "Xe"}


@dataclass
class ReplayTable:
    """A recorded table: ``n`` rows, one value per row and level (NaN = not recorded).

    values:  level -> (n,) float array in ``unit`` (eV/atom for formation energies, eV for gaps).
    columns: level -> the source column it was read from (provenance).
    keys:    (n,) reduced-composition keys; ``structure_hashes`` (n,) when the table has structures.
    sha256:  of the source file's bytes (or of the content, for tables built in memory).
    """

    name: str
    quantity: Quantity
    ids: list[str]
    formulas: list[str]
    keys: list[str]
    compositions: list[dict[str, float]]
    values: dict[str, np.ndarray]
    columns: dict[str, str]
    sha256: str
    source: str = ""
    families: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    structure_hashes: list[str] | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.quantity not in UNITS:
            raise ConfigError(f"table {self.name}: property must be one of {list(UNITS)}")
        self.values = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in self.values.items()}
        lists: dict[str, Sized] = {
            "formulas": self.formulas,
            "keys": self.keys,
            "compositions": self.compositions,
        }
        lists |= {f"values[{k}]": v for k, v in self.values.items()}
        if self.structure_hashes is not None:
            lists["structure_hashes"] = self.structure_hashes
        if not self.families:
            self.families = [chemical_family(c) for c in self.compositions]
        if not self.tags:
            self.tags = [""] * n
        lists |= {"families": self.families, "tags": self.tags}
        bad = {k: len(v) for k, v in lists.items() if len(v) != n}
        if bad:
            raise ConfigError(f"table {self.name}: {n} ids but lengths {bad}")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def unit(self) -> str:
        return UNITS[self.quantity]

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(self.values)

    def column(self, level: str) -> np.ndarray:
        """(n,) values at ``level`` (NaN where not recorded)."""
        if level not in self.values:
            raise ConfigError(f"table {self.name} has no level {level!r}; levels: {self.levels}")
        return self.values[level]

    def complete(self, levels: Sequence[str]) -> np.ndarray:
        """(n,) bool: rows with a value at every one of ``levels``."""
        mask = np.ones(len(self), dtype=bool)
        for level in levels:
            mask &= np.isfinite(self.column(level))
        return mask

    def subset(self, rows: np.ndarray | Sequence[int]) -> ReplayTable:
        """Rows selected by a (n,) bool mask or by indices (provenance kept)."""
        idx = np.arange(len(self))[np.asarray(rows)]
        pick = [int(i) for i in idx]
        return ReplayTable(
            name=self.name,
            quantity=self.quantity,
            ids=[self.ids[i] for i in pick],
            formulas=[self.formulas[i] for i in pick],
            keys=[self.keys[i] for i in pick],
            compositions=[self.compositions[i] for i in pick],
            values={k: v[idx] for k, v in self.values.items()},
            columns=dict(self.columns),
            sha256=self.sha256,
            source=self.source,
            families=[self.families[i] for i in pick],
            tags=[self.tags[i] for i in pick],
            structure_hashes=None
            if self.structure_hashes is None
            else [self.structure_hashes[i] for i in pick],
        )

    @classmethod
    def from_records(
        cls,
        name: str,
        quantity: Quantity,
        formulas: Sequence[str],
        values: Mapping[str, Sequence[float | None]],
        *,
        ids: Sequence[str] | None = None,
        structure_hashes: Sequence[str] | None = None,
    ) -> ReplayTable:
        """A table built in memory (users' own data); its sha256 hashes the content."""
        comps = [parse_formula(f, source=name, index=i) for i, f in enumerate(formulas)]
        vals = {
            k: np.array([np.nan if x is None else x for x in v], float) for k, v in values.items()
        }
        content = json.dumps(
            [list(formulas), {k: v.tolist() for k, v in vals.items()}, list(structure_hashes or [])]
        )
        return cls(
            name=name,
            quantity=quantity,
            ids=list(ids) if ids is not None else [str(i) for i in range(len(formulas))],
            formulas=list(formulas),
            keys=[formula_key(c) for c in comps],
            compositions=comps,
            values=vals,
            columns={k: k for k in vals},
            sha256=hashlib.sha256(content.encode()).hexdigest(),
            structure_hashes=None if structure_hashes is None else list(structure_hashes),
        )


def shared_data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The shared data folder: ``path``, or $QAWARE_SHARED_DATA, or ``<repo>/../shared/data``."""
    if path is not None:
        tried = [Path(path)]
    elif os.environ.get(_ENV):
        tried = [Path(os.environ[_ENV])]
    else:
        tried = [Path(__file__).resolve().parents[3].parent / "shared" / "data"]
    for p in tried:
        if p.is_dir():
            return p
    raise ConfigError(
        f"shared data folder not found (looked in {[str(p) for p in tried]}); pass its path "
        f"or set {_ENV}"
    )


def load_formation_enthalpies(
    data_dir: str | os.PathLike[str] | None = None, *, intermetallics: bool = False
) -> ReplayTable:
    """RxnNet formation enthalpies (eV/atom): main table, or the intermetallics one."""
    name = "rxnnet_intermetallics.csv" if intermetallics else "rxnnet_main.csv"
    return read_table(shared_data_dir(data_dir) / "formation_enthalpy_rxnnet" / name)


def load_band_gaps(
    data_dir: str | os.PathLike[str] | None = None, *, revised: bool = True
) -> ReplayTable:
    """Borlido band gaps (eV): the revised table (recommended upstream) or the original one."""
    name = "revised_bandgap_benchmark.csv" if revised else "bandgap_benchmark.csv"
    return read_table(shared_data_dir(data_dir) / "bandgap_borlido_mbpt" / name)


def read_table(path: str | os.PathLike[str], *, quantity: Quantity | None = None) -> ReplayTable:
    """Read a replay table, recognising the RxnNet and Borlido headers.

    Any other CSV needs a ``formula`` column, optional ``id`` and ``structure_hash`` columns, and
    ``property``; every other column is a level named by its header (values in :data:`UNITS`).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"replay table {path} does not exist")
    raw = path.read_bytes()
    rows = list(csv.DictReader(raw.decode("utf-8").splitlines()))
    header = list(rows[0]) if rows else []
    hcol: str | None = None
    if "hf_gga_gga_u" in header:
        prop, levels, fcol = "formation_energy_per_atom", RXNNET_LEVELS, "formula"
        idcol: str | None = "likely_mpid"
    elif "Experimental" in header and "Composition" in header:
        prop, levels, fcol, idcol = "band_gap", GAP_LEVELS, "Composition", "MP-ID"
    else:
        if quantity is None or "formula" not in header:
            raise ConfigError(
                f"{path}: not a known table; a generic table needs a 'formula' column and "
                f"quantity= ('formation_energy_per_atom' or 'band_gap'); header {header}"
            )
        prop, fcol = quantity, "formula"
        idcol = "id" if "id" in header else None
        hcol = "structure_hash" if "structure_hash" in header else None
        levels = {h: h for h in header if h not in {fcol, idcol, hcol}}
    if quantity is not None and quantity != prop:
        raise ConfigError(f"{path}: holds {prop}, not {quantity}")
    missing = sorted({fcol, *levels.values()} - set(header))
    if missing:
        raise ConfigError(f"{path}: missing columns {missing}")
    comps = [parse_formula(r[fcol], source=str(path), index=i) for i, r in enumerate(rows)]
    values = {
        level: np.array([_number(r[col], path, i, col) for i, r in enumerate(rows)])
        for level, col in levels.items()
    }
    return ReplayTable(
        name=f"{path.parent.name}/{path.name}",
        quantity=prop,  # type: ignore[arg-type]
        ids=[r[idcol] if idcol else str(i) for i, r in enumerate(rows)],
        formulas=[r[fcol] for r in rows],
        keys=[formula_key(c) for c in comps],
        compositions=comps,
        values=values,
        columns=dict(levels),
        sha256=hashlib.sha256(raw).hexdigest(),
        source=str(path),
        tags=[r.get("chemistry_type", "") for r in rows],
        structure_hashes=[r[hcol] for r in rows] if hcol else None,
    )


def parse_formula(text: str, *, source: str = "", index: int | None = None) -> dict[str, float]:
    """Element -> count of a formula with parentheses, fractional counts and hydrate dots.

    "Na2TeO3·5H2O" -> {Na: 2, Te: 1, O: 8, H: 10}; "(0.5Na2O·0.5Li2O·2B2O3)" -> summed parts.
    """
    from ase.data import atomic_numbers
    from pymatgen.core import Composition

    body = text.strip()
    if body.startswith("(") and body.endswith(")") and "·" in body:
        body = body[1:-1]
    total: dict[str, float] = {}
    try:
        for part in re.split(r"[·•]", body):
            m = re.fullmatch(r"(\d+(?:\.\d+)?)?(.+)", part.strip())
            if m is None:
                raise ValueError(f"empty part in {text!r}")
            factor = float(m.group(1)) if m.group(1) else 1.0
            for el, n in Composition(m.group(2)).items():
                if str(el) not in atomic_numbers:  # pymatgen accepts dummy species ("Xx")
                    raise ValueError(f"unknown element {str(el).rstrip('0+')!r}")
                total[str(el)] = total.get(str(el), 0.0) + factor * float(n)
    except (ValueError, KeyError) as exc:
        raise InvalidStructureError(
            f"cannot parse formula {text!r}: {exc}", source=source, index=index, field="formula"
        ) from None
    if not total:
        raise InvalidStructureError("empty formula", source=source, index=index, field="formula")
    return dict(total)


def formula_key(counts: Mapping[str, float], *, max_multiplier: int = 1000) -> str:
    """Reduced composition key ("O3SrTi"), the format of ``composition_key`` for ase.Atoms."""
    items = {el: float(n) for el, n in counts.items() if float(n) != 0.0}
    for m in range(1, max_multiplier + 1):
        scaled = {el: n * m for el, n in items.items()}
        if all(abs(v - round(v)) < 1e-6 * m for v in scaled.values()):
            ints = {el: round(v) for el, v in scaled.items()}
            break
    else:
        raise ValueError(f"counts {items} are not rational with denominator ≤ {max_multiplier}")
    divisor = 0
    for v in ints.values():
        divisor = gcd(divisor, v)
    return "".join(f"{el}{n // divisor if n != divisor else ''}" for el, n in sorted(ints.items()))


def chemical_family(counts: Mapping[str, float]) -> str:
    """A coarse family label from the composition, first rule that applies.

    "3d-oxide" (O with any of Ti–Cu, the open-shell 3d metals; oxysalts and hydrates included:
    96 of the 974 complete RxnNet rows, as in its README), "oxide", "halide" (F, Cl, Br, I),
    "chalcogenide" (S, Se, Te), "pnictide" (N, P, As), "hydride" (H), "carbide-boride" (C, B, Si
    as the only non-metals), "intermetallic" (no non-metal), else "other".
    """
    els = {el for el, n in counts.items() if n}
    if "O" in els:
        return "3d-oxide" if els & _3D_METALS else "oxide"
    for family, group in (
        ("halide", _HALOGENS),
        ("chalcogenide", _CHALCOGENS),
        ("pnictide", _PNICTOGENS),
        ("hydride", {"H"}),
    ):
        if els & group:
            return family
    if not els & _NONMETALS:
        return "intermetallic"
    if els & _NONMETALS <= {"B", "C", "Si"}:
        return "carbide-boride"
    return "other"


def _number(text: str, path: Path, row: int, column: str) -> float:
    text = text.strip()
    if not text:
        return float("nan")
    try:
        value = float(text)
    except ValueError:
        raise InvalidStructureError(
            f"not a number: {text!r}", source=str(path), index=row, field=column
        ) from None
    if not np.isfinite(value):
        raise InvalidStructureError(
            f"non-finite value {text!r}", source=str(path), index=row, field=column
        )
    return value
