"""Wrapped normal on the torus: score = d/dx log p, normalisation, periodicity, sampling."""

from __future__ import annotations

import math

import pytest
import torch

from qaware.generator.wrapped_normal import (
    SigmaSchedule,
    sample_wrapped_normal,
    wrapped_normal_log_density,
    wrapped_normal_score,
    wrapped_normal_score_norm,
)

SIGMAS = [0.005, 0.03, 0.1, 0.3, 0.5]


@pytest.mark.parametrize("sigma", SIGMAS)
def test_score_matches_central_differences_of_log_density(sigma: float) -> None:
    x = torch.linspace(-0.49, 1.49, 301, dtype=torch.float64) * min(1.0, 8 * sigma)
    h = 1e-6 * sigma
    numeric = (
        wrapped_normal_log_density(x + h, sigma) - wrapped_normal_log_density(x - h, sigma)
    ) / (2 * h)
    analytic = wrapped_normal_score(x, sigma)
    scale = 1.0 / sigma**2
    assert torch.allclose(analytic, numeric, atol=1e-5 * scale, rtol=1e-6)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_density_integrates_to_one_over_a_period(sigma: float) -> None:
    x = torch.linspace(-0.5, 0.5, 200001, dtype=torch.float64)
    total = torch.trapezoid(torch.exp(wrapped_normal_log_density(x, sigma)), x)
    assert total.item() == pytest.approx(1.0, abs=1e-6)


def test_large_sigma_is_nearly_uniform_and_small_sigma_is_a_plain_normal() -> None:
    x = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert torch.allclose(
        torch.exp(wrapped_normal_log_density(x, 0.5)),
        torch.ones(11, dtype=torch.float64),
        atol=0.02,
    )
    y = torch.tensor([0.001, -0.004, 0.01], dtype=torch.float64)
    assert torch.allclose(wrapped_normal_score(y, 0.005), -y / 0.005**2)


def test_score_is_periodic_and_odd() -> None:
    x = torch.rand(100, dtype=torch.float64)
    s = wrapped_normal_score(x, 0.2)
    assert torch.allclose(wrapped_normal_score(x + 3.0, 0.2), s, atol=1e-9)
    assert torch.allclose(wrapped_normal_score(-x, 0.2), -s, atol=1e-9)
    assert wrapped_normal_score(torch.tensor(0.5, dtype=torch.float64), 0.2).abs() < 1e-9


def test_score_norm_is_the_mean_squared_score_of_samples() -> None:
    gen = torch.Generator().manual_seed(0)
    for sigma in (0.01, 0.2, 0.5):
        samples = sample_wrapped_normal((200_000,), sigma, generator=gen)
        mc = (wrapped_normal_score(samples, sigma) ** 2).mean().item()
        assert wrapped_normal_score_norm(sigma).item() == pytest.approx(mc, rel=0.02)
    assert wrapped_normal_score_norm(0.005).item() == pytest.approx(1 / 0.005**2, rel=1e-4)


def test_samples_lie_in_the_unit_interval_with_the_right_spread() -> None:
    gen = torch.Generator().manual_seed(1)
    s = sample_wrapped_normal((100_000,), 0.05, generator=gen)
    assert s.min() >= 0 and s.max() < 1
    centred = s - torch.floor(s + 0.5)
    assert centred.std().item() == pytest.approx(0.05, rel=0.02)


def test_sigma_schedule_is_geometric_between_its_ends() -> None:
    schedule = SigmaSchedule()
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    sig = schedule(t)
    assert sig[0].item() == pytest.approx(0.005)
    assert sig[2].item() == pytest.approx(0.5)
    assert sig[1].item() == pytest.approx(math.sqrt(0.005 * 0.5))
    with pytest.raises(ValueError, match="sigma_min"):
        SigmaSchedule(0.5, 0.1)
