"""Template batches: expansion equals the templates' own cells; pull-back is the chain rule."""

from __future__ import annotations

import numpy as np
import torch

from qaware.generator.batch import (
    collate_templates,
    expand,
    lattice_from_coefficients,
    orbit_mean,
    pull_back,
)
from qaware.generator.lattice import lattice_to_coefficients


def test_expansion_and_lattice_reproduce_each_template(perov_templates, carbon_templates) -> None:
    templates = perov_templates[:3] + carbon_templates[:5]
    batch = collate_templates(templates, dtype=torch.float64)
    xyz = torch.zeros(len(templates), batch.orbit_mask.shape[1], 3, dtype=torch.float64)
    for b, t in enumerate(templates):
        xyz[b, : len(t.orbits)] = torch.tensor([o.xyz for o in t.orbits])
    frac = expand(batch, xyz)
    k = lattice_to_coefficients(torch.tensor(np.array([t.lattice for t in templates])))
    lattices = lattice_from_coefficients(batch, k)
    for b, t in enumerate(templates):
        atoms = t.to_atoms()
        n = len(atoms)
        assert int(batch.n_atoms[b]) == n
        assert torch.allclose(frac[b, :n], torch.tensor(atoms.get_scaled_positions()), atol=1e-9)
        metric = torch.tensor(atoms.cell[:] @ atoms.cell[:].T)
        assert torch.allclose(lattices[b] @ lattices[b].T, metric, atol=1e-8)
        species = batch.species[b, batch.atom_orbit[b, :n]]
        assert species.tolist() == atoms.numbers.tolist()


def test_pull_back_is_the_orbit_averaged_gradient(carbon_templates) -> None:
    batch = collate_templates(carbon_templates[:6], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    xyz = torch.rand(*batch.orbit_free.shape, generator=gen, dtype=torch.float64)
    xyz.requires_grad_(True)
    v = torch.randn(*batch.atom_mask.shape, 3, generator=gen, dtype=torch.float64)
    v = v * batch.atom_mask.unsqueeze(-1)
    # d/dxyz of Σ_i v_i · x_i(xyz), divided by the orbit size, on free coordinates only
    frac_unwrapped = torch.einsum(
        "bnij,bnj->bni", batch.rotations, xyz[torch.arange(6)[:, None], batch.atom_orbit]
    )
    (grad,) = torch.autograd.grad((frac_unwrapped * v).sum(), xyz)
    expected = grad / batch.orbit_size.unsqueeze(-1) * batch.orbit_free
    assert torch.allclose(pull_back(batch, v), expected, atol=1e-12)
    assert torch.all(pull_back(batch, v)[~batch.orbit_free] == 0)


def test_orbit_mean_ignores_padding(perov_templates, carbon_templates) -> None:
    batch = collate_templates([perov_templates[0], carbon_templates[0]], dtype=torch.float64)
    values = torch.ones(2, batch.atom_mask.shape[1], 1, dtype=torch.float64) * 5.0
    means = orbit_mean(batch, values)
    assert torch.allclose(means[batch.orbit_mask], torch.full_like(means[batch.orbit_mask], 5.0))
