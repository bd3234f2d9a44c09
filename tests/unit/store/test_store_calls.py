"""Oracle-call rows: submission, retries, results stored exactly, failures never served."""

from __future__ import annotations

import ase.db
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from qaware.errors import StoreError
from qaware.oracles.result import OracleResult
from qaware.store import CallStatus, CampaignStore, oracle_call_key
from qaware.structures.hashing import structure_hash

SETTINGS = "pbe-400ev-kpts444"


@pytest.fixture
def store(store_url):
    with CampaignStore(store_url, campaign="calls") as s:
        yield s


@pytest.fixture
def nacl():
    return bulk("NaCl", "rocksalt", a=5.64)


def good_result(n_atoms: int, level: str = "PBE") -> OracleResult:
    rng = np.random.default_rng(7)
    return OracleResult(
        ok=True,
        level=level,
        energy=-7.123456789012345,
        forces=rng.normal(size=(n_atoms, 3)) / 3.0,
        stress=rng.normal(size=6) * 1e-3,
        descriptors={"dos": rng.random(16), "response": np.array([1.0 / 3.0, 2e-17])},
        code="gpaw",
        code_version="25.1.0",
        settings_hash=SETTINGS,
        wall_time_s=3.25,
        peak_memory_mb=812.5,
        diagnostics={
            "scf_converged": True,
            "n_scf_cycles": 17,
            "s2": 0.7500000001,
            "notes": ["smearing", 0.1],
            "nested": {"t1": 0.012},
        },
    )


def test_submit_fail_retry_done_and_exact_round_trip(store, nacl):
    (cid,) = store.add_candidates([nacl], cycle=0)
    okey = oracle_call_key(structure_hash(nacl), SETTINGS)
    call = store.begin_call(cid, nacl, oracle_key=okey, level="PBE", handle="slurm-101")
    (rec,) = store.calls()
    assert (rec.id, rec.status, rec.attempt, rec.handle) == (
        call,
        CallStatus.SUBMITTED,
        1,
        "slurm-101",
    )
    assert rec.candidate_id == cid
    assert rec.result is None
    assert store.find_result(okey) is None

    # The executor lost the job: resubmitted on the same row.
    assert store.begin_call(cid, nacl, oracle_key=okey, level="PBE", handle="slurm-102") == call
    failure = OracleResult.failure("PBE", "scf_not_converged", energy=-7.0, settings_hash=SETTINGS)
    store.record_result(cid, okey, failure)
    (rec,) = store.calls()
    assert (rec.status, rec.attempt, rec.handle) == (CallStatus.FAILED, 2, "slurm-102")
    assert rec.result.reason == "scf_not_converged"
    assert store.find_result(okey) is None  # a failure is never truth

    assert store.begin_call(cid, nacl, oracle_key=okey, level="PBE") == call  # retry
    expected = good_result(len(nacl))
    store.record_result(cid, okey, expected)
    (rec,) = store.calls(status="done")
    assert rec.attempt == 3

    got = store.find_result(okey)
    assert got.ok
    assert got.energy == expected.energy
    np.testing.assert_array_equal(got.forces, expected.forces)
    np.testing.assert_array_equal(got.stress, expected.stress)
    assert got.descriptors.keys() == expected.descriptors.keys()
    for name, vec in expected.descriptors.items():
        np.testing.assert_array_equal(got.descriptors[name], vec)
    assert got.diagnostics == expected.diagnostics
    assert (got.code, got.code_version, got.settings_hash) == ("gpaw", "25.1.0", SETTINGS)
    assert (got.wall_time_s, got.peak_memory_mb, got.level) == (3.25, 812.5, "PBE")


def test_ase_db_users_see_energy_and_forces_of_done_calls(store, store_url, nacl):
    (cid,) = store.add_candidates([nacl], cycle=0)
    okey = oracle_call_key(structure_hash(nacl), SETTINGS)
    result = good_result(len(nacl))
    store.record_result(cid, okey, result)  # no begin_call: the row is made from the candidate
    (rec,) = store.calls()
    row = ase.db.connect(store_url).get(id=rec.id)
    assert row.energy == result.energy
    np.testing.assert_array_equal(row.forces, result.forces)
    assert row.okey == okey
    assert row.level == "PBE"
    atoms = rec.atoms
    assert atoms.get_potential_energy() == result.energy
    np.testing.assert_array_equal(atoms.get_stress(), result.stress)


def test_failed_results_have_no_calculator_energy(store, store_url, nacl):
    (cid,) = store.add_candidates([nacl], cycle=0)
    okey = oracle_call_key(structure_hash(nacl), SETTINGS)
    store.record_result(cid, okey, OracleResult.failure("PBE", "timeout", energy=-1.0))
    (rec,) = store.calls(status="failed")
    assert ase.db.connect(store_url).get(id=rec.id).get("energy") is None
    assert rec.result.energy == -1.0  # kept for the record, not as truth
    assert store.find_result(okey) is None


