"""perov-5 stand-in inputs: the 3d-metal oxide perovskites of the CDVAE perov-5 val/test splits.

``structures(paths)`` reads the CDVAE CSV files (``cif`` column), keeps every structure whose
formula holds a 3d transition metal (Sc–Zn) *and* O, and tags each with its sites so that a
validator can be tested on held-out *structure families* instead of random frames:

* ``info["b_site"]``: the cation closest to an anion (the octahedral B site of ABX3; in perov-5
  every cell is a 5-atom cubic-like perovskite, where B–X = a/2 and A–X = a/√2),
* ``info["a_site"]``: the other cation,
* ``info["metal_3d"]``: the 3d metal (the B-site one when both sites hold a 3d metal),
* ``info["anions"]``: the anion set X3 (``O3``, ``O2N``, ``ON2``, ``O2F``, ``ONF``, ``O2S``),
* ``info["tag"]``: ``"X3=<anions>"``, the structure family of the validator's held-out split:
  six families of 354–384 structures, each holding every cation, so a held-out family tests
  transfer to a new anion chemistry while every element is still seen in training. (A split by
  3d metal or by partner cation would hold out elements the model then never sees at all; the
  B site alone is no family either: in perov-5 the 3d metal sits on A as often as on B.)
* ``info["perov5_split"]`` (``val``/``test``), ``info["material_id"]``, ``info["formula"]``.

On the 2026-11 copy of perov-5 this gives 1,132 (val) + 1,103 (test) = 2,235 structures; all are
kept (no subsetting). Order: files in the order given, rows in file order (deterministic).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
from ase import Atoms

from qaware.errors import ConfigError

__all__ = [
    "ANIONS",
    "METALS_3D",
    "anion_set",
    "reference_overrides",
    "site_labels",
    "structures",
]

METALS_3D: Final[frozenset[str]] = frozenset(
    ("Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")
)
ANIONS: Final[frozenset[str]] = frozenset(("O", "N", "F", "S"))
"""The anions of perov-5 (X3 = O3, O2N, ON2, O2F, OFN, O2S in the oxide part)."""


def site_labels(atoms: Atoms) -> tuple[str, str]:
    """(A-site element, B-site element) of a 5-atom ABX3 cell: B is the cation with the
    shortest distance to any anion (minimum-image, so periodic images count).

    Raises ConfigError when the cell does not hold exactly two cations.
    """
    symbols = atoms.get_chemical_symbols()
    cations = [i for i, s in enumerate(symbols) if s not in ANIONS]
    anions = [i for i, s in enumerate(symbols) if s in ANIONS]
    if len(cations) != 2 or not anions:
        raise ConfigError(
            f"{atoms.get_chemical_formula()}: expected 2 cations and anions in an ABX3 cell, "
            f"got cations {[symbols[i] for i in cations]}"
        )
    nearest = [float(np.min(atoms.get_distances(i, anions, mic=True))) for i in cations]
    b, a = (cations[0], cations[1]) if nearest[0] <= nearest[1] else (cations[1], cations[0])
    return symbols[a], symbols[b]


def anion_set(atoms: Atoms) -> str:
    """The anions of a cell in the fixed order O, N, F, S with counts > 1: ``O2N``, ``ONF``."""
    symbols = atoms.get_chemical_symbols()
    parts = []
    for el in ("O", "N", "F", "S"):
        n = symbols.count(el)
        if n:
            parts.append(el if n == 1 else f"{el}{n}")
    return "".join(parts)


def structures(paths: Sequence[str]) -> list[Atoms]:
    """Every 3d-metal oxide of the perov-5 CSV files ``paths`` (see the module docstring).

    A relative path is taken from the current directory (``qaware build-dataset`` runs from
    the repository root). Raises ConfigError naming the file when it is missing; bad rows raise
    InvalidStructureError naming file and row (:func:`qaware.structures.read_structures`).
    """
    from qaware.structures import read_structures

    out: list[Atoms] = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"perov-5 recipe: {path} is not a file")
        for atoms in read_structures(path, format="csv").atoms:
            present = set(atoms.get_chemical_symbols())
            if "O" not in present or not present & METALS_3D:
                continue
            a_site, b_site = site_labels(atoms)
            metal = b_site if b_site in METALS_3D else a_site
            anions = anion_set(atoms)
            atoms.info.update(
                a_site=a_site,
                b_site=b_site,
                metal_3d=metal,
                anions=anions,
                tag=f"X3={anions}",
                perov5_split=path.stem,
            )
            atoms.info.setdefault("formula", atoms.get_chemical_formula())
            out.append(atoms)
    return out


def _from_spacegroup(
    group: str, abc: tuple[float, float, float], gamma: float, sites: list[tuple[float, ...]]
) -> Atoms:
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    lattice = Lattice.from_parameters(*abc, 90.0, 90.0, gamma)
    el = "X"
    structure = Structure.from_spacegroup(group, lattice, [el] * len(sites), sites)
    return AseAtomsAdaptor.get_atoms(structure.get_primitive_structure())


def _s8_in_box(box: float = 12.0) -> Atoms:
    """Crown S8 (D4d): S–S 2.05 Å, S–S–S 108°, alternate atoms ±h/2 on a ring of radius R."""
    bond, angle = 2.05, np.radians(108.0)
    # next-nearest distance 2·bond·sin(angle/2) spans 90° of the ring: = R·√2
    radius = 2 * bond * np.sin(angle / 2) / np.sqrt(2)
    height = np.sqrt(bond**2 - 2 * radius**2 * (1 - np.cos(np.pi / 4)))
    k = np.arange(8)
    pos = np.stack(
        [radius * np.cos(k * np.pi / 4), radius * np.sin(k * np.pi / 4), (-1.0) ** k * height / 2],
        axis=1,
    )
    atoms = Atoms("S8", positions=pos, cell=[box, box, box], pbc=True)
    atoms.center()
    return atoms


def reference_overrides() -> dict[str, tuple[Atoms, str]]:
    """Periodic reference structures for the perov-5 elements that
    :func:`qaware.thermo.references.reference_structure` does not build (element -> (structure,
    description)), at experimental room-temperature (Hg: 227 K) structures, not relaxed.

    Used with ``compute_references(oracle, elements, kind="periodic", overrides=...)``: both
    levels of a ladder see the same structures, so formation energies of the two levels share
    one zero (what the divergence D needs), even where a structure is only approximate.
    """
    hexagonal = 120.0
    table: dict[str, tuple[Atoms, str]] = {
        "Mn": (
            _from_spacegroup(
                "I-43m",
                (8.9125, 8.9125, 8.9125),
                90.0,
                [(0, 0, 0), (0.3179,) * 3, (0.3571, 0.3571, 0.0347), (0.0896, 0.0896, 0.2819)],
            ),
            "alpha-Mn (I-43m, a = 8.9125 Å, 29-atom primitive cell, non-magnetic model)",
        ),
        "Ga": (
            _from_spacegroup("Cmce", (4.5186, 7.6570, 4.5256), 90.0, [(0, 0.1539, 0.0798)]),
            "alpha-Ga (Cmce, a = 4.519, b = 7.657, c = 4.526 Å)",
        ),
        "In": (
            _from_spacegroup("I4/mmm", (3.2523, 3.2523, 4.9461), 90.0, [(0, 0, 0)]),
            "In (I4/mmm, a = 3.252, c = 4.946 Å)",
        ),
        "Tl": (
            _from_spacegroup("P6_3/mmc", (3.456, 3.456, 5.525), hexagonal, [(1 / 3, 2 / 3, 0.25)]),
            "alpha-Tl (hcp, a = 3.456, c = 5.525 Å)",
        ),
        "Hg": (
            _from_spacegroup("R-3m", (3.470, 3.470, 6.719), hexagonal, [(0, 0, 0)]),
            "alpha-Hg (R-3m, a_hex = 3.470, c_hex = 6.719 Å, 227 K)",
        ),
        "Te": (
            _from_spacegroup("P3_121", (4.4572, 4.4572, 5.929), hexagonal, [(0.2633, 0, 1 / 3)]),
            "trigonal Te (P3_121, a = 4.457, c = 5.929 Å, x = 0.2633)",
        ),
        "B": (
            _from_spacegroup(
                "R-3m",
                (4.9179, 4.9179, 12.5805),
                hexagonal,
                [(0.11886, 0.88114, 0.89133), (0.19686, 0.80314, 0.02432)],
            ),
            "alpha-B12 (R-3m, a_hex = 4.918, c_hex = 12.581 Å)",
        ),
        "S": (_s8_in_box(), "crown S8 molecule (S-S 2.05 Å, 108°) in a periodic 12 Å box"),
    }
    for el, (a, c, z) in {
        "As": (3.7598, 10.5475, 0.22721),
        "Sb": (4.3084, 11.2740, 0.23349),
        "Bi": (4.5460, 11.8620, 0.23389),
    }.items():
        atoms = _from_spacegroup("R-3m", (a, a, c), hexagonal, [(0, 0, z)])
        table[el] = (atoms, f"A7 {el} (R-3m, a_hex = {a}, c_hex = {c} Å, z = {z})")
    out = {}
    for el, (atoms, desc) in table.items():
        atoms.set_chemical_symbols([el] * len(atoms))
        out[el] = (atoms, desc)
    return out
