"""benchmarks/validator.py: the deep ensemble's σ is the spread of all its heads."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("validator")


def test_pooled_sigma_is_the_std_over_every_head_of_every_member(bench):
    rng = np.random.default_rng(0)
    heads = rng.normal(size=(4, 3, 10))  # (members K, heads H, structures n): signed errors
    error, sigma = bench.pooled(heads.mean(axis=1), heads.std(axis=1))
    all_heads = heads.reshape(12, 10)
    np.testing.assert_allclose(error, all_heads.mean(axis=0))
    np.testing.assert_allclose(sigma, all_heads.std(axis=0))


def test_pooled_sigma_of_agreeing_members_is_their_own_spread(bench):
    errors = np.tile([0.1, -0.2], (3, 1))
    sigma = np.full((3, 2), 0.05)
    error, pooled = bench.pooled(errors, sigma)
    np.testing.assert_allclose(error, [0.1, -0.2])
    np.testing.assert_allclose(pooled, [0.05, 0.05])
