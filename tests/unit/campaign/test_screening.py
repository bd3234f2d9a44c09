"""Screening verdicts: reasons name the sample, and worker processes change nothing."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.campaign import screening
from qaware.campaign.novelty import KnownStructures
from qaware.campaign.screening import ScreenRules, screen_batch, screen_one, screen_workers
from qaware.errors import ConfigError


def _batch(n: int, seed: int = 0) -> list[Atoms]:
    """Rattled fcc Cu/Al (some near the known Cu), plus every 7th with two atoms on top."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a = bulk(("Cu", "Al")[i % 2], "fcc", a=3.6, cubic=True)
        a.positions += rng.normal(scale=(0.02, 0.4)[i % 3 == 0], size=a.positions.shape)
        if i % 7 == 0:
            a.positions[1] = a.positions[0] + 0.1
        out.append(a)
    return out


def test_verdicts_name_the_sample_and_the_problem():
    rules = ScreenRules(min_distance=0.5, source="cycle 2 sample")
    known = KnownStructures([bulk("Cu", "fcc", a=3.6)])
    bad = _batch(1)[0]
    v = screen_one(bad, 17, rules, known)
    assert v.outcome == "rejected" and v.structure_hash is None
    assert "cycle 2 sample" in v.reason and "17" in v.reason and "Å" in v.reason
    assert screen_one(bulk("Cu", "fcc", a=3.7, cubic=True), 0, rules, known).outcome == "known"
    new = screen_one(bulk("Al", "fcc", a=4.05), 1, rules, known)
    assert new.outcome == "new" and new.structure_hash


def test_charge_balance_rule():
    nacl, na2cl = (
        bulk("NaCl", "rocksalt", a=5.64),
        Atoms(
            "Na2Cl",
            cell=np.eye(3) * 5,
            pbc=True,
            scaled_positions=[[0, 0, 0], [0.5, 0.5, 0], [0, 0, 0.5]],
        ),
    )
    rules = ScreenRules(charge_balanced=True)
    known = KnownStructures()
    assert screen_one(nacl, 0, rules, known).outcome == "new"
    assert "charge" in screen_one(na2cl, 3, rules, known).reason


def test_worker_processes_give_the_serial_verdicts(monkeypatch: pytest.MonkeyPatch):
    batch = _batch(40)
    known = KnownStructures([bulk("Cu", "fcc", a=3.6)])
    rules = ScreenRules()
    serial = screen_batch(batch, rules, known, workers=1)
    monkeypatch.setattr(screening, "PARALLEL_MIN", 10)
    parallel = screen_batch(batch, rules, known, workers=2)
    assert parallel == serial
    assert {v.outcome for v in serial} == {"new", "known", "rejected"}


def test_screen_workers_are_the_usable_cores_unless_set(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("QAWARE_SCREEN_WORKERS", raising=False)
    monkeypatch.setattr(screening.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert screen_workers() == 3
    monkeypatch.setenv("QAWARE_SCREEN_WORKERS", "1")
    assert screen_workers() == 1
    monkeypatch.setenv("QAWARE_SCREEN_WORKERS", "two")
    with pytest.raises(ConfigError, match="QAWARE_SCREEN_WORKERS"):
        screen_workers()
