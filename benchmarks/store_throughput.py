"""Throughput of the campaign store with 100,000 candidate rows, on SQLite and PostgreSQL.

    OMP_NUM_THREADS=1 python benchmarks/store_throughput.py --rows 100000 \
        --postgres-url "$(scripts/start_postgres.sh)"

Candidates are 5-atom ABO3 cells (SrTiO3 composition, cubic-ish lattice 3.7-4.2 Å, random
fractional positions; seeded). Measured per backend, each step one store call unless said:

* insert_with_hashing: ``add_candidates`` on the first ``--hash-sample`` cells, hashing inside;
* insert: the remaining rows in batches of ``--batch`` (one transaction each) with precomputed
  hashes, so the timing is the store's alone. Hashing is timed separately (``hashing``): the
  canonical structure hash costs milliseconds per cell and dominates an end-to-end insert. The
  precomputed hashes of the bulk rows are stand-ins (sha256 of cell + positions; unique for
  random cells): the store treats any hash string alike;
* dedupe_readd: ``add_candidates`` of ``--batch`` rows already stored (no new rows);
* count / summary; query_all: iterate ``candidates(status="generated")`` over every row;
* set_status: ``--batch`` rows generated -> scored with two score fields, in one call;
* query_scored: iterate ``candidates(status="scored")``;
* calls_write: ``begin_call`` + ``record_result`` (energy, forces, stress) for ``--calls`` rows;
* okey_lookup: ``find_result`` for every done key and as many absent keys.

PostgreSQL runs in a fresh schema of the given database, dropped afterwards.
Writes benchmarks/results/store.json (with provenance, see _provenance.py).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from ase import Atoms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import RESULTS, Recorder
from qaware.oracles.result import OracleResult
from qaware.store import CampaignStore, oracle_call_key
from qaware.structures.hashing import structure_hash

SETTINGS = "bench-settings"


def make_cells(n: int, seed: int) -> list[Atoms]:
    """``n`` random 5-atom SrTiO3-composition cells (distinct with probability 1)."""
    rng = np.random.default_rng(seed)
    lengths = 3.7 + 0.5 * rng.random(n)
    frac = rng.random((n, 5, 3))
    return [
        Atoms("SrTiO3", scaled_positions=frac[i], cell=np.eye(3) * lengths[i], pbc=True)
        for i in range(n)
    ]


def stand_in_hash(atoms: Atoms) -> str:
    return hashlib.sha256(atoms.cell[:].tobytes() + atoms.positions.tobytes()).hexdigest()[:32]


def timed(rows: int, fn, *args, **kwargs) -> tuple[dict[str, Any], Any]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    dt = time.perf_counter() - t0
    return {"rows": rows, "seconds": round(dt, 3), "rows_per_s": round(rows / dt, 1)}, out


def run_backend(url: str, cells: list[Atoms], hashes: list[str], args) -> dict[str, Any]:
    res: dict[str, Any] = {}
    n, s, b = len(cells), args.hash_sample, args.batch
    with CampaignStore(url, campaign="bench") as store:
        res["insert_with_hashing"], ids = timed(s, store.add_candidates, cells[:s], cycle=0)
        hashes[:s] = [store.get(i).structure_hash for i in ids[:s]]  # the real ones

        def bulk() -> list[int]:
            out = []
            for k, start in enumerate(range(s, n, b)):
                stop = min(start + b, n)
                out += store.add_candidates(
                    cells[start:stop], cycle=1 + k, hashes=hashes[start:stop]
                )
            return out

        res["insert"], more = timed(n - s, bulk)
        res["insert"]["transactions"] = len(range(s, n, b))
        ids += more
        assert store.count() == n, "every distinct cell must be one row"

        res["dedupe_readd"], again = timed(b, store.add_candidates, cells[:b], cycle=99,
                                           hashes=hashes[:b])  # fmt: skip
        assert again == ids[:b]
        assert store.count() == n
        res["count"], total = timed(n, store.count, status="generated")
        assert total == n
        res["summary"], summary = timed(n, store.summary)
        assert sum(sum(v.values()) for v in summary.values()) == n
        res["query_all"], seen = timed(
            n, lambda: sum(1 for _ in store.candidates(status="generated"))
        )
        assert seen == n

        rng = np.random.default_rng(args.seed)
        chosen = [ids[i] for i in sorted(rng.choice(n, size=min(b, n), replace=False))]
        fields = {"D_signed": 0.25, "score": 0.5}
        res["set_status"], _ = timed(len(chosen), store.set_status, chosen, "scored", fields=fields)
        res["query_scored"], got = timed(
            len(chosen), lambda: [r.id for r in store.candidates(status="scored")]
        )
        assert got == chosen

        c = min(args.calls, n)
        keys = [oracle_call_key(hashes[i], SETTINGS) for i in range(c)]

        def calls() -> None:
            for i in range(c):
                store.begin_call(
                    ids[i], cells[i], oracle_key=keys[i], level="PBE", handle=f"job{i}"
                )
                result = OracleResult(ok=True, level="PBE", energy=-40.0 - i * 1e-3,
                                      forces=np.full((5, 3), 0.01), stress=np.zeros(6),
                                      settings_hash=SETTINGS, code="bench")  # fmt: skip
                store.record_result(ids[i], keys[i], result)

        res["calls_write"], _ = timed(c, calls)
        res["calls_write"]["note"] = "rows = calls; each is begin_call + record_result"
        absent = [oracle_call_key(f"absent{i}", SETTINGS) for i in range(c)]

        def lookups() -> None:
            for i, key in enumerate(keys):
                assert store.find_result(key).energy == -40.0 - i * 1e-3
            for key in absent:
                assert store.find_result(key) is None

        res["okey_lookup"], _ = timed(2 * c, lookups)
        res["okey_lookup"]["note"] = "half present (done), half absent"
    return res


def postgres_schema(base: str) -> tuple[str, Any]:
    """A fresh schema in ``base``: (URL that selects it, drop function) and server facts."""
    import psycopg2

    schema = f"qaware_bench_{uuid.uuid4().hex[:10]}"
    con = psycopg2.connect(base)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"

    def facts_and_drop() -> dict[str, Any]:
        with con.cursor() as cur:
            facts = {}
            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers"):
                cur.execute(f"SHOW {name}")
                facts[name] = cur.fetchone()[0]
            cur.execute(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "AND c.relkind = 'r'",
                (schema,),
            )
            facts["db_bytes"] = int(cur.fetchone()[0] or 0)
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        con.close()
        return facts

    return url, facts_and_drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="rows per add_candidates call")
    parser.add_argument("--hash-sample", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=1_000)
    parser.add_argument("--postgres-url", default=None, help="postgresql://... (skip if absent)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "store.json")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    args.hash_sample = min(args.hash_sample, args.rows)
    rec = Recorder("store_throughput", seeds={"structures": args.seed, "selection": args.seed})

    cells = make_cells(args.rows, args.seed)
    hashing, _ = timed(
        args.hash_sample, lambda: [structure_hash(a) for a in cells[: args.hash_sample]]
    )
    hashing["ms_per_structure"] = round(1e3 * hashing["seconds"] / args.hash_sample, 3)
    hashes = [stand_in_hash(a) for a in cells]
    assert len(set(hashes)) == len(hashes)
    results: dict[str, Any] = {
        "rows": args.rows, "batch": args.batch, "hash_sample": args.hash_sample,
        "calls": args.calls, "hashing": hashing,
    }  # fmt: skip

    db = args.workdir / f"qaware_store_bench_{uuid.uuid4().hex[:8]}.db"
    print(f"SQLite: {db}", flush=True)
    try:
        results["sqlite"] = run_backend(str(db), cells, list(hashes), args)
        results["sqlite"]["db_bytes"] = db.stat().st_size
    finally:
        db.unlink(missing_ok=True)
    if args.rows >= 100_000:
        results["sqlite"]["target_100k_insert_under_60s"] = (
            results["sqlite"]["insert"]["seconds"] < 60
        )
    if args.postgres_url:
        print("PostgreSQL", flush=True)
        url, finish = postgres_schema(args.postgres_url)
        try:
            results["postgresql"] = run_backend(url, cells, list(hashes), args)
        finally:
            results.setdefault("postgresql", {})["server"] = finish()
    else:
        results["postgresql"] = {"skipped": "no --postgres-url given"}
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    path = rec.write(args.out, results)
    print(path.read_text())


if __name__ == "__main__":
    main()
