"""Track M structures: 3d-metal oxide molecules and small clusters, main-group references, atoms.

``structures(seed)`` rebuilds the inputs of the Track M data set (issue 5, DESIGN.md §5) from
tables in this file, deterministically: the same seed gives the same list, atom for atom.
Geometries are single points around (approximate) equilibrium structures, not optimised: the
data set samples each potential-energy surface near its minimum so that energies *and forces*
vary, and scans along one coordinate let a smoothness check find a result that jumps between
neighbouring geometries (a wrong SCF state, DESIGN.md §4).

Families (``info["tag"]``), in the order returned (cheap first, so a partial build is useful):

* ``atom``: Sc–Zn and the main-group elements of the references (O, H, C, Mg, Ca, Al, Si),
  each at its ground-state multiplicity (:data:`qaware.oracles.spin.ATOM_MULTIPLICITY`).
* ``reference``: O2 (triplet), H2, CO, MgO, CaO, SiO, AlO (6-point bond scans), H2O, CO2, O3
  and SiO2 (stretch, bend and asymmetric-stretch scans).
* ``monoxide``: ScO–ZnO, 13-point bond scans r_e × 0.88 … 1.25 (experimental r_e).
* ``dioxide``: O–M–O (dioxo isomer), symmetric-stretch scan, bend and asymmetric points.
* ``cluster``: M2O2 planar rhombi (breathing scan + rattled copies) and M2O3 "kites" (the
  rhombus with one terminal O on a metal, plus rattled copies).

``info`` of every structure: ``tag``, ``formula`` (metals first: ``Fe2O3``), ``multiplicity``,
``spin`` (2S, the convention of :mod:`qaware.thermo.references`), ``charge`` (0),
``multiplicity_source``, ``scan`` (name of the scan the structure belongs to),
``geometry_index`` (position along that scan, 0-based, in increasing ``scan_coordinate``) and
``scan_coordinate`` (Å for stretches/breathing, degrees for bends, the rattle number for
rattled copies). Structures are non-periodic (``pbc`` False, no cell), centred on their centroid.

Multiplicity, in this order: the tables of :mod:`qaware.oracles.spin` (NIST atom ground terms,
Huber–Herzberg/Merer diatomic ground states); else :data:`ION_MULTIPLICITY`, the high-spin
ionic count documented there. It is fixed per formula, so every geometry of one species lies on
one spin surface (a scan that switches state would be a discontinuity, not a smooth curve).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from types import MappingProxyType
from typing import Final

import numpy as np
from ase import Atoms

from qaware.errors import ConfigError
from qaware.oracles.spin import default_multiplicity

__all__ = [
    "DIOXIDE_GEOMETRY",
    "ION_MULTIPLICITY",
    "METALS",
    "MONOXIDE_BOND",
    "TAGS",
    "TRIATOMIC_REFERENCES",
    "structures",
]

METALS: Final[tuple[str, ...]] = ("Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")
TAGS: Final[tuple[str, ...]] = ("atom", "reference", "monoxide", "dioxide", "cluster")
REFERENCE_ATOMS: Final[tuple[str, ...]] = ("O", "H", "C", "Mg", "Ca", "Al", "Si")

MONOXIDE_BOND: Final = MappingProxyType(
    {"Sc": 1.668, "Ti": 1.620, "V": 1.589, "Cr": 1.615, "Mn": 1.646,
     "Fe": 1.616, "Co": 1.629, "Ni": 1.627, "Cu": 1.724, "Zn": 1.705}
)  # fmt: skip
"""Experimental r_e (Å) of the ground-state 3d-metal monoxides (Huber & Herzberg 1979;
Merer 1989; ZnO from its microwave spectrum)."""

MONOXIDE_SCALES: Final[tuple[float, ...]] = (
    0.88, 0.90, 0.92, 0.95, 0.98, 1.00, 1.02, 1.05, 1.09, 1.12, 1.15, 1.20, 1.25
)  # fmt: skip
"""Bond lengths of the monoxide scans, in units of r_e. 0.88, 0.90, 1.12, 1.20 and 1.25 were
added on 2026-11-27 (data/track_m/PROBE.md §7): the stretched points are where static
correlation, and so the PBE error and the T1/D1 gates, grow."""

DIOXIDE_GEOMETRY: Final = MappingProxyType(
    {"Sc": (1.78, 125.0), "Ti": (1.65, 112.0), "V": (1.61, 118.0), "Cr": (1.59, 128.0),
     "Mn": (1.60, 135.0), "Fe": (1.59, 150.0), "Co": (1.60, 180.0), "Ni": (1.61, 180.0),
     "Cu": (1.67, 180.0), "Zn": (1.74, 180.0)}
)  # fmt: skip
"""Approximate M–O distance (Å) and O–M–O angle (degrees) of the dioxo isomer O–M–O, the values
DFT studies of the 3d-metal dioxides report to within a few hundredths of an Å / ~10°: early
metals bent, late metals (near) linear. Starting points of the scans, not minima."""

DIATOMIC_REFERENCES: Final = MappingProxyType(
    {"O2": 1.2075, "H2": 0.7414, "CO": 1.1283, "MgO": 1.749, "CaO": 1.822, "SiO": 1.510,
     "AlO": 1.618}
)  # fmt: skip
"""Experimental r_e (Å) of the main-group diatomic references (Huber & Herzberg 1979)."""

TRIATOMIC_REFERENCES: Final = MappingProxyType(
    {"H2O": ("H", "O", 0.9572, 104.52), "CO2": ("O", "C", 1.1600, 180.0),
     "O3": ("O", "O", 1.2716, 116.78), "SiO2": ("O", "Si", 1.51, 180.0)}
)  # fmt: skip
"""(outer, centre, r (Å), angle (degrees)) of the symmetric main-group triatomics: experimental
r_e and angle of H2O, CO2 and O3 (Herzberg; Tanaka & Morino 1970), the linear ab initio
equilibrium of SiO2 (no gas-phase structure; CCSD(T) studies give 1.51–1.52 Å). O3 (a classic
multireference case) and SiO2 were added on 2026-11-27 (PROBE.md §7)."""

REFERENCE_SCALES: Final[tuple[float, ...]] = (0.94, 0.97, 1.00, 1.03, 1.06, 1.10)

ION_MULTIPLICITY: Final = MappingProxyType(
    {
        # MO2 (dioxo): M(IV) low spin (d^(n-4) paired as far as possible under two short M=O
        # bonds); Sc(III) and Zn(II) leave one / two O-centred holes. Provisional: check by a
        # scan of the three lowest multiplicities before the dioxides are built (PROBE.md §4).
        "ScO2": 2, "TiO2": 1, "VO2": 2, "CrO2": 3, "MnO2": 4, "FeO2": 3, "CoO2": 2,
        "NiO2": 1, "CuO2": 2, "ZnO2": 3,
        # M2O2, two M(II) d^(n-2) high spin, coupled ferromagnetically (Fe2O2 2S=8, Ni2O2 2S=4);
        # Zn(II) is d10.
        "Sc2O2": 3, "Ti2O2": 5, "V2O2": 7, "Cr2O2": 9, "Mn2O2": 11, "Fe2O2": 9, "Co2O2": 7,
        "Ni2O2": 5, "Cu2O2": 3, "Zn2O2": 1,
        # M2O3, two M(III) d^(n-3) high spin, ferromagnetic; Zn(III) does not exist: two Zn(II)
        # and one O-centred hole pair (triplet).
        "Sc2O3": 1, "Ti2O3": 3, "V2O3": 5, "Cr2O3": 7, "Mn2O3": 9, "Fe2O3": 11, "Co2O3": 9,
        "Ni2O3": 7, "Cu2O3": 5, "Zn2O3": 3,
    }
)  # fmt: skip
"""2S+1 for the species the spin tables lack: a formal ionic count (O²⁻, metal ions high spin,
metal spins parallel) for the clusters. Ferromagnetic high-spin states are the ones a single
determinant describes (an antiferromagnetic singlet needs a broken-symmetry or multireference
treatment), so they are the states CCSD(T) on an ROHF/UHF reference can label. The dioxides
use a low-spin count instead (two short M=O bonds split the d shell strongly)."""

RATTLE_SIGMA_A: Final[float] = 0.05  # Å, std of the Gaussian displacement of rattled copies
MIN_DISTANCE_A: Final[float] = 0.6  # Å, a rattled copy closer than this is redrawn


def structures(
    seed: int = 20261125,
    families: Sequence[str] | None = None,
    formulas: Sequence[str] | None = None,
) -> list[Atoms]:
    """Track M structures, deterministic in ``seed`` (which only moves the rattled copies).

    families: tags to keep (None: all), e.g. ``["atom", "reference", "monoxide"]`` for a
              cheap stage or the def2-TZVP subset.
    formulas: ``info["formula"]`` values to keep (None: all), e.g. ``["Sc2O2", "Ti2O2"]`` for a
              stage that brings a few clusters to every level first.
    The kept structures are identical to the same ones in the full list (both filters apply
    after every structure is drawn). Returns 401 non-periodic ``ase.Atoms`` (no filter) with the
    ``info`` keys of the module docstring, families in the order of :data:`TAGS`.
    """
    unknown = set(families or ()) - set(TAGS)
    if unknown:
        raise ConfigError(f"recipe track_m: families {sorted(unknown)} not in {list(TAGS)}")
    rng = np.random.default_rng(seed)
    out = [atoms for family in _FAMILIES for atoms in family(rng)]  # all: same rng draws
    if families is not None:
        out = [a for a in out if a.info["tag"] in families]
    if formulas is not None:
        missing = set(formulas) - {a.info["formula"] for a in out}
        if missing:
            raise ConfigError(
                f"recipe track_m: formulas {sorted(missing)} are not among the structures "
                f"(families {list(families) if families is not None else 'all'})"
            )
        out = [a for a in out if a.info["formula"] in formulas]
    return out


# -- families --------------------------------------------------------------------------------
def _atoms(rng: np.random.Generator) -> Iterator[Atoms]:
    for symbol in (*METALS, *REFERENCE_ATOMS):
        yield _label(Atoms(symbol, positions=[[0.0, 0.0, 0.0]]), "atom", "single", 0, 0.0)


def _references(rng: np.random.Generator) -> Iterator[Atoms]:
    for formula, r_e in DIATOMIC_REFERENCES.items():
        a, b = Atoms(formula).get_chemical_symbols()
        for k, s in enumerate(REFERENCE_SCALES):
            atoms = _diatomic(a, b, r_e * s)
            yield _label(atoms, "reference", "stretch", k, r_e * s, formula=formula)
    for formula, (outer, centre, r, angle) in TRIATOMIC_REFERENCES.items():
        yield from _triatomic_scans(outer, centre, r, angle, "reference", formula)


def _monoxides(rng: np.random.Generator) -> Iterator[Atoms]:
    for metal in METALS:
        r_e = MONOXIDE_BOND[metal]
        for k, s in enumerate(MONOXIDE_SCALES):
            yield _label(_diatomic(metal, "O", r_e * s), "monoxide", "stretch", k, r_e * s)


def _dioxides(rng: np.random.Generator) -> Iterator[Atoms]:
    for metal in METALS:
        r, angle = DIOXIDE_GEOMETRY[metal]
        yield from _triatomic_scans("O", metal, r, angle, "dioxide")


def _clusters(rng: np.random.Generator) -> Iterator[Atoms]:
    for metal in METALS:
        r = MONOXIDE_BOND[metal] * 1.12  # bridging M–O is ~0.2 Å longer than the M=O bond
        for k, s in enumerate((0.96, 1.00, 1.04)):
            yield _label(_rhombus(metal, r * s), "cluster", "breathe", k, r * s)
        for k in range(3):
            yield _label(_rattle(_rhombus(metal, r), rng), "cluster", "rattle", k, float(k))
        kite = _kite(metal, r, MONOXIDE_BOND[metal])
        yield _label(kite.copy(), "cluster", "base", 0, 0.0)
        for k in range(3):
            yield _label(_rattle(kite, rng), "cluster", "rattle", k, float(k))


# -- geometry builders (Å, degrees) ----------------------------------------------------------
def _diatomic(a: str, b: str, r: float) -> Atoms:
    return Atoms(f"{a}{b}", positions=[[0.0, 0.0, 0.0], [0.0, 0.0, r]])


def _triatomic(outer: str, center: str, r1: float, r2: float, angle: float) -> Atoms:
    """outer–center–outer with bond lengths r1, r2 and the angle at the center atom."""
    half = math.radians(angle) / 2.0
    p1 = [-r1 * math.sin(half), r1 * math.cos(half), 0.0]
    p2 = [r2 * math.sin(half), r2 * math.cos(half), 0.0]
    return Atoms([center, outer, outer], positions=[[0.0, 0.0, 0.0], p1, p2])


def _triatomic_scans(
    outer: str, center: str, r: float, angle: float, tag: str, formula: str = ""
) -> Iterator[Atoms]:
    """Symmetric stretch (4 points), bend (2, toward smaller angles for linear molecules) and
    asymmetric stretch (2) around (r, angle): 8 structures."""
    for k, s in enumerate((0.96, 1.00, 1.04, 1.08)):
        atoms = _triatomic(outer, center, r * s, r * s, angle)
        yield _label(atoms, tag, "stretch", k, r * s, formula)
    bends = (angle - 30.0, angle - 15.0) if angle >= 179.0 else (angle - 15.0, angle + 15.0)
    for k, a in enumerate(bends):
        yield _label(_triatomic(outer, center, r, r, a), tag, "bend", k, a, formula)
    for k, d in enumerate((0.03, 0.06)):
        atoms = _triatomic(outer, center, r * (1 - d), r * (1 + d), angle)
        yield _label(atoms, tag, "asymmetric", k, 2 * d * r, formula)


def _rhombus(metal: str, r: float, o_m_o: float = 95.0) -> Atoms:
    """Planar M2O2 rhombus with M–O = r and the O–M–O angle ``o_m_o`` at each metal."""
    half = math.radians(o_m_o) / 2.0
    x, y = r * math.cos(half), r * math.sin(half)
    return Atoms(
        f"{metal}2O2", positions=[[-x, 0.0, 0.0], [x, 0.0, 0.0], [0.0, -y, 0.0], [0.0, y, 0.0]]
    )


def _kite(metal: str, r_bridge: float, r_terminal: float) -> Atoms:
    """M2O3: the rhombus plus a terminal O on the first metal, on the M–M axis, outward."""
    rhombus = _rhombus(metal, r_bridge)
    x = float(rhombus.positions[0, 0])
    return rhombus + Atoms("O", positions=[[x - r_terminal, 0.0, 0.0]])


def _rattle(atoms: Atoms, rng: np.random.Generator) -> Atoms:
    """A copy with Gaussian displacements (σ = RATTLE_SIGMA_A), redrawn if atoms get too close."""
    while True:
        out = atoms.copy()
        out.positions += rng.normal(0.0, RATTLE_SIGMA_A, size=out.positions.shape)
        d = out.get_all_distances()
        if d[np.triu_indices(len(out), 1)].min() >= MIN_DISTANCE_A:
            return out


def _label(
    atoms: Atoms, tag: str, scan: str, index: int, coordinate: float, formula: str = ""
) -> Atoms:
    """Centre ``atoms`` (non-periodic, no cell) and fill the ``info`` keys of the docstring;
    ``formula`` defaults to ASE's metals-first formula."""
    atoms.positions -= atoms.positions.mean(axis=0)
    atoms.pbc = False
    atoms.cell = np.zeros((3, 3))
    formula = formula or atoms.get_chemical_formula(mode="metal")
    multiplicity, source = multiplicity_of(atoms)
    atoms.info.update(
        tag=tag,
        formula=formula,
        multiplicity=multiplicity,
        spin=multiplicity - 1,
        charge=0,
        multiplicity_source=source,
        scan=scan,
        geometry_index=int(index),
        scan_coordinate=round(float(coordinate), 6),
    )
    return atoms


def multiplicity_of(atoms: Atoms) -> tuple[int, str]:
    """(2S+1, source) of a neutral Track M species: spin tables first, else ION_MULTIPLICITY."""
    multiplicity, source = default_multiplicity(atoms, 0)
    if source != "parity":
        return multiplicity, source
    formula = atoms.get_chemical_formula(mode="metal")
    if formula in ION_MULTIPLICITY:
        return ION_MULTIPLICITY[formula], "ionic high-spin rule"
    return multiplicity, source


_FAMILIES: Final[tuple[Callable[[np.random.Generator], Iterator[Atoms]], ...]] = (
    _atoms, _references, _monoxides, _dioxides, _clusters
)  # fmt: skip
