"""benchmarks/scale.py: the store part's measurements on 1,000 rows, resumability, growth fits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def scale(load_benchmark):
    return load_benchmark("scale")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    "backend",
    ["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])],
)
def test_store_core_on_1000_rows_resumes_and_cleans_up(scale, backend, tmp_path):
    pg = os.environ.get("QAWARE_TEST_POSTGRES_URL")
    if backend == "postgresql" and not pg:
        pytest.skip("QAWARE_TEST_POSTGRES_URL is not set")
    partial = tmp_path / "scale.partial.jsonl"
    scale.store_size(backend, 1_000, partial, tmp_path, pg)
    recs = {r["op"]: r for r in _lines(partial)}
    assert set(recs) == set(scale.STORE_OPS)
    rows = {op: r["rows"] for op, r in recs.items()}
    # the fixed history: 100 scored (10 %), 10 + 10 selected, 10 submitted, 9 done, 1 in flight
    assert rows["insert"] == rows["count_all"] == rows["candidates_all"] == 1_000
    assert rows["count_status"] == 900  # the rest is still `generated`
    assert rows["candidates_selected"] == 10
    assert rows["calls_all"] == 10 and rows["calls_submitted"] == 1
    assert rows["summary"] == 1_000 and rows["db_size"] > 100_000
    assert all(r["seconds"] >= 0 and r["peak_rss_mib"] > 0 for r in recs.values())
    assert not list(tmp_path.glob("qaware_scale_*"))  # DB and marker are gone

    scale.store_size(backend, 1_000, partial, tmp_path, pg)  # all done: nothing measured again
    assert len(_lines(partial)) == len(scale.STORE_OPS)

    kept = [r for r in _lines(partial) if r["op"] != "candidates_all"]  # a run cut short
    partial.write_text("".join(json.dumps(r) + "\n" for r in kept))
    scale.store_size(backend, 1_000, partial, tmp_path, pg)
    again = _lines(partial)
    assert [r["op"] for r in again[len(kept) :]] == ["candidates_all"]  # insert not re-timed
    assert again[-1]["rows"] == 1_000


def test_growth_exponent_and_flags(scale):
    sizes = np.array([1e4, 1e5, 1e6])
    assert scale.growth_exponent(sizes, 3e-5 * sizes) == pytest.approx(1.0)
    assert scale.growth_exponent(sizes, 1e-9 * sizes**2) == pytest.approx(2.0)
    assert scale.growth_exponent([1e4], [1.0]) is None
    records = {}
    for n in (10_000, 100_000):
        for op, sec in (("insert", n / 1e3), ("candidates_all", (n / 1e4) ** 2)):
            records[("store", "sqlite", n, op)] = {"seconds": sec, "rows": n, "peak_rss_mib": 1.0}
    plan = {"score": [], "store": {"sqlite": [10_000, 100_000]}}
    out = scale.summarise(records, plan)
    assert out["worse_than_linear"] == ["store/sqlite/candidates_all"]
    assert out["growth"]["store/sqlite/insert"]["exponent"] == pytest.approx(1.0)
    assert not out["complete"] and "store/sqlite/10000/summary" in out["missing"]


def test_an_insert_cut_short_continues_where_the_store_stands(scale, tmp_path, monkeypatch):
    from qaware.store import CampaignStore

    monkeypatch.setattr(scale, "BATCH", 300)
    progress = tmp_path / "fill.progress.json"
    with CampaignStore(tmp_path / "s.db", campaign="scale") as store:
        first = scale.fill_store(store, 600, progress)  # killed after two batches...
        times = json.loads(progress.read_text())
        assert len(times) == 2 and first == pytest.approx(sum(times))
        progress.write_text(json.dumps(times[:1]))  # ...and before the second was logged
        total = scale.fill_store(store, 1_000, progress)
        assert store.count() == 1_000  # no batch written twice, none missing
        times = json.loads(progress.read_text())
        assert len(times) == 4 and total == pytest.approx(sum(times))
