"""Acquisition: divergence, uncertainty, diversity, the score S(x) and batch selection.

Pure functions over arrays (DESIGN.md §3). Energies are referenced formation energies in eV/atom
predicted by the validator; ``low`` is the cheap level (PBE or its stand-in), ``top`` the level
that decides hits.

* ``D_signed = e_low − e_top``: positive where the top level finds x *more* stable than the low
  level does — the direction in which PBE hides stable materials.
* ``D_abs = |e_low − e_top|`` (the paper's D) and ``D_rel = D_abs / (|e_top| + 0.05)``.
* ``U`` = mean of the rank-normalised top-level σ and the embedding distance to the nearest
  labelled candidate (diversity).
* ``S = w_D·rank(D) + w_U·rank(U)``, ranks normalised to [0, 1] over the pool.

Strategies (for the baselines, selectable by name): ``random``, ``dft_only`` (most stable by
the low level first), ``uncertainty`` (U), ``divergence`` (D) and ``qaware`` (S).

* ``feasibility``: P(a top-level call on x succeeds), learned from the calls already made
  (failed, timed out or gated by a sanity gate): with coupled-cluster truth most 3d-metal oxides
  fail the T1/D1 gate, and a failed call is spent (``campaign_track_m.json``).
  ``feasibility_weighted`` ranks by rank(score) × P(ok), an expected value per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import numpy as np

__all__ = [
    "D_REL_FLOOR",
    "STRATEGIES",
    "DivergenceKind",
    "Strategy",
    "acquisition_scores",
    "divergence",
    "feasibility",
    "feasibility_weighted",
    "nearest_distance",
    "rank_normalise",
    "select_batch",
    "uncertainty_score",
]

DivergenceKind = Literal["signed", "absolute", "relative"]
Strategy = Literal["random", "dft_only", "uncertainty", "divergence", "qaware"]
STRATEGIES: Final[tuple[str, ...]] = ("random", "dft_only", "uncertainty", "divergence", "qaware")
D_REL_FLOOR: Final[float] = 0.05
"""eV/atom added to |e_top| in D_rel so that near-zero formation energies do not blow it up."""


def divergence(e_low: np.ndarray, e_top: np.ndarray, kind: DivergenceKind = "signed") -> np.ndarray:
    """D(x) in eV/atom (``relative``: dimensionless) from formation energies per atom, (n,)."""
    e_low, e_top = np.asarray(e_low, dtype=float), np.asarray(e_top, dtype=float)
    if e_low.shape != e_top.shape:
        raise ValueError(f"divergence: shapes {e_low.shape} and {e_top.shape} differ")
    gap = e_low - e_top
    if kind == "signed":
        return gap
    if kind == "absolute":
        return np.abs(gap)
    if kind == "relative":
        return np.abs(gap) / (np.abs(e_top) + D_REL_FLOOR)
    raise ValueError(f"divergence: unknown kind {kind!r} (signed, absolute, relative)")


def rank_normalise(values: np.ndarray) -> np.ndarray:
    """Ranks scaled to [0, 1] (largest value → 1; ties share their mean rank; NaN → 0).

    A pool of one scores 1. Rank normalisation makes D and U commensurable whatever their units.
    """
    values = np.asarray(values, dtype=float)
    out = np.zeros(values.shape)
    finite = np.isfinite(values)
    n = int(finite.sum())
    if n == 0:
        return out
    if n == 1:
        out[finite] = 1.0
        return out
    x = values[finite]
    order = np.argsort(x, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=float)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    mean_rank = np.bincount(inverse, weights=ranks) / counts
    out[finite] = mean_rank[inverse] / (n - 1)
    return out


def nearest_distance(
    embedding: np.ndarray, reference: np.ndarray, *, chunk: int = 4096
) -> np.ndarray:
    """Euclidean distance from each row of ``embedding`` (n, d) to its nearest ``reference`` row.

    ``inf`` for every row when there is no reference. Chunked so 10^5 × 10^4 fits in memory.
    """
    embedding = np.asarray(embedding, dtype=float)
    reference = np.asarray(reference, dtype=float)
    n = embedding.shape[0]
    if reference.size == 0:
        return np.full(n, np.inf)
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    out = np.empty(n)
    for start in range(0, n, chunk):
        part = embedding[start : start + chunk]
        sq = np.einsum("ij,ij->i", part, part)[:, None] - 2 * part @ reference.T + ref_sq[None]
        out[start : start + chunk] = np.sqrt(np.maximum(sq.min(axis=1), 0.0))
    return out


def uncertainty_score(sigma_top: np.ndarray, diversity: np.ndarray | None = None) -> np.ndarray:
    """U(x): rank(σ_top), averaged with rank(distance to the labelled set) when given."""
    u = rank_normalise(sigma_top)
    if diversity is None:
        return u
    d = np.asarray(diversity, dtype=float)
    d = np.where(np.isinf(d), np.nanmax(np.where(np.isinf(d), np.nan, d), initial=0.0) + 1.0, d)
    return 0.5 * (u + rank_normalise(d))


def acquisition_scores(
    strategy: Strategy,
    *,
    e_low: np.ndarray,
    e_top: np.ndarray,
    sigma_top: np.ndarray,
    diversity: np.ndarray | None = None,
    kind: DivergenceKind = "signed",
    weight_divergence: float = 0.7,
    weight_uncertainty: float = 0.3,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Score per candidate, (n,): higher is picked first. ``rng`` is required for ``random``.

    e_low, e_top: predicted formation energies per atom (eV/atom) at the low and top levels.
    dft_only ranks by low-level stability (``-e_low``), which is what a PBE-screening campaign does.
    """
    n = np.asarray(e_low).shape[0]
    if strategy == "random":
        if rng is None:
            raise ValueError("acquisition_scores: strategy 'random' needs an rng")
        return np.asarray(rng.random(n), dtype=float)
    if strategy == "dft_only":
        return -np.asarray(e_low, dtype=float)
    if strategy == "uncertainty":
        return uncertainty_score(sigma_top, diversity)
    d = divergence(e_low, e_top, kind)
    if strategy == "divergence":
        return d
    if strategy == "qaware":
        u = uncertainty_score(sigma_top, diversity)
        return weight_divergence * rank_normalise(d) + weight_uncertainty * u
    raise ValueError(f"acquisition: unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})")


