"""CampaignStore passes the shared Store conformance check on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from qaware.protocols import Store
from qaware.store import CampaignStore
from qaware.structures import read_structures
from qaware.testing import check_store

FIXTURE = Path(__file__).resolve().parents[2] / "data/structures/perov_5_val_20.csv"


def test_campaign_store_meets_the_store_contract(store_url):
    structures = list(read_structures(FIXTURE))[:4]
    with CampaignStore(store_url, campaign="contract") as store:
        assert isinstance(store, Store)
        check_store(store, structures)
