"""Metrics as pure functions of structures and arrays (generation; others to come)."""

from qaware.metrics.generation import (
    COV_CUTOFFS,
    CSPResult,
    close_packed_share,
    compositional_validity,
    coverage,
    csp_match,
    density_distance,
    element_count_distance,
    fingerprints,
    novelty,
    p1_share,
    structural_validity,
    uniqueness,
    validity,
)

__all__ = [
    "COV_CUTOFFS",
    "CSPResult",
    "close_packed_share",
    "compositional_validity",
    "coverage",
    "csp_match",
    "density_distance",
    "element_count_distance",
    "fingerprints",
    "novelty",
    "p1_share",
    "structural_validity",
    "uniqueness",
    "validity",
]
