"""The denoiser sees only invariants: rotation, periodic translation, permutation, padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms

from qaware.generator.denoiser import CSPDenoiser, DenoiserConfig, DenoiserOutput
from qaware.testing import random_rotation

ATOL = 1e-9  # float64


def _inputs(structures: list[Atoms], n_pad: int | None = None) -> dict[str, torch.Tensor]:
    B = len(structures)
    N = n_pad or max(len(a) for a in structures)
    types = torch.zeros(B, N, 100, dtype=torch.float64)
    frac = torch.zeros(B, N, 3, dtype=torch.float64)
    mask = torch.zeros(B, N, dtype=torch.bool)
    for b, atoms in enumerate(structures):
        n = len(atoms)
        types[b, torch.arange(n), torch.tensor(atoms.numbers - 1)] = 1.0
        frac[b, :n] = torch.tensor(atoms.get_scaled_positions(wrap=False))
        mask[b, :n] = True
    lattice = torch.tensor(np.array([a.cell[:] for a in structures]))
    t = torch.linspace(0.1, 0.9, B, dtype=torch.float64)
    return {
        "types": types,
        "frac": frac,
        "lattice": lattice,
        "atom_mask": mask,
        "t": t,
        "t_types": t,
    }


@pytest.fixture(scope="module")
def model() -> CSPDenoiser:
    torch.manual_seed(0)
    return CSPDenoiser(DenoiserConfig(hidden=32, layers=2, cond_dim=4)).double().eval()


@pytest.fixture(scope="module")
def structures(perov, carbon) -> list[Atoms]:
    return [perov[0], carbon[0], carbon[4], perov[13]]


def _close(a: DenoiserOutput, b: DenoiserOutput, atol: float = ATOL) -> None:
    for name, x, y in zip(a._fields, a, b, strict=True):
        assert torch.allclose(x, y, atol=atol), f"{name} differs by {(x - y).abs().max():.2e}"


@torch.no_grad()
def test_rotating_the_cell_changes_nothing(model, structures) -> None:
    inputs = _inputs(structures)
    ref = model(**inputs)
    rng = np.random.default_rng(0)
    rot = torch.tensor(np.array([random_rotation(rng, reflect=i % 2 == 1) for i in range(4)]))
    rotated = dict(inputs, lattice=inputs["lattice"] @ rot.transpose(-1, -2))
    _close(model(**rotated), ref)


@torch.no_grad()
def test_periodic_translation_and_wrapping_change_nothing(model, structures) -> None:
    inputs = _inputs(structures)
    ref = model(**inputs)
    gen = torch.Generator().manual_seed(1)
    shift = torch.rand(len(structures), 1, 3, generator=gen, dtype=torch.float64)
    moved = dict(inputs, frac=torch.remainder(inputs["frac"] + shift, 1.0))
    _close(model(**moved), ref)
    images = torch.randint(-2, 3, inputs["frac"].shape, generator=gen).to(torch.float64)
    _close(model(**dict(inputs, frac=inputs["frac"] + images)), ref)


@torch.no_grad()
def test_permuting_atoms_permutes_the_outputs(model, structures) -> None:
    inputs = _inputs(structures)
    ref = model(**inputs)
    n = len(structures[1])
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(2))
    permuted = {k: v.clone() for k, v in inputs.items()}
    for key in ("types", "frac"):
        permuted[key][1, :n] = inputs[key][1, perm]
    out = model(**permuted)
    assert torch.allclose(out.atom_score[1, :n], ref.atom_score[1, perm], atol=ATOL)
    assert torch.allclose(out.atom_logits[1, :n], ref.atom_logits[1, perm], atol=ATOL)
    assert torch.allclose(out.lattice_eps, ref.lattice_eps, atol=ATOL)


@torch.no_grad()
def test_padding_and_batch_neighbours_do_not_leak(model, structures) -> None:
    together = model(**_inputs(structures))
    for b, atoms in enumerate(structures):
        alone_inputs = _inputs([atoms], n_pad=len(atoms) + 3)
        alone_inputs["t"] = alone_inputs["t_types"] = _inputs(structures)["t"][b : b + 1]
        alone = model(**alone_inputs)
        n = len(atoms)
        assert torch.allclose(alone.atom_score[0, :n], together.atom_score[b, :n], atol=ATOL)
        assert torch.allclose(alone.lattice_eps[0], together.lattice_eps[b], atol=ATOL)
        assert torch.all(alone.atom_score[0, n:] == 0)


@torch.no_grad()
def test_condition_is_used_and_null_condition_equals_no_condition(model, structures) -> None:
    inputs = _inputs(structures)
    cond = torch.randn(len(structures), 4, dtype=torch.float64)
    with_cond = model(**inputs, cond=cond)
    dropped = model(**inputs, cond=cond, cond_keep=torch.zeros(len(structures), dtype=torch.bool))
    _close(dropped, model(**inputs))
    assert not torch.allclose(with_cond.lattice_eps, dropped.lattice_eps)
    # the species vector and the time reach the outputs too
    other_t = dict(inputs, t=inputs["t"] * 0.5)
    assert not torch.allclose(model(**other_t).atom_score, model(**inputs).atom_score)
