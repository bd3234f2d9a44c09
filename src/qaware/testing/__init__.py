"""Conformance checks every plug-in's tests call, reusable physics assertions, test fixtures.

``check_oracle``, ``check_validator``, ``check_generator`` and ``check_store``
(:mod:`.conformance`) hold a new implementation to the same contract as the built-ins. The
physics helpers (:mod:`.physics`: finite-difference forces and stress, rotation / permutation /
translation / periodic-image invariance, batching, cutoff smoothness) are written once and reused
by every model's tests. They raise AssertionError with a message saying what failed.
"""

from qaware.testing.conformance import check_generator, check_oracle, check_store, check_validator
from qaware.testing.fixtures import emt_two_level_cells, made_up_top_energy
from qaware.testing.physics import (
    EnergyForces,
    assert_energy_invariant,
    assert_equivariant_forces,
    assert_forces_match_finite_differences,
    assert_smooth_cutoff,
    assert_stress_matches_finite_strain,
    assert_zero_cross_gradients,
    random_rotation,
)

__all__ = [
    "EnergyForces",
    "assert_energy_invariant",
    "assert_equivariant_forces",
    "assert_forces_match_finite_differences",
    "assert_smooth_cutoff",
    "assert_stress_matches_finite_strain",
    "assert_zero_cross_gradients",
    "check_generator",
    "check_oracle",
    "check_store",
    "check_validator",
    "emt_two_level_cells",
    "made_up_top_energy",
    "random_rotation",
]
