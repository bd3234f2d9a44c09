"""How far apart the fidelities of the shipped data sets are, on formation energies.

    OMP_NUM_THREADS=1 python benchmarks/fidelity_gaps.py

Reads the committed exports ``data/track_m/track_m.extxyz[.gz]``, its def2-TZVP subset
``data/track_m/tzvp/track_m_tzvp.extxyz`` and ``data/track_x/track_x.extxyz[.gz]`` (whatever
is labelled now: the builds may be partial, so every statistic states the number of structures
it used) and writes
``benchmarks/results/fidelity_gaps.json`` with provenance (``_provenance.Recorder``).

Formation energies per level use that level's own references in the same data set
(:func:`qaware.datasets.elemental_references`): Track M the isolated atoms (tag ``atom``), so
its e_form is minus the atomisation energy per atom; Track X the periodic element cells (tag
``ref:element``; O, N, F as half a diatomic in a 10 Å box). Reference frames themselves (e_form
= 0 by construction) are left out of every statistic. Per data set:

* ``gaps``: for each pair (a, b) over the structures with an ok energy at both levels and
  references for all their elements: n, MAE, max |e_form(b) − e_form(a)| (with the structure),
  and the mean signed difference b − a, eV/atom. Pairs: PBE vs the top level (Track M
  CCSD(T)/def2-SVP, Track X HSE06@PBE), PBE vs r2SCAN (Track X: only the r2SCAN stand-in
  exists), PBE vs HSE06, (Track X) self-consistent HSE06 vs HSE06@PBE on the cells labelled
  both ways (what the cheaper level costs in accuracy), and each pretrained stand-in vs live
  GPAW PBE, also on the cells
  without a +U element (the ``GGA+U`` stand-in imitates MP GGA+U, GPAW PBE has no U); and
  (Track M) the basis-set gap CCSD(T)/def2-SVP vs def2-TZVP on the TZVP subset.
* ``gates``: per level, the structures labelled so far (not pending) and the share of them
  failing each sanity gate (the gate named as the gated result's reason) or failing outright
  (timeout, SCF not converged, exception...).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import REPO, RESULTS, Recorder
from qaware.datasets import (
    dataset_file,
    elemental_references,
    formation_energies,
    level_keys,
    level_status,
    read_dataset,
)

U_ELEMENTS = frozenset(("Co", "Cr", "Fe", "Mn", "Mo", "Ni", "V", "W"))
"""Elements with a Hubbard U in MP GGA+U oxides/fluorides (what SevenNet's PBE modal learned)."""


@dataclass(frozen=True)
class DataSet:
    """Where a data set is and which of its level keys play which role."""

    name: str
    folder: str
    reference_tags: tuple[str, ...]
    reference_meaning: str
    pairs: tuple[tuple[str, str, str], ...]  # (label, level key a, level key b): b − a
    u_split: tuple[str, ...] = ()  # pair labels also reported without +U elements


TRACK_M = DataSet(
    "track_m",
    "data/track_m",
    ("atom",),
    "isolated atoms at their ground-state multiplicity: e_form = -atomisation energy per atom",
    (
        ("PBE vs top (CCSD(T)/def2-SVP)", "PBE_def2_SVP", "CCSD_T_def2_SVP"),
        ("PBE vs r2SCAN", "PBE_def2_SVP", "r2SCAN_def2_SVP"),
        ("PBE vs HSE06", "PBE_def2_SVP", "HSE06_def2_SVP"),
    ),
)
TRACK_M_TZVP = DataSet(
    "track_m_tzvp",
    "data/track_m/tzvp",
    ("atom",),
    "isolated atoms at their ground-state multiplicity (CCSD(T)/def2-TZVP)",
    (),
)
BASIS_GAP = ("CCSD(T)/def2-SVP vs CCSD(T)/def2-TZVP", "CCSD_T_def2_SVP", "CCSD_T_def2_TZVP")
"""Track M's basis-set gap: the TZVP subset's structures are Track M's (same structure hash)."""
TRACK_X = DataSet(
    "track_x",
    "data/track_x",
    ("ref:element",),
    "periodic element cells (O, N, F: half the diatomic in a 10 Å box), same oracle settings",
    (
        ("PBE vs top (HSE06@PBE)", "PBE", "HSE06_at_PBE"),
        ("PBE vs r2SCAN (stand-in r2SCAN@SevenNet-MF-0)", "PBE", "r2SCAN_at_SevenNet_MF_0"),
        ("PBE vs HSE06 (self-consistent)", "PBE", "HSE06"),
        ("HSE06 (self-consistent) vs HSE06@PBE", "HSE06", "HSE06_at_PBE"),
        ("stand-in GGA+U@SevenNet-MF-0 vs GPAW PBE", "PBE", "GGA_plus_U_at_SevenNet_MF_0"),
        ("stand-in r2SCAN@SevenNet-MF-0 vs GPAW PBE", "PBE", "r2SCAN_at_SevenNet_MF_0"),
    ),
    u_split=(
        "stand-in GGA+U@SevenNet-MF-0 vs GPAW PBE",
        "stand-in r2SCAN@SevenNet-MF-0 vs GPAW PBE",
    ),
)


def _round(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 4)


def gap_stats(frames: Sequence[Atoms], e_a: np.ndarray, e_b: np.ndarray) -> dict[str, Any]:
    """n, MAE, max |b − a| (eV/atom, with its structure) and mean b − a over finite pairs."""
    both = np.flatnonzero(np.isfinite(e_a) & np.isfinite(e_b))
    if both.size == 0:
        return {"n": 0, "mae": None, "max_abs": None, "mean_signed": None, "max_at": None}
    diff = e_b[both] - e_a[both]
    worst = int(both[np.argmax(np.abs(diff))])
    return {
        "n": int(both.size),
        "mae": _round(float(np.mean(np.abs(diff)))),
        "max_abs": _round(float(np.max(np.abs(diff)))),
        "mean_signed": _round(float(np.mean(diff))),
        "max_at": {
            "frame": worst,
            "formula": frames[worst].get_chemical_formula(),
            "structure_hash": str(frames[worst].info.get("structure_hash", "")),
        },
    }


def gate_shares(frames: Sequence[Atoms], key: str, skip: np.ndarray) -> dict[str, Any]:
    """Per level: structures labelled (not pending), and the share failing each gate/reason."""
    counts = {"ok": 0, "gated": 0, "failed": 0, "pending": 0}
    reasons: dict[str, int] = {}
    for frame in (f for f, s in zip(frames, skip, strict=True) if not s):
        status = level_status(frame, key)
        if status == "absent":
            continue
        counts[status] = counts.get(status, 0) + 1
        if status in ("gated", "failed"):
            reason = str(frame.info.get(f"reason_{key}", "unknown"))
            name = reason.split(":")[0].split(" after ")[0].strip() or "unknown"
            label = f"gate {name}" if status == "gated" else f"failed: {name}"
            reasons[label] = reasons.get(label, 0) + 1
    done = counts["ok"] + counts["gated"] + counts["failed"]
    shares = {k: _round(v / done) for k, v in sorted(reasons.items())} if done else {}
    return {"labelled": done, **counts, "share_failing": shares}


def _e_form(ds: DataSet, frames: Sequence[Atoms], key: str) -> tuple[np.ndarray, list[str]]:
    """Formation energies at ``key`` (NaN for reference frames and unlabelled ones) and the
    elements that have a reference at that level."""
    refs = elemental_references(frames, key, ds.reference_tags)
    e = formation_energies(frames, key, refs)
    e[[f.info.get("tag") in ds.reference_tags for f in frames]] = np.nan
    return e, list(refs.elements)


def basis_gap(svp: Sequence[Atoms], tzvp: Sequence[Atoms]) -> dict[str, Any]:
    """e_form at CCSD(T)/def2-TZVP minus def2-SVP on the structures labelled at both, each
    referenced to its own basis's atoms (Track M's frames and its TZVP subset's, matched by
    structure hash)."""
    _, a, b = BASIS_GAP
    if a not in level_keys(svp) or b not in level_keys(tzvp):
        return {"n": 0, "note": f"{a} or {b} not labelled yet"}
    hashes = (str(f.info["structure_hash"]) for f in svp)
    by_hash = dict(zip(hashes, _e_form(TRACK_M, svp, a)[0], strict=True))
    e_a = np.array([by_hash.get(str(f.info["structure_hash"]), np.nan) for f in tzvp])
    return {"a": a, "b": b, **gap_stats(tzvp, e_a, _e_form(TRACK_M_TZVP, tzvp, b)[0])}


def analyse(ds: DataSet, repo: Path) -> tuple[dict[str, Any], Path, list[Atoms]]:
    """All statistics of one data set, the file they were computed from and its frames."""
    path = dataset_file(repo / ds.folder, ds.name)
    frames = read_dataset(path)
    keys = level_keys(frames)
    is_ref = np.array([f.info.get("tag") in ds.reference_tags for f in frames])
    e_form: dict[str, np.ndarray] = {}
    refs_used: dict[str, list[str]] = {}
    for key in keys:
        e_form[key], refs_used[key] = _e_form(ds, frames, key)
    no_u = np.array([not set(f.get_chemical_symbols()) & U_ELEMENTS for f in frames])
    gaps: dict[str, Any] = {}
    for label, a, b in ds.pairs:
        if a not in e_form or b not in e_form:
            gaps[label] = {"n": 0, "note": f"level {a if a not in e_form else b} not in the file"}
            continue
        gaps[label] = {"a": a, "b": b, **gap_stats(frames, e_form[a], e_form[b])}
        if label in ds.u_split:
            masked = np.where(no_u, e_form[b], np.nan)
            gaps[label]["without_U_elements"] = gap_stats(frames, e_form[a], masked)
    finite = {k: v[np.isfinite(v)] for k, v in e_form.items()}
    result = {
        "file": str(path.relative_to(repo)),
        "n_frames": len(frames),
        "n_reference_frames": int(is_ref.sum()),
        "references": ds.reference_meaning,
        "levels": keys,
        "reference_elements": refs_used,
        "e_form_range": {
            k: (
                {"n": int(v.size), "min": _round(v.min()), "max": _round(v.max())}
                if v.size
                else {"n": 0}
            )
            for k, v in finite.items()
        },
        "gaps_ev_per_atom": gaps,
        "gates": {k: gate_shares(frames, k, is_ref) for k in keys},
    }
    return result, path, frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "fidelity_gaps.json")
    args = parser.parse_args(argv)
    rec = Recorder("fidelity_gaps")
    results: dict[str, Any] = {
        "units": "eV/atom",
        "definition": "e_form(level) from that level's own references in the same data set; "
        "gap = e_form(b) - e_form(a) over structures ok at both levels, reference frames "
        "excluded; 'n' says how many structures each statistic used (builds may be partial)",
    }
    frames = {}
    for ds in (TRACK_M, TRACK_M_TZVP, TRACK_X):
        results[ds.name], path, frames[ds.name] = analyse(ds, REPO)
        rec.add_data_file(path)
    results[TRACK_M_TZVP.name]["gaps_ev_per_atom"][BASIS_GAP[0]] = basis_gap(
        frames[TRACK_M.name], frames[TRACK_M_TZVP.name]
    )
    out = rec.write(args.out, results)
    for ds in (TRACK_M, TRACK_M_TZVP, TRACK_X):
        for label, g in results[ds.name]["gaps_ev_per_atom"].items():
            print(f"{ds.name}: {label}: n={g['n']} MAE={g.get('mae')} max={g.get('max_abs')}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
