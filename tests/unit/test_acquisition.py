"""Acquisition functions against hand-computed cases (DESIGN.md §3)."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.acquisition import (
    acquisition_scores,
    divergence,
    feasibility,
    feasibility_weighted,
    nearest_distance,
    rank_normalise,
    select_batch,
    uncertainty_score,
)


def test_divergence_kinds_by_hand() -> None:
    low, top = np.array([-1.0, -0.5, 0.2]), np.array([-1.5, -0.5, 0.0])
    np.testing.assert_allclose(divergence(low, top, "signed"), [0.5, 0.0, 0.2])
    np.testing.assert_allclose(divergence(low, top, "absolute"), [0.5, 0.0, 0.2])
    np.testing.assert_allclose(divergence(top, low, "signed"), [-0.5, 0.0, -0.2])
    np.testing.assert_allclose(divergence(low, top, "relative"), [0.5 / 1.55, 0.0, 0.2 / 0.05])
    with pytest.raises(ValueError, match="unknown kind"):
        divergence(low, top, "squared")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shapes"):
        divergence(low, top[:2])


def test_rank_normalise_ties_nan_and_single() -> None:
    np.testing.assert_allclose(rank_normalise(np.array([3.0, 1.0, 2.0])), [1.0, 0.0, 0.5])
    # ties share the mean rank: ranks 0, 1.5, 1.5, 3 over n-1 = 3
    np.testing.assert_allclose(rank_normalise(np.array([0.0, 5.0, 5.0, 9.0])), [0, 0.5, 0.5, 1])
    np.testing.assert_allclose(rank_normalise(np.array([np.nan, 1.0, 2.0])), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(rank_normalise(np.array([7.0])), [1.0])
    assert rank_normalise(np.array([])).shape == (0,)


def test_nearest_distance_by_hand_and_chunked() -> None:
    emb = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
    ref = np.array([[0.0, 0.0], [3.0, 0.0]])
    np.testing.assert_allclose(nearest_distance(emb, ref), [0.0, 4.0, 1.0])
    np.testing.assert_allclose(nearest_distance(emb, ref, chunk=1), [0.0, 4.0, 1.0])
    assert np.isinf(nearest_distance(emb, np.zeros((0, 2)))).all()


def test_uncertainty_combines_sigma_and_diversity() -> None:
    sigma = np.array([0.1, 0.3, 0.2])
    np.testing.assert_allclose(uncertainty_score(sigma), [0.0, 1.0, 0.5])
    div = np.array([2.0, 0.0, np.inf])  # inf (nothing labelled yet) ranks as the most diverse
    np.testing.assert_allclose(uncertainty_score(sigma, div), [0.25, 0.5, 0.75])


def test_scores_per_strategy_by_hand() -> None:
    e_low = np.array([-1.0, -2.0, -0.5, -1.2])
    e_top = np.array([-1.3, -2.0, -0.4, -1.25])  # signed D: 0.3, 0, -0.1, 0.05
    sigma = np.array([0.01, 0.04, 0.02, 0.03])
    kw = dict(e_low=e_low, e_top=e_top, sigma_top=sigma)
    assert select_batch(acquisition_scores("dft_only", **kw), 2) == [1, 3]
    assert select_batch(acquisition_scores("divergence", **kw), 2) == [0, 3]
    assert select_batch(acquisition_scores("uncertainty", **kw), 2) == [1, 3]
    s = acquisition_scores("qaware", **kw)
    # rank(D) = [1, 1/3, 0, 2/3]; rank(σ) = [0, 1, 1/3, 2/3]
    np.testing.assert_allclose(
        s, 0.7 * np.array([1, 1 / 3, 0, 2 / 3]) + 0.3 * np.array([0, 1, 1 / 3, 2 / 3])
    )
    assert select_batch(s, 1) == [0]
    absolute = acquisition_scores("divergence", kind="absolute", **kw)
    np.testing.assert_allclose(absolute, [0.3, 0.0, 0.1, 0.05])
    a = acquisition_scores("random", rng=np.random.default_rng(1), **kw)
    b = acquisition_scores("random", rng=np.random.default_rng(1), **kw)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="needs an rng"):
        acquisition_scores("random", **kw)
    with pytest.raises(ValueError, match="unknown strategy"):
        acquisition_scores("greedy", **kw)  # type: ignore[arg-type]


def test_select_batch_exclusion_diversity_and_short_pool() -> None:
    scores = np.array([5.0, 4.0, 3.0, np.nan, 1.0])
    assert select_batch(scores, 3) == [0, 1, 2]
    assert select_batch(scores, 3, exclude=[0, 2]) == [1, 4]
    assert select_batch(scores, 10) == [0, 1, 2, 4]  # NaN never picked; pool runs out
    emb = np.array([[0.0], [0.1], [5.0], [9.0], [0.05]])
    # 1 and 4 lie within 0.5 of pick 0, so the next picks are 2 and then nothing else near
    assert select_batch(scores, 3, embedding=emb, min_distance=0.5) == [0, 2]
    assert select_batch(np.array([1.0, 1.0, 1.0]), 2) == [0, 1]
    with pytest.raises(ValueError, match="k must be"):
        select_batch(scores, -1)


def test_feasibility_is_the_shrunk_success_rate_of_each_group_by_hand() -> None:
    # nothing tried: every group gets p0 = (0 + 1) / (0 + 2)
    np.testing.assert_allclose(feasibility(["A", "B"], [], []), [0.5, 0.5])
    # A: 1 of 2 ok, B: 0 of 2; p0 = (1 + 1) / (4 + 2) = 1/3, m = 1
    tried, ok = ["A", "A", "B", "B"], [True, False, False, False]
    p = feasibility(["A", "B", "C"], tried, ok)
    np.testing.assert_allclose(p, [(1 + 1 / 3) / 3, (0 + 1 / 3) / 3, 1 / 3])
    # a stronger prior pulls every group towards p0
    p4 = feasibility(["A", "B"], tried, ok, prior_strength=4.0)
    np.testing.assert_allclose(p4, [(1 + 4 / 3) / 6, (4 / 3) / 6])
    with pytest.raises(ValueError, match="prior_strength"):
        feasibility(["A"], tried, ok, prior_strength=0.0)
    with pytest.raises(ValueError, match="outcomes"):
        feasibility(["A"], tried, ok[:3])


def test_feasibility_weighted_ranks_times_p_ok_and_keeps_nan() -> None:
    scores = np.array([3.0, -1.0, 2.0, np.nan])  # ranks 1, 0, 0.5 (NaN: never picked)
    out = feasibility_weighted(scores, np.array([1.0, 1.0, 0.1, 1.0]))
    np.testing.assert_allclose(out[:3], [1.0, 0.0, 0.05])
    assert np.isnan(out[3])
    assert select_batch(feasibility_weighted(scores, np.array([0.2, 1.0, 1.0, 1.0])), 1) == [2]
    with pytest.raises(ValueError, match="shapes"):
        feasibility_weighted(scores, np.ones(2))
