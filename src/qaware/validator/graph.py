"""Many structures as one graph: the tensor input of the model.

A batch of B structures with N atoms and E directed edges in total is one disconnected graph.
Edge vectors are *not* stored: :meth:`AtomicGraph.edge_vectors` computes them in torch from the
positions and cells (``r_j - r_i + S @ cell[structure]``), so that autograd gives exact forces
(d/d positions) and stress (d/d strain applied to both positions and cell).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from qaware.errors import InvalidStructureError
from qaware.validator.neighbours import NeighbourList, neighbour_list

__all__ = ["AtomicGraph", "StructureGraph", "batch_graph", "collate", "structure_graph"]


@dataclass(frozen=True)
class StructureGraph:
    """One structure's model input in NumPy (cheap to cache between epochs).

    positions: (n, 3) Å; cell: (3, 3) Å, rows are lattice vectors (zeros for molecules);
    pbc: (3,) bool; species: (n,) int64 index into the model's species list; edges: neighbours.
    """

    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    species: np.ndarray
    edges: NeighbourList

    @property
    def n_atoms(self) -> int:
        return int(self.positions.shape[0])


@dataclass
class AtomicGraph:
    """A batch of structures as one graph (tensors; float dtype of the model).

    positions: (N, 3) Å             cell:      (B, 3, 3) Å, rows are lattice vectors
    species:   (N,) int64 index     batch:     (N,) int64, structure of each atom
    centre:    (E,) int64 atom i    neighbour: (E,) int64 atom j (global atom indices)
    shifts:    (E, 3) lattice shifts S of j    n_atoms: (B,) int64    pbc: (B, 3) bool
    """

    positions: torch.Tensor
    cell: torch.Tensor
    species: torch.Tensor
    batch: torch.Tensor
    centre: torch.Tensor
    neighbour: torch.Tensor
    shifts: torch.Tensor
    n_atoms: torch.Tensor
    pbc: torch.Tensor

    @property
    def n_structures(self) -> int:
        return int(self.n_atoms.shape[0])

    def edge_vectors(
        self, positions: torch.Tensor | None = None, cell: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(E, 3) Å: ``r_j - r_i + S @ cell``, differentiable in ``positions`` and ``cell``."""
        pos = self.positions if positions is None else positions
        cel = self.cell if cell is None else cell
        edge_cell = cel[self.batch[self.centre]]  # (E, 3, 3)
        translation = torch.einsum("ek,ekc->ec", self.shifts, edge_cell)
        return pos[self.neighbour] - pos[self.centre] + translation

    def volumes(self) -> torch.Tensor:
        """(B,) Å³, |det cell| (meaningless for non-periodic structures)."""
        return torch.linalg.det(self.cell).abs()


def structure_graph(
    atoms: Atoms, cutoff: float, species_index: Mapping[str, int], *, index: int | None = None
) -> StructureGraph:
    """Neighbour list and species indices of one structure.

    Raises InvalidStructureError naming the structure ``index`` and the atom whose element the
    model does not know.
    """
    symbols = atoms.get_chemical_symbols()
    try:
        species = np.array([species_index[s] for s in symbols], dtype=np.int64)
    except KeyError:
        atom = next(k for k, s in enumerate(symbols) if s not in species_index)
        raise InvalidStructureError(
            f"element '{symbols[atom]}' is not one the model knows ({sorted(species_index)})",
            index=index,
            atom=atom,
            unit="structure",
        ) from None
    if len(symbols) == 0:
        raise InvalidStructureError("structure has no atoms", index=index, unit="structure")
    try:
        edges = neighbour_list(atoms, cutoff)
    except InvalidStructureError as exc:
        raise exc.located(index=index, unit="structure") from None
    return StructureGraph(
        positions=np.array(atoms.positions, dtype=float),
        cell=np.array(atoms.cell.array, dtype=float),
        pbc=np.array(atoms.pbc, dtype=bool),
        species=species,
        edges=edges,
    )


def collate(
    parts: Sequence[StructureGraph],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> AtomicGraph:
    """Concatenate structure graphs into one batch graph (atom indices offset per structure),
    its tensors on ``device`` (None: the CPU)."""
    if not parts:
        raise ValueError("cannot batch zero structures")
    n_atoms = np.array([p.n_atoms for p in parts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    centre = np.concatenate([p.edges.centre + o for p, o in zip(parts, offsets, strict=True)])
    neighbour = np.concatenate([p.edges.neighbour + o for p, o in zip(parts, offsets, strict=True)])
    return AtomicGraph(
        positions=torch.as_tensor(
            np.concatenate([p.positions for p in parts]), dtype=dtype, device=device
        ),
        cell=torch.as_tensor(np.stack([p.cell for p in parts]), dtype=dtype, device=device),
        species=torch.as_tensor(np.concatenate([p.species for p in parts]), device=device),
        batch=torch.as_tensor(np.repeat(np.arange(len(parts)), n_atoms), device=device),
        centre=torch.as_tensor(centre, device=device),
        neighbour=torch.as_tensor(neighbour, device=device),
        shifts=torch.as_tensor(
            np.concatenate([p.edges.shifts for p in parts]), dtype=dtype, device=device
        ),
        n_atoms=torch.as_tensor(n_atoms, device=device),
        pbc=torch.as_tensor(np.stack([p.pbc for p in parts]), device=device),
    )


def batch_graph(
    structures: Sequence[Atoms],
    cutoff: float,
    species: Sequence[str],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> AtomicGraph:
    """Build the batch graph of ``structures`` for a model with element list ``species``
    (neighbour lists on the CPU, tensors on ``device``)."""
    species_index = {s: k for k, s in enumerate(species)}
    parts = [structure_graph(a, cutoff, species_index, index=k) for k, a in enumerate(structures)]
    return collate(parts, dtype, device)
