"""Track X as a table for the replay campaigns (``campaign_track_x.py``): per-level formation
energies and E_hull against the data set's known phases (element cells, binary oxides)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from qaware.datasets import (
    dataset_file,
    elemental_references,
    formation_energies,
    level_keys,
    read_dataset,
)
from qaware.thermo import ElementalReferences, FidelityHull, HullEntry

ROOT: Final = Path(__file__).resolve().parents[1]
DATA: Final = ROOT / "data" / "track_x"
TAG_ELEMENT, TAG_OXIDE, FAMILY_PREFIX = "ref:element", "ref:oxide", "X3="


@dataclass
class Table:
    """The rows a ladder can use: frames, per-level e_form / E_hull (NaN where not ok)."""

    frames: list[Any]
    levels: tuple[str, ...]
    tags: np.ndarray
    references: dict[str, ElementalReferences]
    e_form: dict[str, np.ndarray]
    hull_energy: dict[str, np.ndarray]  # eV/atom of the known-phase hull at each row's formula
    source: dict[str, str]

    @property
    def candidate(self) -> np.ndarray:
        """Rows that may be pooled and are trained on: the perovskites."""
        return np.char.startswith(self.tags.astype(str), FAMILY_PREFIX)

    @property
    def known_phase(self) -> np.ndarray:
        """Rows whose top level is known from the start: the hull's element cells and oxides."""
        return np.isin(self.tags, [TAG_ELEMENT, TAG_OXIDE])

    def e_hull(self, level: str) -> np.ndarray:
        return self.e_form[level] - self.hull_energy[level]


def load_table(levels: tuple[str, ...], path: Path | None = None) -> Table:
    """Track X rows with the low level (and, for reference phases, both levels) referenced,
    whose elements all have an element cell at every level (the validator's references)."""
    path = Path(path) if path is not None else dataset_file(DATA, "track_x")
    frames = read_dataset(path)
    missing = [lv for lv in levels if lv not in level_keys(frames)]
    if missing:
        raise SystemExit(f"campaign_track_x: {path} has no level {missing} ({level_keys(frames)})")
    tags = np.array([str(a.info.get("tag", "")) for a in frames])
    refs = {lv: elemental_references(frames, lv, [TAG_ELEMENT]) for lv in levels}
    e_form = {lv: formation_energies(frames, lv, refs[lv]) for lv in levels}
    known = np.isin(tags, [TAG_ELEMENT, TAG_OXIDE])
    keep = np.isfinite(e_form[levels[0]]) & (~known | np.isfinite(e_form[levels[-1]]))
    keep &= known | np.char.startswith(tags.astype(str), FAMILY_PREFIX)
    covered = set.intersection(*(set(refs[lv].mu) for lv in levels))  # the validator's refs
    keep &= np.array([set(a.get_chemical_symbols()) <= covered for a in frames])
    rows = np.flatnonzero(keep)
    frames = [frames[i] for i in rows]
    tags, e_form = tags[rows], {lv: v[rows] for lv, v in e_form.items()}
    hull_energy = {}
    for lv in levels:
        entries = [
            HullEntry(f"el:{el}", {el: 1.0}, 0.0, lv, refs[lv].settings_hash) for el in refs[lv].mu
        ]
        for i in np.flatnonzero(tags == TAG_OXIDE):
            counts = dict(Counter(frames[i].get_chemical_symbols()))
            entries.append(HullEntry(f"ox{i}", counts, float(e_form[lv][i]), lv,
                                     refs[lv].settings_hash))  # fmt: skip
        hull = FidelityHull(tuple(entries), lv, refs[lv].settings_hash)
        hull_energy[lv] = np.array(
            [
                hull.hull_energy_per_atom(dict(Counter(a.get_chemical_symbols())))
                if np.isfinite(e)
                else np.nan
                for a, e in zip(frames, e_form[lv], strict=True)
            ]
        )
    source = {"path": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)}
    return Table(frames, levels, tags, refs, e_form, hull_energy, source)
