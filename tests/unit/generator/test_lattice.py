"""Lattice <-> log-symmetric coefficients: round trips, invariance, family constraints, DDPM."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ase.geometry import cell_to_cellpar

from qaware.generator.ddpm import CosineSchedule, ddpm_step, predict_x0
from qaware.generator.lattice import (
    FAMILIES,
    HEXAGONAL_K1,
    LatticeNormalizer,
    coefficients_to_lattice,
    crystal_family,
    family_bias,
    family_mask,
    lattice_to_coefficients,
    project_coefficients,
)
from qaware.testing import random_rotation


def _random_lattices(n: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    cells = rng.normal(size=(n, 3, 3)) + 4.0 * np.eye(3)
    cells[np.linalg.det(cells) < 0] *= -1
    return torch.tensor(cells)


def test_round_trip_keeps_the_metric_and_the_coefficients() -> None:
    lattices = _random_lattices(50)
    k = lattice_to_coefficients(lattices)
    back = coefficients_to_lattice(k)
    metric = lattices @ lattices.transpose(-1, -2)
    assert torch.allclose(back @ back.transpose(-1, -2), metric, atol=1e-9)
    assert torch.allclose(back, back.transpose(-1, -2), atol=1e-12)  # rotation-free form
    assert torch.allclose(lattice_to_coefficients(back), k, atol=1e-10)
    volume = torch.abs(torch.det(lattices))
    assert torch.allclose(k[:, 5], torch.log(volume) / 3, atol=1e-10)


def test_coefficients_ignore_rotations_of_the_lattice() -> None:
    lattices = _random_lattices(5, seed=1)
    rng = np.random.default_rng(2)
    for lat in lattices:
        rot = torch.tensor(random_rotation(rng))
        assert torch.allclose(lattice_to_coefficients(lat @ rot.T), lattice_to_coefficients(lat))


@pytest.mark.parametrize("family", FAMILIES)
def test_any_free_coefficients_give_a_lattice_of_the_family(family: str) -> None:
    gen = torch.Generator().manual_seed(3)
    k = project_coefficients(0.3 * torch.randn(200, 6, generator=gen, dtype=torch.float64), family)
    for lat in coefficients_to_lattice(k).numpy():
        a, b, c, alpha, beta, gamma = cell_to_cellpar(lat)
        if family in ("monoclinic", "orthorhombic", "tetragonal", "cubic"):
            assert alpha == pytest.approx(90) and gamma == pytest.approx(90)
        if family in ("orthorhombic", "tetragonal", "cubic"):
            assert beta == pytest.approx(90)
        if family in ("tetragonal", "cubic", "hexagonal", "trigonal"):
            assert a == pytest.approx(b)
        if family == "cubic":
            assert a == pytest.approx(c)
        if family in ("hexagonal", "trigonal"):
            assert (alpha, beta, gamma) == pytest.approx((90, 90, 120))


def test_a_real_lattice_of_each_family_has_exactly_the_masked_coefficients_at_their_bias() -> None:
    hexagonal = torch.tensor(
        [[2.5, 0.0, 0.0], [-1.25, 2.5 * math.sqrt(3) / 2, 0.0], [0.0, 0.0, 6.7]],
        dtype=torch.float64,
    )
    k = lattice_to_coefficients(hexagonal)
    assert k[0].item() == pytest.approx(HEXAGONAL_K1)
    assert torch.allclose(k[1:4], torch.zeros(3, dtype=torch.float64), atol=1e-12)
    mono = torch.tensor([[5.0, 0, 0], [0, 3.0, 0], [-1.0, 0, 6.0]], dtype=torch.float64)
    k = lattice_to_coefficients(mono)
    assert abs(k[0]) < 1e-12 and abs(k[2]) < 1e-12 and abs(k[1]) > 0.01
    assert torch.equal(
        family_mask("monoclinic"), torch.tensor([0, 1, 0, 1, 1, 1], dtype=torch.bool)
    )
    assert family_bias("cubic").abs().sum() == 0


def test_crystal_family_boundaries() -> None:
    expected = {1: "triclinic", 2: "triclinic", 3: "monoclinic", 15: "monoclinic"}
    expected |= {16: "orthorhombic", 74: "orthorhombic", 75: "tetragonal", 142: "tetragonal"}
    expected |= {143: "trigonal", 167: "trigonal", 168: "hexagonal", 194: "hexagonal"}
    expected |= {195: "cubic", 221: "cubic", 230: "cubic"}
    for number, family in expected.items():
        assert crystal_family(number) == family
    with pytest.raises(ValueError, match=r"1\.\.230"):
        crystal_family(231)
    with pytest.raises(ValueError, match="unknown crystal family"):
        family_mask("rhombic")


def test_normalizer_standardises_free_coefficients_and_round_trips() -> None:
    k = lattice_to_coefficients(_random_lattices(40, seed=4))
    mask = torch.ones_like(k, dtype=torch.bool)
    mask[:, 0] = False
    norm = LatticeNormalizer.fit(k, mask)
    z = norm.encode(k)
    assert torch.allclose(z[:, 1:].mean(0), torch.zeros(5, dtype=torch.float64), atol=1e-9)
    assert norm.mean[0] == 0.0 and norm.std[0] == 1.0
    assert torch.allclose(norm.decode(z), k)


def test_cosine_schedule_ends_and_noising() -> None:
    sched = CosineSchedule()
    a = sched.alpha_bar(torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert a[0].item() == pytest.approx(1.0) and a[2].item() == pytest.approx(1e-4)
    assert 0 < a[1] < 1
    x0 = torch.tensor([2.0], dtype=torch.float64)
    eps = torch.tensor([0.5], dtype=torch.float64)
    t = torch.tensor([0.3], dtype=torch.float64)
    xt = sched.noise(x0, eps, t)
    assert torch.allclose(predict_x0(xt, eps, sched.alpha_bar(t)), x0)


def test_ancestral_step_with_the_true_x0_keeps_the_marginal() -> None:
    """x_t ~ q(x_t|x0) stepped to s with the true x0 must be distributed as q(x_s|x0)."""
    sched = CosineSchedule()
    gen = torch.Generator().manual_seed(5)
    x0 = torch.full((200_000,), 1.5, dtype=torch.float64)
    at, as_ = sched.alpha_bar(torch.tensor(0.7)), sched.alpha_bar(torch.tensor(0.4))
    xt = torch.sqrt(at) * x0 + torch.sqrt(1 - at) * torch.randn(
        x0.shape, generator=gen, dtype=x0.dtype
    )
    xs = ddpm_step(xt, x0, at, as_, torch.randn(x0.shape, generator=gen, dtype=x0.dtype))
    assert xs.mean().item() == pytest.approx(1.5 * math.sqrt(as_), abs=0.01)
    assert xs.var().item() == pytest.approx(1 - as_.item(), rel=0.02)
    final = ddpm_step(
        xt,
        x0,
        at,
        torch.tensor(1.0, dtype=torch.float64),
        torch.randn(x0.shape, generator=gen, dtype=x0.dtype),
    )
    assert torch.allclose(final, x0)
