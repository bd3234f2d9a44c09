"""A process killed inside a store transaction (rows written, commit not yet sent) loses that
transaction whole and nothing committed before it; the store reopens sound and takes the same
writes again. The kill is the ``write`` crash point (:mod:`qaware.faults`), on SQLite and
PostgreSQL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from qaware.faults import ENV
from qaware.store import CallStatus, CampaignStore, CandidateStatus
from qaware.structures import read_structures

FIXTURE = Path(__file__).resolve().parents[2] / "data/structures/perov_5_val_20.csv"

# Commits five candidates and one submitted call, then arms the crash point and makes one more
# write: ``what`` picks which (a batch of candidates, a status change, or an oracle result).
WRITER = """
import os, sys
from qaware.oracles.result import OracleResult
from qaware.store import CampaignStore, CandidateStatus
from qaware.structures import read_structures

url, fixture, what = sys.argv[1:4]
s = list(read_structures(fixture))
with CampaignStore(url, campaign="kill") as store:
    ids = store.add_candidates(s[:5], cycle=0)
    store.begin_call(ids[0], s[0], oracle_key="k0", level="EMT")
    os.environ["{env}"] = "write:1"
    if what == "candidates":
        store.add_candidates(s[5:12], cycle=1)
    elif what == "status":
        store.set_status(ids[1:4], CandidateStatus.SCORED)
    else:
        store.record_result(ids[0], "k0", OracleResult(ok=True, level="EMT", energy=-1.5))
    print("not reached")
""".replace("{env}", ENV)


def _killed_writer(url: str, what: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    proc = subprocess.run([sys.executable, "-c", WRITER, url, str(FIXTURE), what], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert "not reached" not in proc.stdout


def _sqlite_sound(url: str) -> None:
    if "://" not in url:
        con = sqlite3.connect(url)
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        con.close()


def test_killed_while_adding_candidates(store_url):
    _killed_writer(store_url, "candidates")
    _sqlite_sound(store_url)
    structures = list(read_structures(FIXTURE))
    with CampaignStore(store_url, campaign="kill") as store:
        assert store.count() == 5 and store.count(cycle=1) == 0  # the batch is gone whole
        assert len(store.add_candidates(structures[5:12], cycle=1)) == 7
        assert store.count() == 12


def test_killed_while_changing_statuses(store_url):
    _killed_writer(store_url, "status")
    _sqlite_sound(store_url)
    with CampaignStore(store_url, campaign="kill") as store:
        assert {c.status for c in store.candidates()} == {CandidateStatus.GENERATED}


def test_killed_while_recording_a_result(store_url):
    _killed_writer(store_url, "result")
    _sqlite_sound(store_url)
    with CampaignStore(store_url, campaign="kill") as store:
        (call,) = store.calls()
        assert call.status == CallStatus.SUBMITTED  # still owed: a resume re-attaches or resubmits
        assert store.find_result("k0") is None
