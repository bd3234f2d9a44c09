"""The report's discoveries table: one row per discovery, with its structure files written.

Each discovery's structure is written beside the report as ``structures/<id>_<formula>.cif``
and ``.extxyz`` (with its energies in the extxyz comment line), and the rows link to them by
relative path, so the report folder can be moved or zipped whole.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from qaware.report.data import LabelledTable

__all__ = ["DiscoveryRow", "discovery_rows", "space_group"]


@dataclass(frozen=True)
class DiscoveryRow:
    """One discovery: energies in eV/atom (NaN where missing), files relative to the report."""

    id: int
    formula: str
    space_group: str
    cycle: int
    e_form_low: float
    e_form_top: float
    e_hull_top: float
    divergence: float
    sigma_top: float
    cif: str
    extxyz: str


def space_group(atoms: Atoms, symprec: float = 0.1) -> str:
    """International symbol and number (``Pm-3m (221)``) from spglib; ``P1 (1)`` if none found,
    ``-`` for a non-periodic structure."""
    if not atoms.pbc.all():
        return "-"
    import spglib

    cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
    try:
        found = spglib.get_spacegroup(cell, symprec=symprec)
    except Exception:  # spglib raises its own errors on degenerate cells
        found = None
    return found or "P1 (1)"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def discovery_rows(labelled: LabelledTable, out_dir: Path | None) -> list[DiscoveryRow]:
    """Rows of the discoveries in ``labelled`` (lowest E_hull first); with ``out_dir``, write
    each structure to ``out_dir/structures`` as CIF and extxyz."""
    import ase.io

    rows = []
    for i in [k for k in range(len(labelled)) if labelled.discovery[k]]:
        atoms = labelled.atoms[i].copy()
        cid, formula = int(labelled.id[i]), labelled.formula[i]
        stem = f"structures/{cid}_{_safe(formula)}"
        info = {
            "candidate_id": cid,
            "e_form_top": float(labelled.e_form_top[i]),
            "e_form_low": float(labelled.e_form_low[i]),
            "e_hull_top": float(labelled.e_hull_top[i]),
        }
        if out_dir is not None:
            (out_dir / "structures").mkdir(parents=True, exist_ok=True)
            atoms.info.update({k: v for k, v in info.items() if not math.isnan(float(v))})
            ase.io.write(out_dir / f"{stem}.extxyz", atoms, format="extxyz")
            ase.io.write(out_dir / f"{stem}.cif", atoms, format="cif")
        rows.append(
            DiscoveryRow(
                id=cid,
                formula=formula,
                space_group=space_group(atoms),
                cycle=int(labelled.cycle[i]),
                e_form_low=float(labelled.e_form_low[i]),
                e_form_top=float(labelled.e_form_top[i]),
                e_hull_top=float(labelled.e_hull_top[i]),
                divergence=float(labelled.div[i]),
                sigma_top=float(labelled.pred_sigma_top[i]),
                cif=f"{stem}.cif",
                extxyz=f"{stem}.extxyz",
            )
        )
    return sorted(rows, key=lambda r: (r.e_hull_top, r.id))
