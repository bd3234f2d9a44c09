"""The composition-only baselines of the live-data validator benchmarks
(``validator_track_m.py``, ``validator_track_x.py``): least-squares element energies per level
(``lsq``) and a composition-linear fit of E_top − E_low itself (``lsq_D``). No network, no
geometry: what a model must beat."""

from __future__ import annotations

import numpy as np

from qaware.datasets.spec import level_key
from qaware.fidelity import FidelityLadder
from qaware.thermo.formation import formation_energies_per_atom

__all__ = ["lsq_d_fold", "lsq_fold"]


def lsq_fold(frames: list, ladder: FidelityLadder, refs: dict, test, held_out=None) -> dict:
    """Per-level least-squares element energies on the frames outside ``held_out`` (default:
    ``test``), e_form on ``test``."""
    elements = sorted({s for a in frames for s in a.get_chemical_symbols()})
    comp = np.array([[a.get_chemical_symbols().count(e) for e in elements] for a in frames], float)
    train = np.setdiff1d(np.arange(len(frames)), test if held_out is None else held_out)
    out = {}
    for level in ladder.names:
        energy = np.array([a.info.get(f"energy_{level_key(level)}", np.nan) for a in frames])
        ok = train[np.isfinite(energy[train])]
        mu, *_ = np.linalg.lstsq(comp[ok], energy[ok], rcond=None)
        out[level] = formation_energies_per_atom(
            comp[test] @ mu, comp[test].astype(int), elements, refs[level], level=level
        )
    return out


def lsq_d_fold(frames: list, ladder: FidelityLadder, refs: dict, test, held_out) -> dict:
    """``lsq_fold`` with the top level fitted on the *difference* E_top − E_low of the training
    frames labelled at both (a composition-linear D; low level as in ``lsq_fold``): how much of
    D a linear model of composition explains when it is fitted on D itself."""
    low, top = ladder.names[0], ladder.names[-1]
    out = lsq_fold(frames, FidelityLadder((ladder[0],)), refs, test, held_out)
    elements = sorted({s for a in frames for s in a.get_chemical_symbols()})
    comp = np.array([[a.get_chemical_symbols().count(e) for e in elements] for a in frames], float)
    train = np.setdiff1d(np.arange(len(frames)), held_out)
    e = {x: np.array([a.info.get(f"energy_{level_key(x)}", np.nan) for a in frames])
         for x in (low, top)}  # fmt: skip
    ok = train[np.isfinite(e[low][train]) & np.isfinite(e[top][train])]
    delta, *_ = np.linalg.lstsq(comp[ok], e[top][ok] - e[low][ok], rcond=None)
    e_top = formation_energies_per_atom(  # the low level's e_form moved by the fitted ΔE
        comp[test] @ delta, comp[test].astype(int), elements, refs[top], level=top
    ) - formation_energies_per_atom(
        np.zeros(len(test)), comp[test].astype(int), elements, refs[low], level=low
    )
    out[top] = out[low] + e_top
    return out
