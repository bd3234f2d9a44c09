"""Track X structures: perov-5 3d-metal oxide cells plus the reference phases their hulls need.

``structures(perov5_dir, n_perovskites, n_hse06)`` rebuilds the inputs of the Track X data set
(issue 5) deterministically, in the order a partial build is most useful in:

1. ``info["tag"] == "ref:element"``: one periodic reference cell per element of the chosen
   perovskites (smallest cells first; the big cells of :data:`EXPENSIVE_REFERENCES`, flagged
   ``info["big_reference"]``, come last of all, after the perovskites), exactly the cells the
   campaign uses (:func:`qaware.thermo.reference_structure` with ``kind="periodic"``, and
   :func:`qaware.datasets.recipes.perov5.reference_overrides` for α-Mn, Ga, In, Tl, Hg, Te,
   B, S, As, Sb, Bi). ``info["element"]`` names the element; O, N and F are the diatomic
   molecule in a periodic 10 Å box (half of it is the reference).
2. ``info["tag"] == "ref:oxide"``: binary oxides of those elements from :data:`OXIDES`
   (competing phases for the hull of an ABO3 cell), at experimental room-temperature
   structures, single points, not relaxed.
3. The first ``n_perovskites`` 3d-metal oxide rows of perov-5 ``val.csv`` then ``test.csv``
   (:func:`qaware.datasets.recipes.perov5.structures`; its ``info``, ``tag = "X3=<anions>"``).
   The first 240 are the rows bundled in ``qaware/data/perov5_3d_oxides.csv``.

``info["hse06"]`` (bool) flags the cells of the HSE06 subset: the ``n_hse06`` cheapest among
the non-magnetic perovskites (no element that the GPAW oracle starts with a moment,
:data:`qaware.oracles.gpaw_periodic.DEFAULT_MAGMOMS`), whose references are small cells (no
:data:`EXPENSIVE_REFERENCES`), ranked by (HSE06 k-mesh size, then how common the cell's rarest
element is among those candidates, then file order: common elements keep the set of HSE06
element references small), plus the element cells those need and the non-magnetic binary
oxides of those elements: an HSE06 hull is built from HSE06 phases only (DESIGN.md §3), and with
element cells alone it would call almost every perovskite stable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final

import numpy as np
from ase import Atoms

from qaware.errors import ConfigError

__all__ = [
    "BIG_REFERENCE",
    "EXPENSIVE_REFERENCES",
    "OXIDES",
    "TAG_ELEMENT",
    "TAG_OXIDE",
    "oxide",
    "reference_cells",
    "shortest_distances",
    "structures",
]

TAG_ELEMENT: Final[str] = "ref:element"
TAG_OXIDE: Final[str] = "ref:oxide"
EXPENSIVE_REFERENCES: Final[frozenset[str]] = frozenset(("Mn", "B", "S"))
"""Elements whose reference cell is large (α-Mn 29 atoms, α-B 12, S8 in a 12 Å box): kept out
of the HSE06 subset, whose cost grows with the square of the k-mesh and the cell."""
BIG_REFERENCE: Final[str] = "big_reference"
"""info key: True on the element cells of :data:`EXPENSIVE_REFERENCES` (built in a stage of
their own, after the perovskites)."""
HSE06_KPT_DENSITY: Final[float] = 1.0  # the GPAW oracle's default hybrid_kpt_density

# Structure types: (prototype, lattice parameters, internal parameters). Experimental room-
# temperature values as tabulated in R. W. G. Wyckoff, *Crystal Structures*, vol. 1, 2nd ed.
# (Wiley, 1963), except CuO (Åsbrink & Norrby, Acta Cryst. B26, 8, 1970) and La2O3 (A-type,
# Aldebert & Traverse, Mater. Res. Bull. 14, 303, 1979). tests/unit/datasets check every
# cell's shortest metal-O and O-O distances against physical bond lengths.
OXIDES: Final = MappingProxyType(
    {
        # rocksalt, a
        "MgO": ("rocksalt", (4.212,), ()), "CaO": ("rocksalt", (4.811,), ()),
        "SrO": ("rocksalt", (5.160,), ()), "BaO": ("rocksalt", (5.523,), ()),
        "MnO": ("rocksalt", (4.445,), ()), "FeO": ("rocksalt", (4.307,), ()),
        "CoO": ("rocksalt", (4.260,), ()), "NiO": ("rocksalt", (4.177,), ()),
        "CdO": ("rocksalt", (4.695,), ()),
        # wurtzite, a, c; u
        "ZnO": ("wurtzite", (3.250, 5.207), (0.382,)),
        "BeO": ("wurtzite", (2.698, 4.380), (0.378,)),
        # rutile, a, c; x of O (x, x, 0). VO2: the rutile (T > 340 K) phase
        "TiO2": ("rutile", (4.594, 2.959), (0.3049,)),
        "VO2": ("rutile", (4.554, 2.856), (0.3001,)),
        "CrO2": ("rutile", (4.421, 2.916), (0.3026,)),
        "MnO2": ("rutile", (4.398, 2.873), (0.3053,)),
        "SnO2": ("rutile", (4.737, 3.186), (0.3056,)),
        "RuO2": ("rutile", (4.492, 3.107), (0.3058,)),
        "GeO2": ("rutile", (4.395, 2.859), (0.3062,)),
        # corundum (hexagonal axes), a, c; z of M (0, 0, z), x of O (x, 0, 1/4)
        "Al2O3": ("corundum", (4.759, 12.991), (0.3523, 0.3064)),
        "Ti2O3": ("corundum", (5.157, 13.610), (0.3447, 0.3125)),
        "V2O3": ("corundum", (4.952, 14.003), (0.3463, 0.3121)),
        "Cr2O3": ("corundum", (4.959, 13.594), (0.3475, 0.3060)),
        "Fe2O3": ("corundum", (5.035, 13.747), (0.3553, 0.3059)),
        # antifluorite, a
        "Li2O": ("antifluorite", (4.611,), ()), "Na2O": ("antifluorite", (5.55,), ()),
        "K2O": ("antifluorite", (6.436,), ()), "Rb2O": ("antifluorite", (6.755,), ()),
        # cuprite, a
        "Cu2O": ("cuprite", (4.2696,), ()), "Ag2O": ("cuprite", (4.736,), ()),
        # tenorite (C2/c), a, b, c, beta; y of O (0, y, 1/4)
        "CuO": ("tenorite", (4.684, 3.423, 5.129, 99.54), (0.4184,)),
        # ReO3 type, a
        "ReO3": ("reo3", (3.748,), ()),
        # A-type La2O3 (P-3m1), a, c; z of La and of O1 on (1/3, 2/3, z)
        "La2O3": ("a_la2o3", (3.938, 6.136), (0.2467, 0.6470)),
    }
)  # fmt: skip
"""formula -> (structure type, lattice parameters Å/degrees, internal coordinates)."""


def _metal(formula: str) -> str:
    from ase.formula import Formula

    return next(el for el in Formula(formula).count() if el != "O")


def oxide(formula: str) -> Atoms:
    """The primitive cell of binary oxide ``formula`` from :data:`OXIDES`.

    Raises ConfigError for a formula that is not in the table.
    """
    from ase.spacegroup import crystal

    if formula not in OXIDES:
        raise ConfigError(f"track_x recipe: no structure for oxide {formula!r} in OXIDES")
    kind, lat, internal = OXIDES[formula]
    m = _metal(formula)
    if kind == "rocksalt":
        atoms = crystal(
            [m, "O"],
            [(0, 0, 0), (0.5, 0.5, 0.5)],
            spacegroup=225,
            cellpar=[lat[0]] * 3 + [90] * 3,
            primitive_cell=True,
        )
    elif kind == "antifluorite":
        atoms = crystal(
            ["O", m],
            [(0, 0, 0), (0.25, 0.25, 0.25)],
            spacegroup=225,
            cellpar=[lat[0]] * 3 + [90] * 3,
            primitive_cell=True,
        )
    elif kind == "wurtzite":
        atoms = crystal(
            [m, "O"],
            [(1 / 3, 2 / 3, 0), (1 / 3, 2 / 3, internal[0])],
            spacegroup=186,
            cellpar=[lat[0], lat[0], lat[1], 90, 90, 120],
        )
    elif kind == "rutile":
        x = internal[0]
        atoms = crystal(
            [m, "O"],
            [(0, 0, 0), (x, x, 0)],
            spacegroup=136,
            cellpar=[lat[0], lat[0], lat[1], 90, 90, 90],
        )
    elif kind == "corundum":
        z, x = internal
        atoms = crystal(
            [m, "O"],
            [(0, 0, z), (x, 0, 0.25)],
            spacegroup=167,
            cellpar=[lat[0], lat[0], lat[1], 90, 90, 120],
            primitive_cell=True,
        )
    elif kind == "tenorite":
        atoms = crystal(
            [m, "O"],
            [(0.25, 0.25, 0), (0, internal[0], 0.25)],
            spacegroup=15,
            cellpar=[lat[0], lat[1], lat[2], 90, lat[3], 90],
            primitive_cell=True,
        )
    elif kind == "a_la2o3":
        z_m, z_o = internal
        atoms = crystal(
            [m, "O", "O"],
            [(1 / 3, 2 / 3, z_m), (1 / 3, 2 / 3, z_o), (0, 0, 0)],
            spacegroup=164,
            cellpar=[lat[0], lat[0], lat[1], 90, 90, 120],
        )
    elif kind == "cuprite":  # O on a bcc lattice, M at the four (1/4, 1/4, 1/4)-type sites
        a = lat[0]
        frac = [
            (0, 0, 0),
            (0.5, 0.5, 0.5),
            (0.25, 0.25, 0.25),
            (0.75, 0.75, 0.25),
            (0.75, 0.25, 0.75),
            (0.25, 0.75, 0.75),
        ]
        atoms = Atoms(["O", "O", m, m, m, m], scaled_positions=frac, cell=[a, a, a], pbc=True)
    elif kind == "reo3":
        a = lat[0]
        frac = [(0, 0, 0), (0.5, 0, 0), (0, 0.5, 0), (0, 0, 0.5)]
        atoms = Atoms([m, "O", "O", "O"], scaled_positions=frac, cell=[a, a, a], pbc=True)
    else:  # pragma: no cover - the table holds only the kinds above
        raise ConfigError(f"track_x recipe: unknown structure type {kind!r} of {formula}")
    atoms.pbc = True
    got = atoms.get_chemical_formula(mode="metal", empirical=True)
    want = Atoms(formula).get_chemical_formula(mode="metal", empirical=True)
    if got != want:  # pragma: no cover - a wrong Wyckoff position in the table
        raise ConfigError(f"track_x recipe: {formula} built as {got}")
    return atoms


def reference_cells(elements: Sequence[str]) -> list[Atoms]:
    """The periodic reference cell of every element, tagged ``ref:element``; small cells
    first (then by symbol), so that a build in this order finishes the cheap ones first."""
    from qaware.datasets.recipes.perov5 import reference_overrides
    from qaware.thermo import reference_structure

    overrides = reference_overrides()
    out = []
    for el in sorted(set(elements)):
        atoms, desc = overrides[el] if el in overrides else reference_structure(el, "periodic")
        atoms.info.update(tag=TAG_ELEMENT, element=el, description=desc)
        out.append(atoms)
    return sorted(out, key=lambda a: (len(a), a.info["element"]))


def _hse06_kpoints(atoms: Atoms) -> int:
    from qaware.oracles.gpaw_periodic import monkhorst_pack_size

    return math.prod(monkhorst_pack_size(atoms.cell[:], HSE06_KPT_DENSITY))


def structures(
    perov5_dir: str = "../shared/data/perov_5",
    n_perovskites: int = 530,
    n_hse06: int = 120,
    splits: Sequence[str] = ("val", "test"),
) -> list[Atoms]:
    """References, binary oxides, then perov-5 3d-metal oxides (see the module docstring).

    perov5_dir:    folder of the CDVAE perov-5 ``<split>.csv`` files; a relative path is taken
                   from the current directory (``qaware build-dataset`` runs from the repository
                   root), or from ``$QAWARE_PEROV5_DIR`` when that is set.
    n_perovskites: how many rows, val first, in file order.
    n_hse06:       size of the HSE06 subset of perovskites (``info["hse06"]``).
    Raises ConfigError when the files hold fewer rows than asked for.
    """
    import os

    from qaware.datasets.recipes.perov5 import structures as perov5_structures
    from qaware.oracles.gpaw_periodic import DEFAULT_MAGMOMS

    folder = Path(os.environ.get("QAWARE_PEROV5_DIR", perov5_dir))
    cells: list[Atoms] = []
    for split in splits:
        if len(cells) >= n_perovskites:
            break
        cells += perov5_structures([str(folder / f"{split}.csv")])
    if len(cells) < n_perovskites:
        raise ConfigError(
            f"track_x recipe: {folder} holds {len(cells)} 3d-metal oxide rows in {list(splits)}, "
            f"{n_perovskites} asked for"
        )
    cells = cells[:n_perovskites]
    magnetic = {el for el, _ in DEFAULT_MAGMOMS}
    cheap = [
        i
        for i, a in enumerate(cells)
        if not set(a.get_chemical_symbols()) & (magnetic | EXPENSIVE_REFERENCES)
    ]
    freq: dict[str, int] = {}
    for i in cheap:
        for el in set(cells[i].get_chemical_symbols()):
            freq[el] = freq.get(el, 0) + 1

    def rank(i: int) -> tuple[int, int, int]:  # few k-points, common elements, file order
        rarest = min(freq[el] for el in cells[i].get_chemical_symbols())
        return _hse06_kpoints(cells[i]), -rarest, i

    chosen = set(sorted(cheap, key=rank)[:n_hse06])
    for i, atoms in enumerate(cells):
        atoms.info["hse06"] = i in chosen
    elements = sorted({el for a in cells for el in a.get_chemical_symbols()})
    hse_elements = {el for i in chosen for el in cells[i].get_chemical_symbols()}
    refs = reference_cells(elements)
    for atoms in refs:
        atoms.info["hse06"] = atoms.info["element"] in hse_elements
    oxides = []
    for formula in OXIDES:
        metal = _metal(formula)
        if metal in elements:
            atoms = oxide(formula)
            hse06 = metal in hse_elements and metal not in magnetic  # a competing phase at HSE06
            atoms.info.update(tag=TAG_OXIDE, hse06=hse06, description=_describe(formula))
            oxides.append(atoms)
    small = [a for a in refs if a.info["element"] not in EXPENSIVE_REFERENCES]
    big = [a for a in refs if a.info["element"] in EXPENSIVE_REFERENCES]
    out = small + oxides + cells + big
    for atoms in out:
        atoms.info[BIG_REFERENCE] = any(atoms is b for b in big)
    return out


def _describe(formula: str) -> str:
    kind, lat, internal = OXIDES[formula]
    numbers = ", ".join(f"{v:g}" for v in (*lat, *internal))
    return f"{formula} {kind} ({numbers}), experimental, not relaxed"


def shortest_distances(atoms: Atoms) -> tuple[float, float]:
    """(shortest metal–O, shortest O–O) distance in Å (minimum image), for sanity checks."""
    symbols = np.array(atoms.get_chemical_symbols())
    dist = atoms.get_all_distances(mic=True)
    np.fill_diagonal(dist, np.inf)
    o = symbols == "O"
    return float(dist[np.ix_(~o, o)].min()), float(dist[np.ix_(o, o)].min())
