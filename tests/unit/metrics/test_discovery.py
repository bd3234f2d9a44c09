"""Discovery metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qaware.metrics.discovery import (
    classification,
    cumulative_discoveries,
    discoveries_per_call,
    divergence_r2,
    hit_rate_per_cycle,
    top_level_ece,
)


def test_counts_by_hand() -> None:
    assert discoveries_per_call(3, 12) == 0.25
    assert discoveries_per_call(0, 0) == 0.0
    np.testing.assert_array_equal(cumulative_discoveries([0, 1, 0, 1, 1]), [0, 1, 1, 2, 3])
    rate = hit_rate_per_cycle([1, 0, 2], [4, 0, 8])
    assert rate[0] == 0.25 and math.isnan(rate[1]) and rate[2] == 0.25
    with pytest.raises(ValueError, match="hits vs"):
        hit_rate_per_cycle([1], [1, 2])


def test_classification_and_daf_by_hand() -> None:
    # pool of 10, 2 positives; 4 selected of which 1 positive
    positive = np.zeros(10, bool)
    positive[[0, 5]] = True
    selected = np.zeros(10, bool)
    selected[[0, 1, 2, 3]] = True
    c = classification(selected, positive)
    assert (c.n_true_positive, c.n_selected, c.n_positive) == (1, 4, 2)
    assert c.precision == 0.25 and c.recall == 0.5 and c.prevalence == 0.2
    assert c.f1 == pytest.approx(2 * 0.25 * 0.5 / 0.75)
    assert c.daf == pytest.approx(1.25)
    empty = classification(np.zeros(3, bool), np.zeros(3, bool))
    assert empty.precision == empty.recall == empty.f1 == empty.daf == 0.0


def test_divergence_r2() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    assert divergence_r2(x, 2 * x + 1) == pytest.approx(1.0)
    assert divergence_r2(x, -x) == pytest.approx(1.0)  # R² = r² ignores the sign
    assert divergence_r2(np.array([1.0, -1.0, 1.0, -1.0]), np.array([1.0, 1.0, -1.0, -1.0])) == (
        pytest.approx(0.0)
    )
    assert math.isnan(divergence_r2(x[:2], x[:2]))
    assert math.isnan(divergence_r2(np.ones(4), x))


def test_top_level_ece_by_hand() -> None:
    # three exact predictions and one 10σ miss: 3/4 of the errors sit inside every central
    # interval (z ≤ 1.96), so ECE = mean over p = 0.05…0.95 of |0.75 − p| = 5.75 / 19
    pred, sigma = np.array([1.0, 2.0, 3.0, 4.0, np.nan]), np.ones(5)
    obs = np.array([1.0, 2.0, 3.0, 14.0, 0.0])  # the NaN prediction is left out
    assert top_level_ece(pred, obs, sigma) == pytest.approx(5.75 / 19)
    assert top_level_ece(pred[:4], obs[:4], 1e6 * sigma[:4]) == pytest.approx(0.5)  # too wide
    assert top_level_ece(pred[:4], obs[:4] + 1.0, 0 * sigma[:4]) == pytest.approx(0.5)  # σ = 0
    assert math.isnan(top_level_ece(pred[:2], obs[:2], sigma[:2]))  # too few to say anything
    with pytest.raises(ValueError, match="shapes"):
        top_level_ece(pred, obs[:3], sigma)
