"""Space group + Wyckoff templates: one anchor per orbit, the other sites its images.

A template is a space group (international number, pyxtal's standard setting: unique axis b,
hexagonal axes for R groups) and a list of orbits, each a Wyckoff letter with an element. An
orbit's anchor is a generic point ``xyz`` of which only the Wyckoff position's free
coordinates matter (e.g. x and z for ``x, 1/4, z``); site i of the orbit is ``Wᵢ·xyz + wᵢ``
with (Wᵢ, wᵢ) the Wyckoff position's operations, whose columns for fixed coordinates are zero.
So *any* anchor values give a structure with at least the template's symmetry: the diffusion
model moves only the free coordinates and never leaves the symmetric manifold.

Operations are stored for the *primitive* cell: conventional sites that differ by a centring
translation are one atom there (``x_prim = T⁻ᵀ x_conv``, ``L_prim = T L_conv``), so the model
sees as few atoms as the data sets hold (perov-5: 5, carbon-24: 6-24).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from qaware.errors import InvalidStructureError
from qaware.generator.lattice import CrystalFamily, crystal_family

__all__ = [
    "DEFAULT_SYMPREC",
    "Orbit",
    "OrbitOperations",
    "WyckoffTemplate",
    "centring_matrix",
    "orbit_operations",
    "project_anchor",
    "symmetry_error",
    "template_from_structure",
]

DEFAULT_SYMPREC = 0.01
"""Å; pyxtal ``from_seed`` tolerance, DiffCSP++'s choice."""

_CENTRING: dict[str, tuple[tuple[float, ...], ...]] = {
    "P": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "A": ((1, 0, 0), (0, 0.5, 0.5), (0, -0.5, 0.5)),
    "B": ((0.5, 0, 0.5), (0, 1, 0), (-0.5, 0, 0.5)),
    "C": ((0.5, 0.5, 0), (-0.5, 0.5, 0), (0, 0, 1)),
    "I": ((-0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.5, 0.5, -0.5)),
    "F": ((0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)),
    "R": ((2 / 3, 1 / 3, 1 / 3), (-1 / 3, 1 / 3, 1 / 3), (-1 / 3, -2 / 3, 1 / 3)),
}


def centring_matrix(space_group: int) -> np.ndarray:
    """(3, 3) T with primitive lattice rows ``T @ L_conv`` for the group's centring letter."""
    return np.array(_CENTRING[_centring_letter(space_group)], dtype=float)


@lru_cache(maxsize=256)
def _centring_letter(space_group: int) -> str:
    from pyxtal.symmetry import Group

    return str(Group(space_group).symbol[0])


@dataclass(frozen=True)
class OrbitOperations:
    """Affine maps from an anchor ``xyz`` to the orbit's sites in the primitive cell.

    rotations:    (m, 3, 3) Jᵢ = T⁻ᵀ Wᵢ, fractional primitive coordinates per anchor unit.
    translations: (m, 3) cᵢ = T⁻ᵀ wᵢ.
    free:         (3,) bool, the anchor coordinates the position leaves free.
    rep_rotation / rep_translation: (3, 3), (3,) the representative (W₀, w₀) in the conventional
                  cell: a projector onto the Wyckoff position.
    multiplicity: sites in the conventional cell (the Wyckoff label's number).
    """

    rotations: np.ndarray
    translations: np.ndarray
    free: np.ndarray
    rep_rotation: np.ndarray
    rep_translation: np.ndarray
    multiplicity: int

    def sites(self, xyz: np.ndarray) -> np.ndarray:
        """(m, 3) primitive fractional coordinates in [0, 1) of the orbit for anchor (3,)."""
        return np.remainder(self.rotations @ np.asarray(xyz, float) + self.translations, 1.0)


