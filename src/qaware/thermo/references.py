"""Elemental reference energies μ_i(f): the zero of formation energies at one fidelity.

DESIGN.md §3: ``e_form(x, f) = (E(x, f) − Σ_i n_i μ_i(f)) / N`` with every μ_i computed by the
*same* oracle (same code, same settings) as E. :class:`ElementalReferences` therefore records the
level and settings hash of the oracle that made it; :mod:`qaware.thermo.formation` refuses to mix.

Reference structures (built by :func:`reference_structure`):

* ``kind="periodic"`` (plane-wave / periodic oracles): the elemental ground-state crystal from
  ``ase.build.bulk`` at the experimental room-temperature lattice constant (the values of
  ``ase.data.reference_states``: Kittel / Ashcroft–Mermin), see :data:`PERIODIC_CRYSTALS`. Carbon is
  AB graphite (a = 2.464 Å, c = 6.711 Å), tin is α-Sn (diamond, a = 6.489 Å), Fe/Co/Ni start
  ferromagnetic. H, N, O, F, Cl are half a diatomic molecule (H2, N2, O2 triplet, F2, Cl2) at its
  experimental bond length, centred in a periodic 10 Å cubic box (:data:`DIATOMIC_BONDS`).
  Structures are single points, not relaxed: a user who wants relaxed references passes
  ``overrides``. Mn (α-Mn, 58 atoms), B, P, S, Ga, In, Sb, Bi, Br, I, Hg and the lanthanides are
  not built in (their ground states are large or molecular cells): supply them via ``overrides``.
* ``kind="molecular"`` (molecular oracles): the isolated atom at its ground-state spin (Hund's
  rules, :data:`ATOM_SPIN`, 2S = number of unpaired electrons), except H, N, O, F, Cl which are half
  the diatomic molecule (O2 triplet, the others singlet), non-periodic. The spin fixes the
  multiplicity, not the configuration: a d-block atom must also be in its lowest s/d
  configuration (Fe 3d⁶4s², not the 3d⁷4s¹ an aufbau ROHF lands in, 2.1 eV higher at CCSD(T)).
  :class:`~qaware.oracles.pyscf_molecular.PySCFOracle` takes care of that itself
  (``atom_configurations=True``, recorded in ``diagnostics["atom_configuration"]``).

Spin convention for oracles: ``atoms.info["spin"]`` = 2S (PySCF's ``spin``),
``atoms.info["charge"]`` = 0, and the initial magnetic moments (μ_B) sum to 2S (ASE/GPAW).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from ase import Atoms

from qaware.errors import ConfigError, OracleError
from qaware.oracles.result import OracleResult
from qaware.protocols import Oracle

__all__ = [
    "ATOM_SPIN",
    "DIATOMIC_BONDS",
    "PERIODIC_CRYSTALS",
    "ElementalReferences",
    "ReferenceKind",
    "Runner",
    "compute_references",
    "reference_structure",
]

ReferenceKind = Literal["molecular", "periodic"]
Runner = Callable[[Oracle, Sequence[Atoms]], Sequence[OracleResult]]
"""Batch runner: ``runner(oracle, structures) -> results``, same order (an executor, a cache)."""

_BOX = 10.0  # Å, edge of the periodic box around a reference molecule

# Experimental lattice constants (Å) as in ase.data.reference_states (Kittel / Ashcroft-Mermin).
_FCC = {"Ca": 5.58, "Sr": 6.08, "Ni": 3.52, "Cu": 3.61, "Rh": 3.80, "Pd": 3.89, "Ag": 4.09,
        "Ir": 3.84, "Pt": 3.92, "Au": 4.08, "Al": 4.05, "Pb": 4.95}  # fmt: skip
_BCC = {"Li": 3.49, "Na": 4.23, "K": 5.23, "Rb": 5.59, "Cs": 6.05, "Ba": 5.02, "V": 3.02,
        "Cr": 2.88, "Fe": 2.87, "Nb": 3.30, "Mo": 3.15, "Ta": 3.31, "W": 3.16}  # fmt: skip
_HCP = {"Be": (2.29, 1.567), "Mg": (3.21, 1.624), "Sc": (3.31, 1.594), "Ti": (2.95, 1.588),
        "Co": (2.51, 1.622), "Zn": (2.66, 1.856), "Y": (3.65, 1.571), "Zr": (3.23, 1.593),
        "Tc": (2.74, 1.604), "Ru": (2.70, 1.584), "Cd": (2.98, 1.886), "La": (3.75, 1.619),
        "Hf": (3.20, 1.582), "Re": (2.76, 1.615), "Os": (2.74, 1.579)}  # fmt: skip
_DIAMOND = {"Si": 5.43, "Ge": 5.66, "Sn": 6.489}  # Sn: α-Sn, the ground state below 286 K
_MOMENTS = {"Fe": 2.3, "Co": 1.2, "Ni": 0.6}  # μB/atom, ferromagnetic start

PERIODIC_CRYSTALS: dict[str, tuple[str, float, float | None, float]] = {
    **{el: ("fcc", a, None, _MOMENTS.get(el, 0.0)) for el, a in _FCC.items()},
    **{el: ("bcc", a, None, _MOMENTS.get(el, 0.0)) for el, a in _BCC.items()},
    **{el: ("hcp", a, ca, _MOMENTS.get(el, 0.0)) for el, (a, ca) in _HCP.items()},
    **{el: ("diamond", a, None, 0.0) for el, a in _DIAMOND.items()},
}
"""symbol -> (structure for ase.build.bulk, a in Å, c/a or None, initial moment μB/atom)."""

# symbol -> (bond length Å, 2S of the molecule); the element's reference is half the molecule
DIATOMIC_BONDS: dict[str, tuple[float, int]] = {
    "H": (0.741, 0), "N": (1.098, 0), "O": (1.208, 2), "F": (1.412, 0), "Cl": (1.988, 0),
}  # fmt: skip

# ground-state 2S (unpaired electrons) of free atoms, Hund's rules / NIST ground terms
ATOM_SPIN: dict[str, int] = {
    "H": 1, "He": 0, "Li": 1, "Be": 0, "B": 1, "C": 2, "N": 3, "O": 2, "F": 1, "Ne": 0,
    "Na": 1, "Mg": 0, "Al": 1, "Si": 2, "P": 3, "S": 2, "Cl": 1, "Ar": 0,
    "K": 1, "Ca": 0, "Sc": 1, "Ti": 2, "V": 3, "Cr": 6, "Mn": 5, "Fe": 4, "Co": 3, "Ni": 2,
    "Cu": 1, "Zn": 0, "Ga": 1, "Ge": 2, "As": 3, "Se": 2, "Br": 1, "Kr": 0,
    "Rb": 1, "Sr": 0, "Y": 1, "Zr": 2, "Nb": 5, "Mo": 6, "Tc": 5, "Ru": 4, "Rh": 3, "Pd": 0,
    "Ag": 1, "Cd": 0, "In": 1, "Sn": 2, "Sb": 3, "Te": 2, "I": 1, "Xe": 0,
    "Cs": 1, "Ba": 0, "La": 1, "Hf": 2, "Ta": 3, "W": 4, "Re": 5, "Os": 4, "Ir": 3, "Pt": 2,
    "Au": 1, "Hg": 0, "Tl": 1, "Pb": 2, "Bi": 3,
}  # fmt: skip

_SPIN_NAMES = {0: "singlet", 1: "doublet", 2: "triplet", 3: "quartet", 4: "quintet", 5: "sextet",
               6: "septet"}  # fmt: skip


@dataclass(frozen=True)
class ElementalReferences:
    """μ_i of one oracle: ``mu[element]`` in eV/atom, ``description[element]`` says what it is.

    level, settings_hash: the oracle (``Oracle.level``, ``Oracle.settings_hash()``) that computed
    every μ; energies are referenced only against references with the same two values.
    """

    level: str
    settings_hash: str
    mu: Mapping[str, float]
    description: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        mu = {str(k): float(v) for k, v in self.mu.items()}
        for el, value in mu.items():
            if not math.isfinite(value):
                raise ConfigError(f"elemental references ({self.level}): μ[{el}] = {value}")
        desc = {str(k): str(v) for k, v in self.description.items()}
        extra = sorted(set(desc) - set(mu))
        if extra:
            raise ConfigError(f"elemental references: descriptions without μ for {extra}")
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "description", desc)

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(sorted(self.mu))

    def __getitem__(self, element: str) -> float:
        try:
            return self.mu[element]
        except KeyError:
            raise ConfigError(
                f"no {self.level} reference energy for element '{element}' "
                f"(have {list(self.elements)})"
            ) from None

    def merged(self, other: ElementalReferences) -> ElementalReferences:
        """Union with references of the *same* oracle (refuses another level or settings hash)."""
        if (other.level, other.settings_hash) != (self.level, self.settings_hash):
            raise ConfigError(
                f"cannot merge references of {other.level} [{other.settings_hash}] into "
                f"{self.level} [{self.settings_hash}]"
            )
        return ElementalReferences(
            self.level,
            self.settings_hash,
            {**self.mu, **other.mu},
            {**self.description, **other.description},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "settings_hash": self.settings_hash,
            "mu_ev_per_atom": dict(sorted(self.mu.items())),
            "description": dict(sorted(self.description.items())),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ElementalReferences:
        try:
            return cls(d["level"], d["settings_hash"], d["mu_ev_per_atom"], d["description"])
        except KeyError as exc:
            raise ConfigError(f"elemental references: missing key {exc.args[0]!r}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ElementalReferences:
        return cls.from_dict(json.loads(text))


def reference_structure(element: str, kind: ReferenceKind) -> tuple[Atoms, str]:
    """(structure, description) of ``element``'s reference state; see the module docstring."""
    if kind not in ("molecular", "periodic"):
        raise ConfigError(f"reference kind must be 'molecular' or 'periodic', got {kind!r}")
    if element in DIATOMIC_BONDS:
        bond, spin = DIATOMIC_BONDS[element]
        atoms = Atoms(2 * element, positions=[[0, 0, 0], [0, 0, bond]])
        atoms.set_initial_magnetic_moments([spin / 2, spin / 2])
        where = "non-periodic"
        if kind == "periodic":
            atoms.set_cell([_BOX, _BOX, _BOX])
            atoms.center()
            atoms.pbc = True
            where = f"in a periodic {_BOX:g} Å box"
        desc = f"1/2 {element}2 {_SPIN_NAMES[spin]}, d = {bond} Å, {where}"
        return _tag_spin(atoms, spin), desc
    if kind == "molecular":
        if element not in ATOM_SPIN:
            raise ConfigError(f"no built-in molecular reference for '{element}': pass overrides")
        spin = ATOM_SPIN[element]
        atoms = Atoms(element, positions=[[0.0, 0.0, 0.0]], magmoms=[float(spin)])
        return _tag_spin(atoms, spin), f"isolated {element} atom, {_SPIN_NAMES[spin]} (2S={spin})"
    if element == "C":
        return _graphite(), "graphite (AB), a = 2.464 Å, c = 6.711 Å"
    if element not in PERIODIC_CRYSTALS:
        raise ConfigError(
            f"no built-in periodic reference for '{element}' (built in: "
            f"{sorted([*PERIODIC_CRYSTALS, *DIATOMIC_BONDS, 'C'])}): pass overrides"
        )
    from ase.build import bulk

    structure, a, c_over_a, moment = PERIODIC_CRYSTALS[element]
    kwargs: dict[str, Any] = {"a": a}
    if c_over_a is not None:
        kwargs["c"] = a * c_over_a
    atoms = bulk(element, structure, **kwargs)
    desc = f"bulk {structure} {element}, a = {a} Å" + (f", c/a = {c_over_a}" if c_over_a else "")
    if moment:
        atoms.set_initial_magnetic_moments([moment] * len(atoms))
        desc += f", ferromagnetic start ({moment} μB/atom)"
    return atoms, desc


