"""Padded tensors for a batch of Wyckoff templates, and the maps between anchors and atoms.

B templates are padded to O orbits and N primitive-cell atoms. The diffusion state of one
structure is the anchors ``xyz`` (B, O, 3) (only ``free`` coordinates move), the lattice
coefficients k (B, 6) (only the family's free ones move) and a species vector per orbit. The
atoms the denoiser sees are always the anchors' images: :func:`expand` is the hard constraint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from qaware.generator.lattice import coefficients_to_lattice, family_bias, family_mask
from qaware.generator.wyckoff import WyckoffTemplate, centring_matrix

__all__ = [
    "TemplateBatch",
    "collate_templates",
    "expand",
    "lattice_from_coefficients",
    "orbit_broadcast",
    "orbit_mean",
    "pull_back",
]


@dataclass
class TemplateBatch:
    """B templates as padded tensors (float tensors in ``dtype``).

    space_group:  (B,) long.
    orbit_mask:   (B, O) bool, real orbits.
    orbit_free:   (B, O, 3) bool, anchor coordinates each orbit leaves free.
    orbit_size:   (B, O) float, primitive-cell atoms per orbit (1 for padding).
    species:      (B, O) long, atomic numbers (0: not assigned).
    atom_mask:    (B, N) bool, real atoms.
    atom_orbit:   (B, N) long, orbit index of each atom (0 for padding).
    rotations:    (B, N, 3, 3) J, anchor -> primitive fractional coordinates.
    translations: (B, N, 3) c.
    lattice_mask: (B, 6) bool, free lattice coefficients; lattice_bias: (B, 6) fixed values.
    centring:     (B, 3, 3) T, primitive lattice rows = T @ conventional.
    """

    space_group: torch.Tensor
    orbit_mask: torch.Tensor
    orbit_free: torch.Tensor
    orbit_size: torch.Tensor
    species: torch.Tensor
    atom_mask: torch.Tensor
    atom_orbit: torch.Tensor
    rotations: torch.Tensor
    translations: torch.Tensor
    lattice_mask: torch.Tensor
    lattice_bias: torch.Tensor
    centring: torch.Tensor

    def to(self, device: torch.device | str) -> TemplateBatch:
        """The same batch with every tensor on ``device`` (itself when already there)."""
        if self.space_group.device == torch.device(device):
            return self
        return TemplateBatch(**{k: v.to(device) for k, v in vars(self).items()})

    def __len__(self) -> int:
        return int(self.space_group.shape[0])

    @property
    def n_atoms(self) -> torch.Tensor:
        """(B,) long, atoms per primitive cell."""
        return self.atom_mask.sum(1)


def collate_templates(
    templates: Sequence[WyckoffTemplate], *, dtype: torch.dtype = torch.float32
) -> TemplateBatch:
    """Pad ``templates`` into one :class:`TemplateBatch`."""
    B = len(templates)
    ops = [t.operations for t in templates]
    n_orb = max(1, max(len(t.orbits) for t in templates))
    N = max(1, max(t.n_atoms for t in templates))
    orbit_mask = np.zeros((B, n_orb), bool)
    orbit_free = np.zeros((B, n_orb, 3), bool)
    orbit_size = np.ones((B, n_orb))
    species = np.zeros((B, n_orb), np.int64)
    atom_mask = np.zeros((B, N), bool)
    atom_orbit = np.zeros((B, N), np.int64)
    rotations = np.zeros((B, N, 3, 3))
    translations = np.zeros((B, N, 3))
    for b, (template, orbit_ops) in enumerate(zip(templates, ops, strict=True)):
        n = 0
        for o, (orbit, op) in enumerate(zip(template.orbits, orbit_ops, strict=True)):
            m = len(op.rotations)
            orbit_mask[b, o], orbit_free[b, o], orbit_size[b, o] = True, op.free, m
            species[b, o] = orbit.species
            atom_mask[b, n : n + m], atom_orbit[b, n : n + m] = True, o
            rotations[b, n : n + m], translations[b, n : n + m] = op.rotations, op.translations
            n += m
    return TemplateBatch(
        space_group=torch.tensor([t.space_group for t in templates]),
        orbit_mask=torch.from_numpy(orbit_mask),
        orbit_free=torch.from_numpy(orbit_free),
        orbit_size=torch.tensor(orbit_size, dtype=dtype),
        species=torch.from_numpy(species),
        atom_mask=torch.from_numpy(atom_mask),
        atom_orbit=torch.from_numpy(atom_orbit),
        rotations=torch.tensor(rotations, dtype=dtype),
        translations=torch.tensor(translations, dtype=dtype),
        lattice_mask=torch.stack([family_mask(t.family) for t in templates]),
        lattice_bias=torch.stack([family_bias(t.family) for t in templates]).to(dtype),
        centring=torch.tensor(
            np.array([centring_matrix(t.space_group) for t in templates]), dtype=dtype
        ),
    )


def orbit_broadcast(batch: TemplateBatch, values: torch.Tensor) -> torch.Tensor:
    """(B, O, ...) per-orbit values -> (B, N, ...) per-atom values."""
    index = batch.atom_orbit.reshape(*batch.atom_orbit.shape, *([1] * (values.dim() - 2)))
    return torch.gather(values, 1, index.expand(-1, -1, *values.shape[2:]))


def orbit_mean(batch: TemplateBatch, values: torch.Tensor) -> torch.Tensor:
    """(B, N, F) per-atom values -> (B, O, F) mean over each orbit's atoms (padding ignored)."""
    summed = torch.zeros(values.shape[0], batch.orbit_mask.shape[1], values.shape[2]).to(values)
    masked = values * batch.atom_mask.unsqueeze(-1).to(values)
    summed.scatter_add_(1, batch.atom_orbit.unsqueeze(-1).expand_as(values), masked)
    return summed / batch.orbit_size.unsqueeze(-1).to(values)


def expand(batch: TemplateBatch, xyz: torch.Tensor) -> torch.Tensor:
    """(B, O, 3) anchors -> (B, N, 3) primitive fractional coordinates in [0, 1)."""
    anchors = orbit_broadcast(batch, xyz)
    frac = torch.einsum("bnij,bnj->bni", batch.rotations.to(xyz), anchors)
    return torch.remainder(frac + batch.translations.to(xyz), 1.0)


def pull_back(batch: TemplateBatch, atom_vectors: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) per-atom fractional vectors (scores) -> (B, O, 3) per-anchor, mean of Jᵀ v.

    The chain rule through :func:`expand`, averaged over the orbit and zero on fixed
    coordinates: the orbit's score projected onto its Wyckoff position.
    """
    per_atom = torch.einsum("bnji,bnj->bni", batch.rotations.to(atom_vectors), atom_vectors)
    return orbit_mean(batch, per_atom) * batch.orbit_free.to(atom_vectors)


def lattice_from_coefficients(batch: TemplateBatch, k: torch.Tensor) -> torch.Tensor:
    """(B, 6) coefficients (fixed ones replaced by the family bias) -> (B, 3, 3) primitive
    lattice rows (Å): ``T @ expm(Σ kᵢBᵢ)``."""
    k = torch.where(batch.lattice_mask, k, batch.lattice_bias.to(k))
    return batch.centring.to(k) @ coefficients_to_lattice(k)