@lru_cache(maxsize=4096)
def orbit_operations(space_group: int, letter: str) -> OrbitOperations:
    """The primitive-cell operations of Wyckoff position ``letter`` of ``space_group``."""
    from pyxtal.symmetry import Wyckoff_position

    wp = Wyckoff_position.from_group_and_letter(space_group, letter)
    W = np.array([op.rotation_matrix for op in wp.ops], dtype=float)
    w = np.array([op.translation_vector for op in wp.ops], dtype=float)
    free = np.abs(W[0]).sum(axis=0) > 0
    if np.abs(W[:, :, ~free]).max(initial=0.0) > 0:
        raise AssertionError(f"{space_group}{letter}: an operation uses a fixed coordinate")
    to_prim = np.linalg.inv(centring_matrix(space_group)).T
    J, c = to_prim @ W, w @ to_prim.T
    probe = np.remainder(J @ np.array([0.1234, 0.3457, 0.7891]) + c, 1.0)
    keep: list[int] = []
    for i, site in enumerate(probe):
        if all(np.abs((d := site - probe[j]) - np.round(d)).max() > 1e-6 for j in keep):
            keep.append(i)
    return OrbitOperations(J[keep], c[keep], free, W[0], w[0], len(wp.ops))


def project_anchor(space_group: int, letter: str, xyz: np.ndarray) -> np.ndarray:
    """Anchor coordinates (3,) projected onto the Wyckoff position: ``W₀·xyz + w₀`` mod 1.

    The result's free coordinates equal the input's; fixed ones take the position's values.
    """
    ops = orbit_operations(space_group, letter)
    return np.remainder(ops.rep_rotation @ np.asarray(xyz, float) + ops.rep_translation, 1.0)


@dataclass(frozen=True)
class Orbit:
    """One Wyckoff orbit: its letter, its element (atomic number, 0 = to be generated) and the
    anchor's generic coordinates (fractional, conventional cell; fixed ones are unused)."""

    letter: str
    species: int = 0
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class WyckoffTemplate:
    """A space group and its orbits; ``lattice`` is the source's conventional cell (Å) if any."""

    space_group: int
    orbits: tuple[Orbit, ...]
    lattice: tuple[tuple[float, ...], ...] | None = None
    source: str = field(default="", compare=False)

    @property
    def family(self) -> CrystalFamily:
        return crystal_family(self.space_group)

    @property
    def operations(self) -> list[OrbitOperations]:
        return [orbit_operations(self.space_group, o.letter) for o in self.orbits]

    @property
    def n_atoms(self) -> int:
        """Atoms in the primitive cell."""
        return sum(len(ops.rotations) for ops in self.operations)

    def composition(self) -> dict[int, int]:
        """Atomic number -> atoms in the primitive cell (0 counts unassigned orbits)."""
        counts: dict[int, int] = {}
        for orbit, ops in zip(self.orbits, self.operations, strict=True):
            counts[orbit.species] = counts.get(orbit.species, 0) + len(ops.rotations)
        return counts

    def key(self, *, with_species: bool = True) -> tuple:
        """Hashable identity for counting templates by frequency (anchors and lattice ignored)."""
        items = sorted((o.letter, o.species if with_species else 0) for o in self.orbits)
        return (self.space_group, tuple(items))

    def with_species(self, species: list[int] | tuple[int, ...]) -> WyckoffTemplate:
        """The same template with one atomic number per orbit."""
        if len(species) != len(self.orbits):
            raise ValueError(f"need {len(self.orbits)} species, got {len(species)}")
        orbits = tuple(
            replace(o, species=int(z)) for o, z in zip(self.orbits, species, strict=True)
        )
        return replace(self, orbits=orbits)

    def to_atoms(
        self, lattice: np.ndarray | None = None, anchors: np.ndarray | None = None
    ) -> Atoms:
        """The primitive cell for a conventional ``lattice`` (3, 3) and ``anchors`` (n_orbits, 3)
        (default: the template's own). Species 0 is written as X (ASE's dummy element)."""
        conv = np.asarray(self.lattice if lattice is None else lattice, dtype=float)
        if conv.shape != (3, 3):
            raise ValueError("to_atoms needs a lattice: the template has none")
        xyz = np.array([o.xyz for o in self.orbits]) if anchors is None else np.asarray(anchors)
        frac, numbers = [], []
        for orbit, ops, anchor in zip(self.orbits, self.operations, xyz, strict=True):
            sites = ops.sites(anchor)
            frac.append(sites)
            numbers += [orbit.species] * len(sites)
        cell = centring_matrix(self.space_group) @ conv
        return Atoms(numbers=numbers, scaled_positions=np.vstack(frac), cell=cell, pbc=True)