def feasibility(
    groups: Sequence[str],
    tried_groups: Sequence[str],
    tried_ok: Sequence[bool],
    *,
    prior_strength: float = 1.0,
) -> np.ndarray:
    """P(ok) per candidate, (n,): the posterior mean success rate of the candidate's group.

    groups: what failures share, one per candidate (a reduced formula: the geometries of one
    molecule pass or fail a T1/D1 gate together); tried_groups, tried_ok: the calls made so far.
    Beta-Bernoulli with the prior centred on the rate of every call so far,
    p0 = (ok + 1) / (n + 2), and weight ``prior_strength``:
    P(ok | group) = (ok_g + m·p0) / (n_g + m). An untried group gets p0.
    """
    if prior_strength <= 0:
        raise ValueError(f"feasibility: prior_strength must be > 0, got {prior_strength}")
    if len(tried_groups) != len(tried_ok):
        raise ValueError(
            f"feasibility: {len(tried_groups)} tried groups but {len(tried_ok)} outcomes"
        )
    ok = np.asarray(tried_ok, dtype=bool)
    p0 = (ok.sum() + 1.0) / (ok.size + 2.0)
    n_g: dict[str, int] = {}
    ok_g: dict[str, int] = {}
    for g, success in zip(tried_groups, ok, strict=True):
        n_g[g] = n_g.get(g, 0) + 1
        ok_g[g] = ok_g.get(g, 0) + int(success)
    m = prior_strength
    return np.array([(ok_g.get(g, 0) + m * p0) / (n_g.get(g, 0) + m) for g in groups], float)


def feasibility_weighted(scores: np.ndarray, p_ok: np.ndarray) -> np.ndarray:
    """rank(score) × P(ok), (n,): an expected value per call. Ranks (in [0, 1]) rather than the
    raw score, which may be negative (``dft_only``, signed D); NaN scores stay NaN."""
    scores, p_ok = np.asarray(scores, dtype=float), np.asarray(p_ok, dtype=float)
    if scores.shape != p_ok.shape:
        raise ValueError(f"feasibility_weighted: shapes {scores.shape} and {p_ok.shape} differ")
    return np.where(np.isnan(scores), np.nan, rank_normalise(scores) * p_ok)


def select_batch(
    scores: np.ndarray,
    k: int,
    *,
    embedding: np.ndarray | None = None,
    min_distance: float = 0.0,
    exclude: Sequence[int] | np.ndarray = (),
) -> list[int]:
    """Greedy batch: the best-scored indices, skipping excluded ones (already labelled or in
    flight) and any within ``min_distance`` (embedding space) of an earlier pick.

    NaN scores are never picked. Fewer than ``k`` come back when the pool runs out; ties go to
    the lower index.
    """
    scores = np.asarray(scores, dtype=float)
    if k < 0:
        raise ValueError(f"select_batch: k must be >= 0, got {k}")
    banned = np.zeros(scores.shape[0], dtype=bool)
    banned[np.asarray(exclude, dtype=int)] = True
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    picks: list[int] = []
    use_distance = min_distance > 0 and embedding is not None
    emb = None if embedding is None else np.asarray(embedding, dtype=float)
    for i in order:
        if len(picks) >= k:
            break
        if banned[i] or np.isnan(scores[i]):
            continue
        if use_distance and picks:
            assert emb is not None
            if nearest_distance(emb[i : i + 1], emb[picks])[0] < min_distance:
                continue
        picks.append(int(i))
    return picks