def compute_references(
    oracle: Oracle,
    elements: Iterable[str],
    *,
    kind: ReferenceKind = "molecular",
    runner: Runner | None = None,
    overrides: Mapping[str, tuple[Atoms, str]] | None = None,
) -> ElementalReferences:
    """Compute μ_i (eV/atom) for ``elements`` with ``oracle``, one reference structure each.

    kind:      which built-in reference structures to use (see the module docstring).
    runner:    ``runner(oracle, structures) -> results``; the campaign passes its executor/cache.
               Default: ``oracle.compute`` on each structure in turn.
    overrides: element -> (structure made of that element only, description), replacing the
               built-in choice (e.g. relaxed cells, α-Mn).
    Raises OracleError naming the element if a reference calculation fails or comes back from
    another level / settings hash than ``oracle``'s.
    """
    elements = sorted(set(elements))
    overrides = dict(overrides or {})
    structures, descriptions = [], {}
    for el in elements:
        atoms, desc = overrides[el] if el in overrides else reference_structure(el, kind)
        if set(atoms.get_chemical_symbols()) != {el}:
            raise ConfigError(f"reference structure for '{el}' must contain only {el} atoms")
        structures.append(atoms)
        descriptions[el] = desc
    run = runner if runner is not None else _run_serially
    results = list(run(oracle, structures))
    if len(results) != len(structures):
        raise OracleError(
            f"runner returned {len(results)} results for {len(structures)} references"
        )
    level, settings = oracle.level, oracle.settings_hash()
    mu = {}
    for el, atoms, res in zip(elements, structures, results, strict=True):
        what = f"reference for '{el}' ({descriptions[el]}) at {level}"
        if not res.ok or res.energy is None:
            raise OracleError(f"{what} failed: {res.reason or 'no energy'}")
        if (res.level, res.settings_hash) != (level, settings):
            raise OracleError(
                f"{what}: result is from {res.level} [{res.settings_hash}], not [{settings}]"
            )
        mu[el] = float(res.energy) / len(atoms)
    return ElementalReferences(level, settings, mu, descriptions)


def _run_serially(oracle: Oracle, structures: Sequence[Atoms]) -> list[OracleResult]:
    return [oracle.compute(atoms) for atoms in structures]


def _tag_spin(atoms: Atoms, spin: int) -> Atoms:
    atoms.info["spin"] = int(spin)
    atoms.info["charge"] = 0
    return atoms


def _graphite() -> Atoms:
    a, c = 2.464, 6.711
    cell = np.array([[a, 0, 0], [-a / 2, a * math.sqrt(3) / 2, 0], [0, 0, c]])
    frac = [[0, 0, 0.25], [0, 0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]
    return Atoms("C4", scaled_positions=frac, cell=cell, pbc=True)
