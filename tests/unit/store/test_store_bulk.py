"""Batched candidate inserts (store/_bulk.py): the rows ASE reads back are the rows ASE writes."""

from __future__ import annotations

import ase.db
import numpy as np
import pytest
from ase import Atoms

from qaware.errors import StoreError
from qaware.store import CampaignStore


def cells(n: int, seed: int, formula: str = "SrTiO3") -> list[Atoms]:
    rng = np.random.default_rng(seed)
    return [
        Atoms(formula, scaled_positions=rng.random((5, 3)), cell=np.eye(3) * 4.0, pbc=True)
        for _ in range(n)
    ]


def _plain(url: str):
    if url.startswith("postgresql"):
        return ase.db.connect(url, type="postgresql")
    return ase.db.connect(url, type="db", use_lock_file=False)


def test_a_batch_reads_back_through_plain_ase_like_row_by_row_writes(store_url):
    batch = cells(40, 0)
    hashes = [f"h{i:03d}" for i in range(40)]
    with CampaignStore(store_url, campaign="bulk") as store:
        ids = store.add_candidates(batch, cycle=2, origin="gen", hashes=hashes)
        assert ids == sorted(ids) and len(set(ids)) == 40
        # a repeat plus new rows: old ids come back, new ones follow
        more = cells(5, 1, "BaZrO3")
        again = store.add_candidates([batch[3], *more], cycle=3, hashes=["h003", *"vwxyz"])
        assert again[0] == ids[3] and min(again[1:]) > max(ids)
        # a later single write (an oracle-call row, ASE's own insert) gets a fresh id
        call = store.begin_call(ids[0], batch[0], oracle_key="kabc", level="PBE")
        assert call > max(again)
    db = _plain(store_url)
    assert db.count(kind="candidate", campaign="bulk") == 45
    assert db.count("Sr") == 40 + 1 and db.count("Ba") == 5  # species table (+ the call row)
    assert db.count("shash") == 46  # keys table
    assert db.count(cycle=2) == 40 and db.count(status="generated") == 45  # key-value tables
    for cid, atoms, h in zip(ids, batch, hashes, strict=True):
        row = db.get(id=cid)
        assert row.formula == "SrTiO3" and row.shash == h and row.origin == "gen"
        assert np.allclose(row.toatoms().get_scaled_positions(), atoms.get_scaled_positions())


def test_a_refused_row_rolls_the_whole_batch_back(store_url):
    with CampaignStore(store_url, campaign="bulk") as store:
        with pytest.raises(StoreError):  # ASE refuses a string value that reads as a number
            store.add_candidates(cells(10, 2), cycle=0, origin="1.5", hashes=list("abcdefghij"))
        assert store.count() == 0
        ids = store.add_candidates(cells(3, 3), cycle=0, hashes=list("abc"))
        assert store.count() == 3 and [store.get(i).structure_hash for i in ids] == list("abc")


@pytest.mark.parametrize("digest", ["20394817263549870192837465019283", "8812e77410235566"])
def test_a_structure_hash_that_reads_as_a_number_is_stored_and_read_back(store_url, digest):
    """ASE refuses string values that parse as floats; about 1 in 700,000 hex digests is one
    (all digits, or digits around one 'e'). Such a candidate must still be stored, deduplicated
    and labelled, and come back with its own hash."""
    atoms = cells(1, 3)[0]
    with CampaignStore(store_url, campaign="numeric") as store:
        (cid,) = store.add_candidates([atoms], cycle=0, hashes=[digest])
        assert store.add_candidates([atoms], cycle=1, hashes=[digest]) == [cid]
        (cand,) = store.candidates()
        assert cand.structure_hash == digest
        store.begin_call(cid, atoms, oracle_key="k" + digest, level="PBE")
        (call,) = store.calls()
        assert call.structure_hash == digest and call.candidate_id == cid
