"""The campaign's feasibility term (acquisition.feasibility: true) reads its outcomes from the
store: done candidates count as successes, quarantined ones (failed, timed out or gated) as
failures, grouped by reduced formula."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from ase import Atoms

from qaware.acquisition import feasibility
from qaware.campaign.steps import _feasibility
from qaware.store import CampaignStore, CandidateStatus

S = CandidateStatus


def _molecule(formula: str, r: float) -> Atoms:
    return Atoms(formula, positions=[[0, 0, 0], [0, 0, r]])


def _walk(store: CampaignStore, ids: list[int], end: CandidateStatus) -> None:
    for status in (S.SCORED, S.SELECTED, S.SUBMITTED):
        store.set_status(ids, status)
    if end == S.QUARANTINED:
        store.set_status(ids, S.FAILED, fields={"reason": "multireference: T1 too large"})
    store.set_status(ids, end)


def test_done_and_quarantined_rows_are_the_outcomes_by_reduced_formula(tmp_path):
    with CampaignStore(str(tmp_path / "c.db"), campaign="c") as store:
        seen = [
            _molecule(f, r) for f, r in (("FeO", 1.6), ("FeO", 1.7), ("TiO", 1.6), ("CuO", 1.7))
        ]
        ids = store.add_candidates(seen, cycle=0)
        _walk(store, ids[:2], S.QUARANTINED)  # both FeO geometries gated
        _walk(store, ids[2:3], S.DONE)  # TiO passed; CuO is still only generated
        ctx = SimpleNamespace(store=store)
        fe2o2 = Atoms("Fe2O2", positions=[[0, 0, 0], [2, 0, 0], [1, 1, 0], [1, -1, 0]])
        pool = [_molecule("FeO", 1.8), _molecule("TiO", 1.8), _molecule("CuO", 1.8), fe2o2]
        p = _feasibility(ctx, pool)  # type: ignore[arg-type]
    expected = feasibility(["FeO", "TiO", "CuO", "FeO"], ["FeO", "FeO", "TiO"],
                           [False, False, True])  # fmt: skip
    np.testing.assert_allclose(p, expected)
    assert p[0] < p[2] < p[1] and p[3] == p[0]  # Fe2O2 reduces to FeO