def template_from_structure(atoms: Atoms, *, symprec: float = DEFAULT_SYMPREC) -> WyckoffTemplate:
    """Space group, Wyckoff orbits, elements, anchors and conventional lattice of a crystal.

    Symmetry is found by pyxtal's ``from_seed`` (spglib underneath) with tolerance ``symprec``
    (Å), which also symmetrises the structure: the template reproduces it to within ``symprec``.
    Raises InvalidStructureError (naming ``atoms.info['source']``/``['index']``) if it fails.
    """
    from pyxtal import pyxtal

    from qaware.structures import to_pymatgen

    source, index = atoms.info.get("source"), atoms.info.get("index")
    if not atoms.pbc.all():
        raise InvalidStructureError(
            "no Wyckoff template: not periodic along a, b and c", source=source, index=index
        )
    xtal = pyxtal()
    try:
        xtal.from_seed(to_pymatgen(atoms), tol=symprec)
    except Exception as exc:  # pyxtal raises bare Exceptions of several kinds
        raise InvalidStructureError(
            f"no Wyckoff template (pyxtal from_seed, tol {symprec}): {exc}",
            source=source,
            index=index,
        ) from exc
    orbits = []
    for site in xtal.atom_sites:
        free = np.abs(site.wp.ops[0].rotation_matrix).sum(0) > 0
        x, y, z = (float(v) for v in np.where(free, site.position, 0.0))
        orbits.append(Orbit(site.wp.letter, atomic_numbers[str(site.specie)], (x, y, z)))
    lattice = tuple(tuple(float(v) for v in row) for row in xtal.lattice.matrix)
    label = f"{source or ''}#{'' if index is None else index}"
    return WyckoffTemplate(int(xtal.group.number), tuple(orbits), lattice, label)


@lru_cache(maxsize=256)
def _general_operations(space_group: int) -> tuple[np.ndarray, np.ndarray]:
    from pyxtal.symmetry import Group

    ops = Group(space_group)[0].ops
    return (
        np.array([op.rotation_matrix for op in ops], dtype=float),
        np.array([op.translation_vector for op in ops], dtype=float),
    )


def symmetry_error(atoms: Atoms, space_group: int) -> float:
    """Largest distance (Å) between an atom's image under an operation of ``space_group`` and
    the nearest atom of the same element, over all atoms and operations (0 for a structure
    with that symmetry). ``atoms`` is a primitive cell made by :meth:`WyckoffTemplate.to_atoms`
    or the sampler (same setting and orientation of axes)."""
    rot, trans = _general_operations(space_group)
    t_inv = np.linalg.inv(centring_matrix(space_group)).T
    frac_c = atoms.get_scaled_positions() @ np.linalg.inv(t_inv).T
    cell = np.asarray(atoms.cell[:])
    same = atoms.numbers[:, None] == atoms.numbers[None, :]
    worst = 0.0
    for r, t in zip(rot, trans, strict=True):
        image = (frac_c @ r.T + t) @ t_inv.T
        d = image[:, None, :] - atoms.get_scaled_positions()[None, :, :]
        d -= np.round(d)
        dist = np.linalg.norm(d @ cell, axis=-1)
        worst = max(worst, float(np.where(same, dist, np.inf).min(axis=1).max()))
    return worst