def test_done_keys_are_never_recomputed_or_overwritten(store, nacl):
    (cid,) = store.add_candidates([nacl], cycle=0)
    okey = oracle_call_key(structure_hash(nacl), SETTINGS)
    store.record_result(cid, okey, good_result(len(nacl)))
    with pytest.raises(StoreError, match="done"):
        store.begin_call(cid, nacl, oracle_key=okey, level="PBE")
    with pytest.raises(StoreError, match="done"):
        store.record_result(cid, okey, OracleResult.failure("PBE", "timeout"))
    assert store.find_result(okey).energy == good_result(len(nacl)).energy


def test_mismatched_results_are_refused(store, nacl):
    (cid,) = store.add_candidates([nacl], cycle=0)
    okey = oracle_call_key(structure_hash(nacl), SETTINGS)
    store.begin_call(cid, nacl, oracle_key=okey, level="PBE")
    with pytest.raises(StoreError, match="'PBE', not 'HSE06'"):
        store.record_result(cid, okey, good_result(len(nacl), level="HSE06"))
    other = good_result(len(nacl))
    other.settings_hash = "pbe-500ev"
    with pytest.raises(StoreError, match="not the key"):
        store.record_result(cid, okey, other)
    with pytest.raises(StoreError, match="forces"):
        store.record_result(cid, okey, good_result(len(nacl) + 1))
    (rec,) = store.calls()
    assert (rec.status, rec.attempt) == (CallStatus.SUBMITTED, 1)
    with pytest.raises(StoreError, match="no candidate to make one from"):
        store.record_result(None, "no-such-key", good_result(len(nacl)))


def test_call_queries_and_campaign_scope(store, store_url, nacl):
    si = bulk("Si", "diamond", a=5.43)
    ids = store.add_candidates([nacl, si], cycle=0)
    keys = {}
    for cid, atoms in zip(ids, (nacl, si), strict=True):
        for level, settings in (("PBE", SETTINGS), ("HSE06", "hse")):
            keys[cid, level] = oracle_call_key(structure_hash(atoms), settings)
            store.begin_call(cid, atoms, oracle_key=keys[cid, level], level=level)
    store.record_result(ids[0], keys[ids[0], "PBE"], good_result(len(nacl)))
    assert [c.level for c in store.calls(level="HSE06")] == ["HSE06", "HSE06"]
    assert [c.oracle_key for c in store.calls(status="done")] == [keys[ids[0], "PBE"]]
    assert len(list(store.calls(status="submitted"))) == 3
    assert store.count() == 2  # call rows are not candidates
    assert sum(store.summary()[0].values()) == 2
    with CampaignStore(store_url, campaign="elsewhere") as other:
        assert other.find_result(keys[ids[0], "PBE"]) is None
        assert list(other.calls()) == []
    with pytest.raises(StoreError, match="no candidate row"):
        store.get(next(store.calls()).id)


def test_calls_take_the_candidates_hash_and_need_a_candidate(store, nacl):
    (cid,) = store.add_candidates([nacl], cycle=0)
    okey = oracle_call_key(structure_hash(nacl), SETTINGS)
    store.begin_call(cid, nacl.repeat((2, 1, 1)), oracle_key=okey, level="PBE")
    assert next(store.calls()).structure_hash == structure_hash(nacl)
    free = store.begin_call(None, bulk("Si", "diamond", a=5.43), oracle_key="k-free", level="PBE")
    rec = next(c for c in store.calls() if c.id == free)
    assert rec.candidate_id is None
    assert rec.structure_hash == structure_hash(bulk("Si", "diamond", a=5.43))
    with pytest.raises(StoreError, match="no candidate row with id 999"):
        store.record_result(999, "k-nowhere", good_result(2))


def test_set_call_handle_keeps_the_job_id_for_reattachment(tmp_path):
    from qaware.store import CampaignStore, oracle_call_key

    atoms = Atoms("Cu", cell=[2.5, 2.5, 2.5], pbc=True)
    with CampaignStore(tmp_path / "c.db", campaign="h") as store:
        (cid,) = store.add_candidates([atoms], cycle=0)
        key = oracle_call_key(store.get(cid).structure_hash, "ab" * 32)
        call_id = store.begin_call(cid, atoms, oracle_key=key, level="L")
        store.set_call_handle(call_id, "submitit:local:123:/tmp/jobs/123")
        (call,) = list(store.calls(status="submitted"))
        assert call.handle == "submitit:local:123:/tmp/jobs/123"
        with pytest.raises(StoreError, match="not an oracle call"):
            store.set_call_handle(cid, "x")
