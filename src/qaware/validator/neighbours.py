"""Vectorised neighbour lists for periodic, partly periodic and non-periodic structures.

Convention (the same as ``ase.neighborlist.neighbor_list("ijS")``): an edge ``(i, j, S)`` says
that atom ``j`` shifted by the lattice translation ``S @ cell`` lies within the cutoff of atom
``i``; its vector is ``r_j - r_i + S @ cell`` (Å). Every pair is listed in both directions, and a
small cell lists an atom's own images (``i == j``, ``S != 0``) as often as they fall inside.

Only the *topology* (which pairs, which integer shifts) is computed here, in NumPy; the model
recomputes the vectors in torch from positions and cell, so forces and stress differentiate the
real geometry. Positions need not be wrapped into the cell: the search wraps a copy and the
returned shifts refer to the positions as given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from qaware.errors import InvalidStructureError

__all__ = ["NeighbourList", "image_counts", "neighbour_list"]

_MAX_PAIRS_PER_CHUNK = 2_000_000  # bounds the (i, j, shift) candidate array of one chunk


@dataclass(frozen=True)
class NeighbourList:
    """Directed edges of one structure.

    centre:    (n_edges,) int64, atom i (receives the message).
    neighbour: (n_edges,) int64, atom j (sends it).
    shifts:    (n_edges, 3) float, integer lattice shifts S of atom j (zero on open axes).
    """

    centre: np.ndarray
    neighbour: np.ndarray
    shifts: np.ndarray

    def __len__(self) -> int:
        return int(self.centre.shape[0])

    def vectors(self, positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """(n_edges, 3) Å: ``r_j - r_i + S @ cell`` (cell rows are lattice vectors)."""
        return positions[self.neighbour] - positions[self.centre] + self.shifts @ cell


def image_counts(cell: np.ndarray, pbc: np.ndarray, cutoff: float) -> np.ndarray:
    """(3,) int: how many images each way along each axis can hold a neighbour.

    With fractional coordinates wrapped into [0, 1), a pair vector's component along reciprocal
    axis k is ``Δf_k + S_k`` with ``|Δf_k| < 1``, and it is at most ``cutoff / d_k`` in size, where
    ``d_k = 1 / |b_k|`` is the spacing of the lattice planes; so ``|S_k| <= ceil(cutoff / d_k)``.
    Skewed cells have small plane spacings and need more images than their edge lengths suggest.
    """
    pbc = np.asarray(pbc, dtype=bool)
    counts = np.zeros(3, dtype=np.int64)
    if not pbc.any():
        return counts
    reciprocal = np.linalg.inv(cell).T  # rows b_k with a_i · b_k = δ_ik
    inverse_spacing = np.linalg.norm(reciprocal, axis=1)
    counts[pbc] = np.ceil(cutoff * inverse_spacing[pbc] + 1e-9).astype(np.int64)  # round-off margin
    return counts


def neighbour_list(atoms: Atoms, cutoff: float) -> NeighbourList:
    """All directed pairs closer than ``cutoff`` (Å, strict ``<``), images included.

    Cost is O(n_atoms² × n_images) in memory-bounded chunks: right for the small cells (up to a
    few hundred atoms) the validator scores; very large cells want a cell list instead.
    Raises InvalidStructureError when a periodic axis has a degenerate cell.
    """
    if not cutoff > 0:
        raise ValueError(f"cutoff must be > 0 Å, got {cutoff}")
    positions = np.asarray(atoms.positions, dtype=float)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = np.asarray(atoms.cell.array, dtype=float)
    n = len(positions)
    empty = NeighbourList(
        np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3), dtype=float)
    )
    if n == 0:
        return empty
    offsets = np.zeros((n, 3))  # integer lattice offsets removed by wrapping
    if pbc.any():
        if abs(np.linalg.det(cell)) < 1e-9:
            raise InvalidStructureError(
                f"periodic structure has a degenerate cell (volume {np.linalg.det(cell):.3g} Å³)",
                field="cell",
            )
        frac = np.linalg.solve(cell.T, positions.T).T
        offsets[:, pbc] = np.floor(frac[:, pbc])
    wrapped = positions - offsets @ cell
    counts = image_counts(cell, pbc, cutoff)
    grids = [np.arange(-c, c + 1) for c in counts]
    images = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, 3).astype(float)
    translations = images @ cell  # (n_images, 3) Å

    centres, neighbours, shifts = [], [], []
    chunk = max(1, _MAX_PAIRS_PER_CHUNK // max(1, n * len(images)))
    cutoff_sq = cutoff * cutoff
    for start in range(0, n, chunk):
        rows = np.arange(start, min(n, start + chunk))
        # (rows, n, n_images, 3): r_j + T - r_i with wrapped positions
        diff = wrapped[None, :, None, :] - wrapped[rows, None, None, :] + translations[None, None]
        dist_sq = np.einsum("abcd,abcd->abc", diff, diff)
        inside = dist_sq < cutoff_sq
        a, j, s = np.nonzero(inside)
        i = rows[a]
        keep = ~((i == j) & np.all(images[s] == 0, axis=1))
        centres.append(i[keep])
        neighbours.append(j[keep])
        shifts.append(images[s[keep]])
    i = np.concatenate(centres).astype(np.int64)
    j = np.concatenate(neighbours).astype(np.int64)
    # back to the positions as given: r_j - r_i + S @ cell with S = S_wrapped - o_j + o_i
    shift = np.concatenate(shifts) - offsets[j] + offsets[i]
    return NeighbourList(i, j, shift)
