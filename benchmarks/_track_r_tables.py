"""Track R's replayed ladders (levels, costs, hit rules), their tables and family folds: the
data every Track R campaign runs on, apart from the campaign loop (``campaign_track_r.py``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from ase import Atoms

from qaware.oracles.replay_tables import (
    ReplayTable,
    load_band_gaps,
    load_formation_enthalpies,
)

MIN_FAMILY: Final = 20


@dataclass(frozen=True)
class Track:
    """A replayed ladder: level names (cheapest first), cost per call, and the hit rule."""

    name: str
    quantity: str
    levels: tuple[str, ...]
    costs: tuple[float, ...]
    window: tuple[float, float] | None = None  # band gaps: the target window, eV
    margin: float = 0.1  # energies: a hit is low − top > margin, eV/atom
    low_outside: bool = False  # band gaps: a hit also needs the lowest level outside the window

    def objective(self, values: np.ndarray) -> np.ndarray:
        """Lower is better: e_form (eV/atom), or a gap's distance to the window (eV)."""
        if self.window is None:
            return np.asarray(values, dtype=float)
        lo, hi = self.window
        return np.maximum(0.0, np.maximum(lo - values, values - hi))

    def hit(self, low: np.ndarray, top: np.ndarray) -> np.ndarray:
        if self.window is None:
            return (np.asarray(low) - np.asarray(top)) > self.margin
        inside = self.objective(np.asarray(top)) == 0.0
        return inside & (self.objective(np.asarray(low)) > 0.0) if self.low_outside else inside


BAND_GAP: Final = Track(
    "band_gap",
    "band_gap",
    ("PBE@Borlido2019", "SCAN@Borlido2019", "HSE06@Borlido2019", "experiment"),
    (1.0, 3.0, 30.0, 100.0),
    window=(1.1, 1.8),
)

TRACKS: Final = {
    "formation_enthalpy": Track(
        "formation_enthalpy",
        "formation_energy_per_atom",
        ("GGA(+U)@MP", "r2SCAN@MP", "experiment"),
        (1.0, 3.0, 100.0),
    ),
    "band_gap": BAND_GAP,
    # the wording: the true gap in the window *where PBE puts it elsewhere* (the
    # materials a PBE screen misses; a PBE screen's picks inside the window never count)
    "band_gap_missed": replace(BAND_GAP, name="band_gap_missed", low_outside=True),
}


def load_table(track: Track) -> ReplayTable:
    """The track's rows with every level (gaps: polymorph duplicates dropped)."""
    table = load_formation_enthalpies() if track.quantity != "band_gap" else load_band_gaps()
    keep = table.complete(track.levels)
    if track.quantity == "band_gap":
        keys = np.array(table.keys)
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        keep &= counts[inverse] == 1
    return table.subset(keep)


def folds(table: ReplayTable, split: str) -> list[tuple[str, np.ndarray]]:
    """(name, pool mask) per fold: one family, or leave-one-family-out with small ones merged."""
    fam = np.array(table.families)
    if split != "lofo":
        return [(split, fam == split)]
    names, counts = np.unique(fam, return_counts=True)
    big = [str(f) for f, c in zip(names, counts, strict=True) if c >= MIN_FAMILY]
    out = [(f, fam == f) for f in big]
    small = ~np.isin(fam, big)
    if small.any():
        out.append(("+".join(sorted(set(fam[small]))), small))
    return out


def composition_atoms(counts: dict[str, float]) -> Atoms:
    """An ase.Atoms with the smallest integer multiple of a composition (positions unused)."""
    for m in range(1, 1001):
        if all(abs(n * m - round(n * m)) < 1e-6 * m for n in counts.values()):
            return Atoms("".join(f"{el}{round(n * m)}" for el, n in sorted(counts.items())))
    raise ValueError(f"composition {counts} is not rational")
