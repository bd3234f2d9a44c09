"""The live data sets the validator benchmarks run on (Track M molecules, Track X crystals) and
the bookkeeping on their frames: which are labelled, which families there are and how they fold,
which levels a frame keeps, which frames can be referenced, and their true formation energies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from _provenance import REPO
from qaware.datasets.spec import level_key
from qaware.fidelity import Fidelity, FidelityLadder
from qaware.thermo.formation import formation_energies_per_atom
from qaware.validator.cross_calibration import fold_frames

REFERENCES = "atoms"  # the family of the reference frames that train: never held out


def _formula(atoms: Atoms) -> str:
    return str(atoms.info["formula"])


def _tag(atoms: Atoms) -> str:
    return str(atoms.info["tag"])


@dataclass(frozen=True)
class LiveData:
    """A data set this benchmark runs on: where, which levels (cheapest first), which frames
    are the formation-energy references and whether they train, and what a family is."""

    name: str
    folder: Path
    levels: tuple[str, ...]
    reference_tags: tuple[str, ...]
    train_references: bool
    family: Callable[[Atoms], str]
    family_note: str


TRACK_M = LiveData(
    "track_m",
    REPO / "data" / "track_m",
    ("PBE/def2-SVP", "r2SCAN/def2-SVP", "HSE06/def2-SVP", "CCSD(T)/def2-SVP"),
    ("atom",),
    True,
    _formula,
    "molecule families (formula); isolated atoms always train (references)",
)
TRACK_X = LiveData(  # element cells are references only (validator_reference_cells.json)
    "track_x",
    REPO / "data" / "track_x",
    ("PBE", "HSE06@PBE"),
    ("ref:element",),
    False,
    _tag,
    "structure families (anion set X3 of the perovskites; the binary oxides one family); "
    "element cells are references, not trained on",
)
LEVELS = TRACK_M.levels


def labelled(frames: list, data: LiveData = TRACK_M) -> list:
    """Frames with an ok energy at one of ``data.levels`` or more, tagged by family; the
    reference frames form the family ``REFERENCES`` when they train, else are left out."""
    out = []
    for atoms in frames:
        if any(f"energy_{level_key(x)}" in atoms.info for x in data.levels):
            reference = atoms.info.get("tag") in data.reference_tags
            if reference and not data.train_references:
                continue
            a = atoms.copy()
            a.info["family"] = REFERENCES if reference else data.family(a)
            out.append(a)
    return out


def ladder_of(frames: list, min_labels: int, levels: tuple[str, ...]) -> FidelityLadder:
    """Every level with ≥ ``min_labels`` ok energies; loss weight doubles up the ladder."""
    counts = {x: sum(f"energy_{level_key(x)}" in a.info for a in frames) for x in levels}
    levels = tuple(x for x in levels if counts[x] >= min_labels)
    if len(levels) < 2:
        raise SystemExit(f"fewer than two levels with >= {min_labels} labels: {counts}")
    return FidelityLadder(
        tuple(Fidelity(x, weight=2.0 ** (k - len(levels) + 1)) for k, x in enumerate(levels))
    )


def folds_of(frames: list, k: int, seed: int) -> list[list[str]]:
    """Families (not the references) dealt into ``k`` folds in a seeded order."""
    families = sorted({a.info["family"] for a in frames} - {REFERENCES})
    order = np.random.default_rng(seed).permutation(len(families))
    return [[families[i] for i in order[j::k]] for j in range(k)]


def validation_of(frames: list, fold: list[str], min_frames: int) -> list[str]:
    """The first families of ``fold`` holding ≥ ``min_frames`` frames together."""
    size = {f: sum(a.info["family"] == f for a in frames) for f in fold}
    chosen: list[str] = []
    for family in fold:
        chosen.append(family)
        if sum(size[f] for f in chosen) >= min_frames:
            break
    return chosen


def validation_for(frames: list, folds: list[list[str]], j: int, min_frames: int) -> list[str]:
    """Validation families of test fold ``j``: :func:`validation_of` the next fold, or the one
    after, ..., the first choice that leaves every coverable held-out frame covered. Track X's
    F is in two families only: validating on X3=O2F while X3=ONF is tested left no F in
    training and so no ONF cell to predict. On Track M (atoms always train) the next fold."""
    test = folds[j]

    def n_test(held_out: list[str]) -> int:
        return sum(frames[i].info["family"] in test for i in covered(frames, held_out))

    best = n_test(test)
    for step in range(1, len(folds)):
        chosen = validation_of(frames, folds[(j + step) % len(folds)], min_frames)
        if n_test(test + chosen) == best:
            return chosen
    return validation_of(frames, folds[(j + 1) % len(folds)], min_frames)


def per_frame(frames: list) -> list:
    """Copies in which every non-reference frame is a family of its own (random-frame split)."""
    out = []
    for i, atoms in enumerate(frames):
        a = atoms.copy()
        if a.info["family"] != REFERENCES:
            a.info["family"] = f"frame {i}"
        out.append(a)
    return out


def only_levels(frames: list, keep: tuple[str, ...], levels: tuple[str, ...]) -> list:
    """Copies of ``frames`` carrying only the labels of ``keep`` out of ``levels`` (frames left
    bare dropped)."""
    drop = [level_key(x) for x in levels if x not in keep]
    out = []
    for atoms in frames:
        a = atoms.copy()
        for key in drop:
            a.info.pop(f"energy_{key}", None)
            a.arrays.pop(f"forces_{key}", None)
        if any(f"energy_{level_key(x)}" in a.info for x in keep):
            out.append(a)
    return out


def referenced(frames: list, refs: dict) -> list:
    """The frames whose elements have a reference at every level of ``refs``: only they have a
    formation energy at every level (the validator predicts every level; Track X's HSE06
    element cells cover the HSE06 subset's elements, not every perovskite's)."""
    return [a for a in frames
            if all(set(a.get_chemical_symbols()) <= set(r.mu) for r in refs.values())]  # fmt: skip


def true_e_form(frames: list, level: str, refs: dict) -> np.ndarray:
    """Referenced e_form per atom at ``level`` (NaN where unlabelled)."""
    key = f"energy_{level_key(level)}"
    energy = np.array([a.info.get(key, np.nan) for a in frames], dtype=float)
    out = np.full(len(frames), np.nan)
    ok = np.flatnonzero(np.isfinite(energy))  # only these need a reference for every element
    if ok.size:
        sub = [frames[i] for i in ok]
        elements = sorted({s for a in sub for s in a.get_chemical_symbols()})
        comp = np.array([[a.get_chemical_symbols().count(e) for e in elements] for a in sub])
        out[ok] = formation_energies_per_atom(energy[ok], comp, elements, refs[level], level=level)
    return out


def covered(frames: list, held_out: list[str]) -> np.ndarray:
    """Rows a fold can use: the training families' frames, and held-out frames whose elements
    all occur in training (an element never trained on has no learned energy; on Track M the
    isolated atoms train, so this keeps every row)."""
    train, test = fold_frames(frames, [a.info["family"] for a in frames], set(held_out))
    return np.array(sorted(train + test), dtype=int)
