"""The radial basis vanishes smoothly at the cutoff and is what its formula says inside."""

from __future__ import annotations

import math

import pytest
import torch

from qaware.validator.radial import BesselBasis, PolynomialCutoff, RadialEmbedding


def _derivatives(f, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r = r.clone().requires_grad_(True)
    y = f(r)
    (d1,) = torch.autograd.grad(y.sum(), r, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), r)
    return y.detach(), d1.detach(), d2


@pytest.mark.parametrize("p", [2, 6, 9])
def test_envelope_value_and_derivatives_vanish_at_cutoff(p):
    u = PolynomialCutoff(4.0, p).double()
    r = torch.tensor([4.0 - 1e-7, 4.0, 4.5], dtype=torch.float64)
    y, d1, d2 = _derivatives(u, r)
    assert torch.all(y.abs() < 1e-12)
    assert torch.all(d1.abs() < 1e-9)
    assert torch.all(d2.abs() < 1e-5)
    assert abs(float(u(torch.tensor([1e-4], dtype=torch.float64))) - 1.0) < 1e-6  # 1 at r = 0


def test_bessel_matches_formula():
    basis = BesselBasis(5.0, 4).double()
    r = torch.tensor([0.7, 2.0, 4.9], dtype=torch.float64)
    got = basis(r)
    for n in range(1, 5):
        want = math.sqrt(2 / 5.0) * torch.sin(n * math.pi * r / 5.0) / r
        torch.testing.assert_close(got[:, n - 1], want)


def test_embedding_is_smooth_through_the_cutoff():
    emb = RadialEmbedding(3.0, 8).double()
    r = torch.tensor([3.0 - 1e-6, 3.0, 3.0 + 1e-6], dtype=torch.float64)
    y, d1, _ = _derivatives(lambda x: emb(x).sum(-1), r)
    assert torch.all(y.abs() < 1e-12) and torch.all(d1.abs() < 1e-9)
    assert emb(torch.tensor([1.5], dtype=torch.float64)).abs().sum() > 0.1
