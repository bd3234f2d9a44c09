"""Applicability domain: distances in units of the training cloud's edge, invariances,
round trips, and the validator reporting them (and keeping them through a checkpoint)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.validator.domain import ApplicabilityDomain, fit_domain


def _cloud(n: int = 300, d: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.array([1.0, 10.0, 0.1, 1.0, 5.0, 1.0])[:d] + 3.0


def test_training_points_are_inside_and_the_edge_is_the_quantile():
    x = _cloud()
    domain = fit_domain(x, quantile=0.9)
    assert np.allclose(domain.distance(x), 0.0, atol=1e-6)  # its own points: distance 0
    # leave-one-out distances, in radius units: 90 % of them at or below 1
    z = (x - domain.center) / domain.scale
    loo = np.array(
        [np.min(np.linalg.norm(np.delete(z, i, 0) - z[i], axis=1)) for i in range(len(z))]
    )
    assert np.mean(loo / domain.radius <= 1.0 + 1e-12) == pytest.approx(0.9, abs=0.01)


def test_far_points_are_far_and_distance_grows_with_the_offset():
    x = _cloud()
    domain = fit_domain(x)
    direction = np.zeros(x.shape[1])
    direction[0] = 1.0
    far = x.mean(axis=0) + np.outer([10.0, 20.0, 40.0], direction) * x.std(axis=0)[0]
    d = domain.distance(far)
    assert d[0] > 1.0 and d[0] < d[1] < d[2]


def test_distance_is_per_channel_scale_free():
    """Standardising per channel: rescaling a channel of every embedding changes nothing."""
    x = _cloud()
    probe = _cloud(20, seed=1) * 1.5
    factor = np.array([1.0, 1000.0, 1.0, 0.001, 1.0, 1.0])
    a = fit_domain(x).distance(probe)
    b = fit_domain(x * factor).distance(probe * factor)
    assert np.allclose(a, b, rtol=1e-8)


def test_subsampling_a_large_set_is_seeded_and_kept_small():
    x = _cloud(3000)
    one, two = fit_domain(x, max_points=500, seed=4), fit_domain(x, max_points=500, seed=4)
    assert one.points.shape == (500, 6) and one.n_train == 3000
    assert np.array_equal(one.points, two.points) and one.radius == two.radius


def test_round_trip_and_bad_input():
    domain = fit_domain(_cloud())
    again = ApplicabilityDomain.from_dict(domain.to_dict())
    probe = _cloud(10, seed=2)
    assert np.allclose(again.distance(probe), domain.distance(probe), rtol=1e-5)
    with pytest.raises(ValueError, match="expected"):
        domain.distance(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        fit_domain(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="NaN"):
        fit_domain(np.array([[0.0, np.nan], [1.0, 1.0]]))
    constant = fit_domain(np.ones((5, 3)))  # duplicates: any other point is outside
    assert constant.distance(np.ones((1, 3)))[0] == 0.0
    assert constant.distance(np.full((1, 3), 1.1))[0] > 1.0


def test_quickstart_validator_flags_a_metal_it_never_saw():
    """The shipped validator knows perovskite oxides: fcc Au is outside, a perovskite inside."""
    from qaware.campaign.components import BUNDLED_VALIDATOR, bundled_model
    from qaware.validator import MFValidator

    validator = MFValidator.load(bundled_model(BUNDLED_VALIDATOR))
    assert validator.domain is not None
    frac = [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
    srtio3 = Atoms("SrTiO3", scaled_positions=frac, cell=3.9 * np.eye(3), pbc=True)
    pred = validator.predict([bulk("Au", "fcc", a=4.08), bulk("Si", "diamond", a=5.43), srtio3])
    assert pred.domain_distance is not None
    assert pred.domain_distance[0] > 1.0 and pred.domain_distance[1] > 1.0
    assert pred.domain_distance[2] < 1.0
