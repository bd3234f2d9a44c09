"""Candidate rows of the campaign store, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.errors import (
    InvalidStructureError,
    MissingDependencyError,
    StateTransitionError,
    StoreError,
)
from qaware.protocols import Store
from qaware.store import CampaignStore, CandidateStatus

S = CandidateStatus


def perovskite(seed: int) -> Atoms:
    """A distinct 5-atom ABO3 cell: cubic lattice with jittered positions (seeded)."""
    rng = np.random.default_rng(seed)
    frac = np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    frac = frac + rng.normal(scale=0.03, size=frac.shape)
    return Atoms("SrTiO3", scaled_positions=frac, cell=np.eye(3) * 3.9, pbc=True)


@pytest.fixture
def store(store_url):
    with CampaignStore(store_url, campaign="c1") as s:
        yield s


def test_store_satisfies_the_protocol(store):
    assert isinstance(store, Store)


def test_add_dedupes_by_structure_hash(store):
    cu = bulk("Cu", "fcc", a=3.61)
    moved = cu.repeat((2, 2, 1))  # the same crystal as a supercell, translated and rattled
    moved.translate([0.3, 0.1, 0.2])
    moved.positions += 1e-6
    si = bulk("Si", "diamond", a=5.43)
    ids = store.add_candidates([cu, si, moved, si], cycle=0, origin="test")
    assert ids[0] == ids[2]
    assert ids[1] == ids[3]
    assert ids[0] != ids[1]
    assert store.count() == 2
    # The same structure in a later cycle is the same row; its first cycle is kept.
    again = store.add_candidates([si, perovskite(1)], cycle=1)
    assert again[0] == ids[1]
    assert store.count() == 3
    assert store.get(ids[1]).cycle == 0
    assert store.get(again[1]).cycle == 1


def test_rows_round_trip_structure_and_keys(store):
    atoms = perovskite(0)
    (cid,) = store.add_candidates([atoms], cycle=2, origin="generator")
    rec = store.get(cid)
    assert rec.status == S.GENERATED
    assert rec.cycle == 2
    assert rec.key_value_pairs["origin"] == "generator"
    assert rec.atoms.get_chemical_formula() == atoms.get_chemical_formula()
    np.testing.assert_array_equal(rec.atoms.positions, atoms.positions)
    np.testing.assert_array_equal(rec.atoms.cell[:], atoms.cell[:])


def test_campaigns_sharing_a_database_do_not_see_each_other(store, store_url):
    atoms = perovskite(3)
    (mine,) = store.add_candidates([atoms], cycle=0)
    with CampaignStore(store_url, campaign="other") as other:
        (theirs,) = other.add_candidates([atoms], cycle=0)
        assert theirs != mine
        assert other.count() == 1
        with pytest.raises(StoreError, match=f"id {mine}"):
            other.get(mine)
        other.set_status([theirs], S.SCORED)
        assert other.summary() == {0: {**dict.fromkeys(map(str, S), 0), "scored": 1}}
    assert store.get(mine).status == S.GENERATED
    assert store.summary()[0]["generated"] == 1
    assert sum(store.summary()[0].values()) == 1


def test_a_bad_structure_in_a_batch_writes_nothing(store):
    slab = bulk("Cu", "fcc", a=3.61)
    slab.pbc = [True, True, False]  # mixed periodicity cannot be hashed
    with pytest.raises(InvalidStructureError, match="add_candidates, row 2"):
        store.add_candidates([perovskite(1), perovskite(2), slab], cycle=0)
    assert store.count() == 0


def test_walk_the_whole_state_machine_through_the_store(store):
    (cid,) = store.add_candidates([perovskite(0)], cycle=0)
    path = [S.SCORED, S.SCORED, S.SELECTED, S.SCORED, S.SELECTED, S.SUBMITTED, S.FAILED,
            S.SUBMITTED, S.SUBMITTED, S.DONE]  # fmt: skip
    for status in path:
        store.set_status([cid], status)
        assert store.get(cid).status == status
    for status in S:
        with pytest.raises(StateTransitionError, match="'done'"):
            store.set_status([cid], status)
    assert store.get(cid).status == S.DONE


def test_failed_candidates_can_be_quarantined_and_stay_there(store):
    (cid,) = store.add_candidates([perovskite(0)], cycle=0)
    for status in (S.SCORED, S.SELECTED, S.SUBMITTED, S.FAILED, S.QUARANTINED):
        store.set_status([cid], status, data={"reason": f"at {status}"})
    rec = store.get(cid)
    assert rec.status == S.QUARANTINED
    assert rec.data["reason"] == "at quarantined"
    with pytest.raises(StateTransitionError, match="'quarantined' -> 'submitted'"):
        store.set_status([cid], S.SUBMITTED)


def test_one_illegal_transition_leaves_every_row_unchanged(store):
    a, b, c = store.add_candidates([perovskite(i) for i in range(3)], cycle=0)
    store.set_status([a, c], S.SCORED, fields={"score": 0.5})
    with pytest.raises(StateTransitionError, match=f"candidate {b}: illegal transition"):
        store.set_status([a, b, c], S.SELECTED, fields={"score": 0.9}, data={"picked": True})
    for cid, status in ((a, S.SCORED), (b, S.GENERATED), (c, S.SCORED)):
        rec = store.get(cid)
        assert rec.status == status
        assert rec.key_value_pairs.get("score", 0.5) == 0.5
        assert "picked" not in rec.data


def test_fields_and_data_are_stored_and_merged(store):
    (cid,) = store.add_candidates([perovskite(0)], cycle=0)
    fields = {"D_signed": np.float64(0.3125), "e_form_PBE": -1.5, "rank": np.int64(4)}
    store.set_status([cid], S.SCORED, fields=fields, data={"embedding": [0.1, 0.2]})
    store.set_status([cid], S.SCORED, fields={"D_signed": 0.25}, data={"note": "rescored"})
    rec = store.get(cid)
    assert rec.key_value_pairs["D_signed"] == 0.25
    assert rec.key_value_pairs["e_form_PBE"] == -1.5
    assert rec.key_value_pairs["rank"] == 4
    assert rec.data == {"embedding": [0.1, 0.2], "note": "rescored"}


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"U": 0.2}, "U"),  # a chemical symbol: ase.db refuses it as a key
        ({"status": "done"}, "managed by the store"),
        ({"cycle": 4}, "managed by the store"),
        ({"D_abs": float("nan")}, "finite"),
        ({"D_abs": [1.0, 2.0]}, "finite"),
        ({"label": "12"}, "12"),  # a string that reads as a number
    ],
)
def test_bad_fields_are_refused_before_writing(store, fields, match):
    (cid,) = store.add_candidates([perovskite(0)], cycle=0)
    with pytest.raises(StoreError, match=match):
        store.set_status([cid], S.SCORED, fields=fields)
    assert store.get(cid).status == S.GENERATED


def test_queries_filter_by_status_and_cycle_and_summary_counts(store):
    ids0 = store.add_candidates([perovskite(i) for i in range(5)], cycle=0)
    ids1 = store.add_candidates([perovskite(i) for i in range(5, 8)], cycle=1)
    store.set_status(ids0[:3], S.SCORED)
    store.set_status(ids0[:1], S.SELECTED)
    store.set_status(ids1[:2], S.SCORED)
    assert [r.id for r in store.candidates(status=S.SCORED)] == ids0[1:3] + ids1[:2]
    assert [r.id for r in store.candidates(status="scored", cycle=1)] == ids1[:2]
    assert [r.id for r in store.candidates(cycle=0)] == ids0
    assert store.count(status=S.GENERATED) == 3
    assert store.count(status=S.SCORED, cycle=0) == 2
    summary = store.summary()
    assert list(summary) == [0, 1]
    assert summary[0] == {**dict.fromkeys(map(str, S), 0), "generated": 2, "scored": 2,
                          "selected": 1}  # fmt: skip
    assert summary[1]["scored"] == 2
    assert summary[1]["generated"] == 1
    assert sum(summary[1].values()) == 3


def test_writing_while_iterating_a_query_works(store):
    ids = store.add_candidates([perovskite(i) for i in range(4)], cycle=0)
    for rec in store.candidates(status=S.GENERATED):
        store.set_status([rec.id], S.SCORED)
    assert store.count(status=S.SCORED) == len(ids)


def test_rows_persist_across_reopening(store, store_url):
    ids = store.add_candidates([perovskite(i) for i in range(2)], cycle=0)
    store.set_status(ids, S.SCORED)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count()
    with CampaignStore(store_url, campaign="c1") as again:
        assert [r.status for r in again.candidates()] == [S.SCORED, S.SCORED]
        assert again.add_candidates([perovskite(0)], cycle=3) == ids[:1]


def test_unknown_ids_and_bad_arguments_raise_store_errors(store):
    with pytest.raises(StoreError, match="no candidate row with id 999"):
        store.get(999)
    with pytest.raises(StoreError, match="no candidate row"):
        store.set_status([999], S.SCORED)
    with pytest.raises(StoreError, match="cycle"):
        store.add_candidates([perovskite(0)], cycle=-1)
    with pytest.raises(ValueError, match="'evaluated'"):
        store.count(status="evaluated")


def test_bad_locations_and_names_are_refused(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        CampaignStore(tmp_path / "missing" / "campaign.db")
    with pytest.raises(StoreError, match="campaign name"):
        CampaignStore(tmp_path / "campaign.db", campaign="42")


def test_precomputed_hashes_are_used_as_given(store):
    a, b = perovskite(0), perovskite(1)
    ids = store.add_candidates([a, b], cycle=0, hashes=["h-one", "h-one"])
    assert ids[0] == ids[1]  # trusted: same hash, one row
    assert store.get(ids[0]).structure_hash == "h-one"
    with pytest.raises(StoreError, match="1 hashes for 2 structures"):
        store.add_candidates([a, b], cycle=0, hashes=["h-two"])


def test_postgres_without_its_extra_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ase_db_backends" else real(name, *a),
    )
    with pytest.raises(MissingDependencyError, match=r"qaware\[postgres\]") as info:
        CampaignStore("postgresql://nobody@127.0.0.1:1/none")
    assert info.value.extra == "postgres"


def test_update_candidates_writes_one_field_set_per_row_atomically(store):
    ids = store.add_candidates([perovskite(i) for i in range(3)], cycle=0)
    store.update_candidates(ids, S.SCORED, [{"score": 0.1 * i, "div": -i} for i in range(3)])
    rows = [store.get(i) for i in ids]
    assert [r.status for r in rows] == ["scored"] * 3
    assert [r.key_value_pairs["score"] for r in rows] == pytest.approx([0.0, 0.1, 0.2])
    assert [r.key_value_pairs["div"] for r in rows] == [0, -1, -2]
    store.set_status(ids[:1], S.SELECTED)
    # one illegal edge (selected -> selected) refuses the whole batch: nothing changes
    with pytest.raises(StateTransitionError, match="illegal transition"):
        store.update_candidates(ids, S.SELECTED, [{"score": 9.0}] * 3)
    assert store.get(ids[1]).status == "scored"
    assert store.get(ids[1]).key_value_pairs["score"] == pytest.approx(0.1)
    with pytest.raises(StoreError, match="field sets"):
        store.update_candidates(ids, S.SCORED, [{}])
    with pytest.raises(StoreError, match="finite number"):
        store.update_candidates(ids[1:2], S.SCORED, [{"score": float("nan")}])


def test_annotate_candidates_keeps_status(store):
    ids = store.add_candidates([perovskite(i) for i in range(2)], cycle=0)
    store.annotate_candidates(ids, [{"e_hull_top": 0.01}, {"e_hull_top": -0.2, "hit": True}])
    assert [store.get(i).status for i in ids] == ["generated"] * 2
    assert store.get(ids[1]).key_value_pairs["hit"] is True
    with pytest.raises(StoreError, match="field sets"):
        store.annotate_candidates(ids, [{}])


def test_candidate_elements_are_this_campaigns_own(store_url):
    with CampaignStore(store_url, campaign="mine") as mine:
        assert mine.candidate_elements() == (frozenset(), True)
        mine.add_candidates([perovskite(0), bulk("Cu", "fcc", a=3.6)], cycle=0)
        with CampaignStore(store_url, campaign="other") as other:
            other.add_candidates([bulk("Fe", "bcc", a=2.87)], cycle=0)
        expected = {s for c in mine.candidates() for s in c.atoms.get_chemical_symbols()}
        assert mine.candidate_elements() == (frozenset(expected), True)
        mine.add_candidates([Atoms("CO", positions=[[0, 0, 0], [0, 0, 1.13]])], cycle=1)
        elements, periodic = mine.candidate_elements()
        assert elements == frozenset(expected | {"C", "O"}) and not periodic
