"""Sanity checks on one structure, run before anything is stored or computed (DESIGN.md §6).

Each ``check_*`` function is pure: it takes an :class:`ase.Atoms` and returns the problems it
found as a list of :class:`~qaware.errors.InvalidStructureError` (empty when all is well), each
naming the atom (``atom=``, 0-based) or field (``field=``) at fault but not the file; the caller
adds ``source``/``index`` with :meth:`InvalidStructureError.located`. ``validate_structure`` runs
them in order and raises the first problem.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from qaware.errors import InvalidStructureError

__all__ = [
    "DEFAULT_MIN_DISTANCE",
    "MIN_CELL_VOLUME",
    "check_cell",
    "check_elements",
    "check_finite",
    "check_max_atoms",
    "check_min_distance",
    "check_not_empty",
    "find_problems",
    "validate_structure",
]

DEFAULT_MIN_DISTANCE = 0.5  # Å; closer atoms are a broken structure, not physics
MIN_CELL_VOLUME = 0.1  # Å^3; a periodic cell smaller than this is degenerate
_MIN_SINE = 1e-3  # normalised volume |det| / (a b c) below this: lattice vectors nearly coplanar
_MAX_PAIRS_REPORTED = 20
_MAX_DENSE_ATOMS = 400  # above this, pairs go through ASE's neighbour list (memory)

Problems = list[InvalidStructureError]


def check_not_empty(atoms: Atoms) -> Problems:
    """A structure must have at least one atom."""
    if len(atoms) == 0:
        return [InvalidStructureError("structure has no atoms", field="numbers")]
    return []


def check_elements(atoms: Atoms) -> Problems:
    """Every atomic number must be a real element, Z in 1..118 (0 is ASE's dummy 'X')."""
    numbers = np.asarray(atoms.numbers)
    bad = np.flatnonzero((numbers < 1) | (numbers > 118))
    return [
        InvalidStructureError(f"unknown element (atomic number {int(numbers[i])})", atom=int(i))
        for i in bad
    ]


def check_finite(atoms: Atoms) -> Problems:
    """Positions (Å) and cell (Å) must hold finite numbers only (no NaN, no inf)."""
    problems: Problems = []
    cell = np.asarray(atoms.cell[:], dtype=float)
    if not np.all(np.isfinite(cell)):
        problems.append(InvalidStructureError("cell holds NaN or inf", field="cell"))
    pos = np.asarray(atoms.positions, dtype=float)
    for i in np.flatnonzero(~np.all(np.isfinite(pos), axis=1)):
        problems.append(
            InvalidStructureError(f"position {pos[i].tolist()} is not finite", atom=int(i))
        )
    return problems


def check_cell(atoms: Atoms, *, min_volume: float = MIN_CELL_VOLUME) -> Problems:
    """A periodic direction needs a lattice vector; a fully periodic cell needs a real volume.

    Fails on a zero lattice vector along a periodic axis, a cell volume below ``min_volume``
    (Å^3), or lattice vectors so nearly coplanar that |det| / (a·b·c) < 1e-3 (a degenerate cell).
    Non-periodic structures (molecules) pass whatever their cell.
    """
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if not pbc.any():
        return []
    cell = np.asarray(atoms.cell[:], dtype=float)
    lengths = np.linalg.norm(cell, axis=1)
    problems: Problems = []
    missing = np.flatnonzero(pbc & (lengths < 1e-6))
    if len(missing):
        axes = ", ".join(str(int(k)) for k in missing)
        problems.append(
            InvalidStructureError(
                f"structure is periodic along axis {axes} but has no lattice vector there "
                "(missing or zero cell)",
                field="cell",
            )
        )
    if problems or not pbc.all():
        return problems
    volume = abs(float(np.linalg.det(cell)))
    if volume < min_volume:
        problems.append(
            InvalidStructureError(
                f"cell volume {volume:.3g} Å^3 is below {min_volume} Å^3", field="cell"
            )
        )
    elif volume / float(np.prod(lengths)) < _MIN_SINE:
        problems.append(
            InvalidStructureError(
                f"lattice vectors are nearly coplanar (volume {volume:.3g} Å^3 for lengths "
                f"{np.round(lengths, 3).tolist()} Å): degenerate cell",
                field="cell",
            )
        )
    return problems


def check_min_distance(atoms: Atoms, min_distance: float = DEFAULT_MIN_DISTANCE) -> Problems:
    """No two atoms (periodic images included) may be closer than ``min_distance`` Å.

    Searches every periodic image the cutoff sphere reaches (not just the nearest one), so it
    is right for small and skewed cells and finds an atom too close to its own image.
    Needs finite positions and a valid cell (run check_finite and check_cell first).
    """
    n = len(atoms)
    if n == 0 or min_distance <= 0:
        return []
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if n > _MAX_DENSE_ATOMS or (pbc.any() and not pbc.all()):
        i, j, d = _close_pairs_sparse(atoms, min_distance)
    else:
        i, j, d = _close_pairs_dense(atoms, min_distance)
    order = np.lexsort((j, i))[:_MAX_PAIRS_REPORTED]
    problems: Problems = []
    for ii, jj, dd in zip(i[order], j[order], d[order], strict=True):
        if ii == jj:
            text = f"atom {ii} is {dd:.3g} Å from its own periodic image"
        else:
            text = f"atoms {ii} and {jj} are {dd:.3g} Å apart"
        problems.append(InvalidStructureError(f"{text} (minimum {min_distance} Å)", atom=int(ii)))
    return problems


def _close_pairs_dense(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, d) with i <= j for every pair closer than ``cutoff`` (Å), all pairs at once.

    For a crystal, fractional differences are first brought to [-0.5, 0.5]; an image n along
    axis k can then only be within the cutoff if |n_k| <= cutoff / h_k + 0.5, with h_k the
    spacing of the lattice planes, so those few image shifts are all that is searched.
    """
    n = len(atoms)
    pos = np.asarray(atoms.positions, dtype=float)
    i, j = np.triu_indices(n, k=1)
    if not np.asarray(atoms.pbc).any():
        d = np.linalg.norm(pos[j] - pos[i], axis=1)
        close = d < cutoff
        return i[close], j[close], d[close]
    cell = np.asarray(atoms.cell[:], dtype=float)
    frac = pos @ np.linalg.inv(cell)
    spacing = 1.0 / np.linalg.norm(np.linalg.inv(cell).T, axis=1)  # h_k, Å
    reach = np.floor(cutoff / spacing + 0.5).astype(int)
    shifts = (
        np.array(np.meshgrid(*[np.arange(-m, m + 1) for m in reach], indexing="ij"))
        .reshape(3, -1)
        .T
    )  # (S, 3)
    df = frac[j] - frac[i]
    df -= np.rint(df)
    d = np.linalg.norm((df[:, None, :] + shifts[None, :, :]) @ cell, axis=2).min(axis=1)
    # an atom and its own images: the shortest non-zero lattice vector among the shifts
    nonzero = shifts[np.any(shifts != 0, axis=1)]
    self_d = float(np.linalg.norm(nonzero @ cell, axis=1).min()) if len(nonzero) else np.inf
    close = d < cutoff
    i, j, d = i[close], j[close], d[close]
    if self_d < cutoff:
        idx = np.arange(n)
        i, j = np.concatenate([i, idx]), np.concatenate([j, idx])
        d = np.concatenate([d, np.full(n, self_d)])
    return i, j, d


def _close_pairs_sparse(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same as _close_pairs_dense through ASE's neighbour list (large or mixed-pbc structures)."""
    from ase.neighborlist import neighbor_list

    i, j, d, shift = neighbor_list("ijdS", atoms, float(cutoff), self_interaction=False)
    keep = (i < j) | ((i == j) & _first_half(shift))
    i, j, d = i[keep], j[keep], d[keep]
    # several images of one pair may be close: report the closest once
    best: dict[tuple[int, int], float] = {}
    for a, b, dist in zip(i.tolist(), j.tolist(), d.tolist(), strict=True):
        best[(a, b)] = min(dist, best.get((a, b), np.inf))
    if not best:
        empty = np.zeros(0, dtype=int)
        return empty, empty, np.zeros(0)
    pairs = np.array(list(best), dtype=int)
    return pairs[:, 0], pairs[:, 1], np.array(list(best.values()))


def _first_half(shift: np.ndarray) -> np.ndarray:
    """True for one of each ±shift pair (so an atom-image pair is reported once)."""
    first = np.where(
        shift[:, 0] != 0, shift[:, 0], np.where(shift[:, 1] != 0, shift[:, 1], shift[:, 2])
    )
    return first > 0


def check_max_atoms(atoms: Atoms, max_atoms: int | None) -> Problems:
    """At most ``max_atoms`` atoms (None: no limit)."""
    if max_atoms is not None and len(atoms) > max_atoms:
        return [
            InvalidStructureError(
                f"structure has {len(atoms)} atoms, more than the limit of {max_atoms} "
                "(max_atoms; screening.max_atoms in a run config)",
                field="numbers",
            )
        ]
    return []


def find_problems(
    atoms: Atoms, *, min_distance: float = DEFAULT_MIN_DISTANCE, max_atoms: int | None = None
) -> Problems:
    """Run every check in order; stop after the first group that fails.

    Later checks assume the earlier ones passed (distances need finite positions and a cell), so
    the list holds the problems of the first failing check only.
    """
    steps = (
        lambda: check_not_empty(atoms),
        lambda: check_max_atoms(atoms, max_atoms),
        lambda: check_elements(atoms),
        lambda: check_finite(atoms),
        lambda: check_cell(atoms),
        lambda: check_min_distance(atoms, min_distance),
    )
    for step in steps:
        problems = step()
        if problems:
            return problems
    return []


def validate_structure(
    atoms: Atoms,
    *,
    min_distance: float = DEFAULT_MIN_DISTANCE,
    max_atoms: int | None = None,
    source: str | None = None,
    index: int | None = None,
) -> None:
    """Raise InvalidStructureError naming ``source``, ``index``, the atom and the problem.

    Example message: "val.csv, row 17, atom 3: atoms 3 and 4 are 0.12 Å apart (minimum 0.5 Å)".
    """
    problems = find_problems(atoms, min_distance=min_distance, max_atoms=max_atoms)
    if problems:
        raise problems[0].located(source=source, index=index)
