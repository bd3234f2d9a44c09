"""Scale: how the campaign's costs grow with the pool and the store, from 10^4 to 10^6 rows.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/scale.py \
        --postgres-url "$(bash scripts/start_postgres.sh)"
    python benchmarks/scale.py --quick              # smoke run: tiny sizes, SQLite only

Two parts, each (part, backend, size, operation) measured once and appended to
``benchmarks/results/scale.partial.jsonl`` the moment it finishes; a rerun skips what is there
(the 10^6-row PostgreSQL insert alone takes ~25 min). ``scale.json`` is rebuilt from the partial
file after every unit of work, and says ``"complete": false`` and what is missing until all is
done. Every (part, backend, size) runs in its own child process, so its peak RSS is its own.

**score** (10^4, 3·10^4, 10^5 candidates): the campaign's own steps on the quick-start config
(benchmarks/campaign_scale.py's synthetic ABO3 pool and set-up): ``prepare`` (references, hull
seeds), ``generate`` with the diffusion sampler replaced by the pool, so what is timed is the
screen (geometry, charge balance, structure hash, novelty against known structures, insert),
``score`` (validator predictions at both levels with σ, diversity, S(x), predicted E_hull,
write-back) and ``select`` (greedy diverse batch).

**store** (10^4, 10^5, 10^6 candidate rows, SQLite and PostgreSQL): ``insert`` (add_candidates
in batches of 10,000 with precomputed hashes; cells from benchmarks/store_throughput.py), then a
fixed-size campaign history (1,000 rows scored, 100 selected, 100 calls of which 90 done and 10
left submitted), then the queries the campaign makes:

* status: ``count()`` and ``count(status=...)`` (generate step, ingest), ``summary()``
  (``qaware status``), ``candidates(status="selected")`` (select and evaluate steps: a small
  state in a big table);
* resume scan, exactly what ``CampaignContext.prepare()`` reads on ``qaware resume``:
  ``calls(status="submitted")`` (counted, then read again by ``OracleRunner.resume``),
  ``calls()`` (``OracleRunner.evaluate`` indexes every call by key) and ``candidates()``
  (every candidate's structure, for the elemental references).

The growth exponent of each operation is the least-squares slope of log(seconds) against
log(size); above 1.15 it is flagged as worse than linear (1.15 leaves room for the noise of a
shared machine). DBs live under ``--workdir`` (/tmp) and are deleted after their size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import RESULTS, Recorder
from _scale_backends import _db_bytes, _drop, _pg, _pg_schema, _row_ids, _store_url
from _scale_records import Meter, read_partial

SCORE_SIZES = (10_000, 100_000, 30_000)  # 10^5 before 3·10^4: two points give a slope
STORE_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SCORE_SIZES = (50, 150)
QUICK_STORE_SIZES = (300, 1_000)
BACKENDS = ("sqlite", "postgresql")
SCORE_OPS = ("prepare", "screen", "score", "select")
STORE_OPS = (
    "insert", "count_all", "count_status", "summary", "candidates_selected",
    "calls_submitted", "calls_all", "candidates_all", "db_size",
)  # fmt: skip
RESUME_SCAN = ("calls_submitted", "calls_submitted", "calls_all", "candidates_all")
"""Store reads of one resume, in order (calls(status="submitted") is read twice)."""
SUPERLINEAR = 1.15
NOTES = (
    "Wall times on 2 cores shared with other jobs (each record has load1, the 1-minute load "
    "average when it finished; loads of 7-12 were common): compare sizes, not machines.",
    "store_before_fix: the same operations measured before the store's candidates()/calls() "
    "selected on one key (commit 2c736f4); every 'store' row is after it. The candidate "
    "insert is batched since commit f573447 and reads ask for ASE's table names once per "
    "transaction since e7c00f4 (both before every 'store' row here).",
    "candidates_all is the resume scan's big read (CampaignContext.prepare lists every "
    "candidate's Atoms for the element set): its peak RSS is the process's.",
    "score rows: prepare = references + hull seeds (constant work); screen = the generate step "
    "with the sampler replaced by the pool (validity, charge balance, structure hash, novelty "
    "by StructureMatcher against known structures, insert); score writes the 5,000-row "
    "shortlist; select picks the batch of 8.",
    "score rows: the screen reduces each structure once (since commit 8f9351e) and runs in one "
    "worker process per core (2 here) for batches of >= 2,000; the earlier single-process, "
    "reduce-every-pair score rows (screen of 10^5: 1,174 s at load 3) are in git history.",
    "Growth exponents fit wall times of runs made at different loads (load1 in each record): "
    "where the loads differ by 2x or more (e.g. score sizes run on different days), the slope "
    "measures the load change, not the code; compare per-candidate times at similar loads.",
)
BATCH = 10_000
SEED = 0


# ---- store ------------------------------------------------------------------------------------
def fill_store(store: Any, size: int, progress: Path, seed: int = SEED) -> float:
    """Insert ``size`` candidate rows in batches of 10,000 (one transaction each); return the
    seconds spent in ``add_candidates`` over all sessions.

    Resumable: after each batch its seconds are appended to ``progress`` (JSON list); a rerun
    continues after the batches the store holds (a batch committed but not yet logged is
    counted at the mean time of the others).
    """
    from store_throughput import make_cells, stand_in_hash

    times = json.loads(progress.read_text()) if progress.exists() else []
    have = -(-store.count() // BATCH) if times else 0  # batches are atomic
    times = (times + [float(np.mean(times))] * have)[:have] if times else []
    for k, start in enumerate(range(0, size, BATCH)):
        if k < have:
            continue
        cells = make_cells(min(BATCH, size - start), seed=seed * 100_003 + k)
        hashes = ["s" + stand_in_hash(a) for a in cells]  # a bare hex digest can read as a float
        t0 = time.perf_counter()
        store.add_candidates(cells, cycle=1 + start // 100_000, origin="scale", hashes=hashes)
        times.append(time.perf_counter() - t0)
        progress.write_text(json.dumps(times))
    return float(sum(times))


def campaign_history(store: Any, ids: list[int], seed: int = SEED) -> None:
    """A fixed-size history on top of the pool: 1,000 scored, 110 selected, 100 of them submitted
    to the top oracle, 90 of those done (call rows with results), 10 left submitted (a killed
    run). Spread over the ids of the candidate rows (``ids``, ascending)."""
    from qaware.oracles.result import OracleResult
    from qaware.store import oracle_call_key

    rng = np.random.default_rng(seed)
    m = min(1_000, len(ids) // 10)
    ids = sorted(ids[int(i)] for i in rng.choice(len(ids), size=m, replace=False))
    store.update_candidates(ids, "scored", [{"score": float(s)} for s in rng.random(m)])
    picked = ids[: m // 10 + 10]
    store.update_candidates(picked, "selected", [{"selected_cycle": 1}] * len(picked))
    chosen = picked[: m // 10]
    settings = "scale-bench-settings"
    for j, cid in enumerate(chosen):
        rec = store.get(cid)
        key = oracle_call_key(rec.structure_hash, settings)
        store.set_status([cid], "submitted")
        store.begin_call(cid, rec.atoms, oracle_key=key, level="top", handle=f"job{j}")
        if j % 10:  # one in ten stays in flight
            res = OracleResult(ok=True, level="top", energy=-40.0 - 1e-3 * j,
                               forces=np.zeros((len(rec.atoms), 3)), stress=np.zeros(6),
                               settings_hash=settings, code="scale-bench")  # fmt: skip
            store.record_result(cid, key, res)
            store.set_status([cid], "done")


def store_size(backend: str, size: int, partial: Path, workdir: Path, pg: str | None) -> None:
    """Every STORE_OPS measurement of one (backend, size) that the partial file lacks."""
    from qaware.store import CampaignStore

    meter = Meter(partial, "store", backend, size)
    if all(op in meter.done for op in STORE_OPS):
        return
    url = _store_url(backend, size, workdir, pg)
    ready = workdir / f"qaware_scale_{backend}_{size}.ready"  # DB filled and history written
    progress = workdir / f"qaware_scale_{backend}_{size}.progress.json"  # batches inserted
    if not ready.exists():
        if not progress.exists():  # nothing to continue: a fresh DB
            _drop(backend, size, workdir, pg)
            if backend == "postgresql":
                _pg(pg, f"CREATE SCHEMA {_pg_schema(size)}")  # type: ignore[arg-type]
        with CampaignStore(url, campaign="scale") as store:
            if "insert" in meter.done:  # the DB was lost; its insert is measured already
                fill_store(store, size, progress)
            else:
                meter("insert", lambda: fill_store(store, size, progress), lambda _: size,
                      seconds=lambda spent: spent)  # fmt: skip
            campaign_history(store, _row_ids(backend, size, workdir, pg))
        ready.touch()
        progress.unlink()
    with CampaignStore(url, campaign="scale") as s:
        ops: dict[str, tuple[Callable[[], Any], Callable[[Any], int]]] = {
            "count_all": (s.count, lambda n: n),
            "count_status": (lambda: s.count(status="generated"), lambda n: n),
            "summary": (s.summary, lambda d: sum(sum(v.values()) for v in d.values())),
            "candidates_selected": (lambda: list(s.candidates(status="selected")), len),
            "calls_submitted": (lambda: list(s.calls(status="submitted")), len),
            "calls_all": (lambda: {c.oracle_key: c for c in s.calls()}, len),
            "candidates_all": (lambda: [c.atoms for c in s.candidates()], len),
            "db_size": (lambda: _db_bytes(backend, size, workdir, pg), lambda b: b),
        }
        for op, (fn, rows) in ops.items():
            if op not in meter.done:
                meter(op, fn, rows)
    _drop(backend, size, workdir, pg)
    ready.unlink()


# ---- score pipeline ---------------------------------------------------------------------------
class PoolGenerator:
    """Hands the campaign a fixed pool instead of sampling (the screen onward is what is timed)."""

    def __init__(self, pool: list[Any]) -> None:
        self.pool = pool

    def sample(self, n: int, *, seed: int, conditions: Any = None) -> list[Any]:
        return self.pool[:n]


def score_size(size: int, partial: Path, workdir: Path) -> None:
    """prepare → generate (screen) → score → select on ``size`` synthetic candidates."""
    import shutil

    import torch

    from campaign_scale import synthetic_pool
    from qaware.campaign.components import build_components
    from qaware.campaign.context import CampaignContext
    from qaware.campaign.state import CampaignState
    from qaware.campaign.steps import generate, score, select
    from qaware.config_io import load_config
    from qaware.ingest import open_run_directory

    torch.set_num_threads(1)
    meter = Meter(partial, "score", "sqlite", size)
    if all(op in meter.done for op in SCORE_OPS):
        return
    qs = Path(__file__).resolve().parents[1] / "src" / "qaware" / "data" / "quickstart.yaml"
    cfg = load_config(qs)
    cfg.run.directory = workdir / f"qaware_scale_score_{size}"
    cfg.campaign.candidates_per_cycle = size
    shutil.rmtree(cfg.run.directory, ignore_errors=True)  # a cut-short size is redone whole
    try:
        run = open_run_directory(cfg)
        parts = build_components(cfg, qs.parent)
        parts.generator = PoolGenerator(synthetic_pool(size, SEED))
        with run.store() as store:
            ctx = CampaignContext(cfg, run, store, parts, CampaignState(), qs.parent)
            meter("prepare", ctx.prepare, lambda _: len(ctx.seed_entries))
            meter("screen", lambda: generate(ctx), lambda _: store.count())
            meter("score", lambda: score(ctx), lambda _: store.count(status="scored"))
            meter("select", lambda: select(ctx), lambda _: store.count(status="selected"))
            ctx.close()
    finally:
        shutil.rmtree(cfg.run.directory, ignore_errors=True)


# ---- assembly ---------------------------------------------------------------------------------
def growth_exponent(sizes: Iterable[float], seconds: Iterable[float]) -> float | None:
    """Least-squares slope of log(seconds) against log(size); None with fewer than 2 sizes."""
    x, y = np.log(np.asarray(list(sizes), float)), np.log(np.asarray(list(seconds), float))
    if len(x) < 2 or np.ptp(x) == 0:
        return None
    return float(np.polyfit(x, y, 1)[0])


def summarise(
    records: dict[tuple[str, str, int, str], dict[str, Any]], plan: dict[str, Any]
) -> dict[str, Any]:
    """Tables by part/backend/op/size, growth exponents with flags, the resume-scan sum, and
    what is still missing from ``plan`` (``{"score": sizes, "store": {backend: sizes}}``)."""
    table: dict[str, Any] = {}
    for (part, backend, size, op), rec in sorted(records.items()):
        if part == "store" and op == "db_size":
            table.setdefault(part, {}).setdefault(backend, {}).setdefault("db_bytes", {})[
                str(size)] = rec["rows"]  # fmt: skip
            continue
        cell = {k: rec[k] for k in ("seconds", "rows", "peak_rss_mib")}
        if rec["seconds"] > 0 and op not in ("summary",):
            cell["rows_per_s"] = round(rec["rows"] / rec["seconds"], 1) if rec["rows"] else None
        table.setdefault(part, {}).setdefault(backend, {}).setdefault(op, {})[str(size)] = cell
    score = table.get("score", {}).get("sqlite", {})
    for n in sorted({n for op in SCORE_OPS for n in score.get(op, {})}, key=int):
        if all(n in score.get(op, {}) for op in SCORE_OPS):  # the whole pipeline at size n
            cells = [score[op][n] for op in SCORE_OPS]
            score.setdefault("total", {})[n] = {
                "seconds": round(sum(c["seconds"] for c in cells), 3), "rows": int(n),
                "peak_rss_mib": max(c["peak_rss_mib"] for c in cells)}  # fmt: skip
    growth, flagged = {}, []
    for part, by_backend in table.items():
        for backend, by_op in by_backend.items():
            for op, by_size in by_op.items():
                if op == "db_bytes":
                    pts = {int(n): v for n, v in by_size.items() if v > 0}
                else:
                    pts = {int(n): c["seconds"] for n, c in by_size.items() if c["seconds"] > 0}
                slope = growth_exponent(pts, pts.values()) if len(pts) > 1 else None
                if slope is None:
                    continue
                name = f"{part}/{backend}/{op}"
                growth[name] = {"exponent": round(slope, 3), "sizes": sorted(pts),
                                "worse_than_linear": slope > SUPERLINEAR}  # fmt: skip
                if slope > SUPERLINEAR:
                    flagged.append(name)
    resume = {}
    for backend, by_op in table.get("store", {}).items():
        sizes = set.intersection(*(set(by_op.get(op, {})) for op in set(RESUME_SCAN)))
        resume[backend] = {n: round(sum(by_op[op][n]["seconds"] for op in RESUME_SCAN), 3)
                           for n in sorted(sizes, key=int)}  # fmt: skip
    missing = [f"score/{n}/{op}" for n in plan["score"] for op in SCORE_OPS
               if ("score", "sqlite", n, op) not in records]  # fmt: skip
    missing += [f"store/{b}/{n}/{op}" for b, sizes in plan["store"].items() for n in sizes
                for op in STORE_OPS if ("store", b, n, op) not in records]  # fmt: skip
    # A planned score size not measured: scaled from the largest measured one, linearly unless
    # the fit is steeper (wall times under a varying load make flatter fits unreliable).
    extrapolated = {}
    for n in plan["score"]:
        for op, by_size in score.items():
            fit = growth.get(f"score/sqlite/{op}")
            if str(n) not in by_size and fit is not None:
                n0 = max(int(m) for m in by_size)
                k = max(1.0, fit["exponent"])
                t = by_size[str(n0)]["seconds"] * (n / n0) ** k
                extrapolated[f"score/{op}/{n}"] = {"seconds": round(t, 1), "from_size": n0,
                                                   "exponent_used": k}  # fmt: skip
    return {"complete": not missing, "missing": missing, "measurements": table,
            "extrapolated_not_measured": extrapolated,
            "resume_scan_s": resume, "growth": growth, "worse_than_linear": flagged,
            "superlinear_threshold": SUPERLINEAR}  # fmt: skip


# ---- driver -----------------------------------------------------------------------------------
def _worker(args: argparse.Namespace) -> None:
    part, backend, size = args.worker.split(":")
    if part == "score":
        score_size(int(size), args.partial, args.workdir)
    else:
        store_size(backend, int(size), args.partial, args.workdir, args.postgres_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--part", choices=("score", "store", "all"), default="all")
    parser.add_argument("--postgres-url", default=None, help="postgresql://... (skip if absent)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="store backends to run")
    parser.add_argument("--score-sizes", default=None, help="comma list overriding the default")
    parser.add_argument("--store-sizes", default=None, help="comma list overriding the default")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--assemble-only", action="store_true")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--partial", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    stem = "scale_quick" if args.quick else "scale"
    args.out = args.out or RESULTS / f"{stem}.json"
    args.partial = args.partial or args.out.with_suffix(".partial.jsonl")
    if args.worker:
        return _worker(args)
    rec = Recorder("scale", seeds={"pool": SEED, "store_cells": SEED, "history": SEED})
    wanted = args.backends.split(",")
    backends = [b for b in BACKENDS if b in wanted and (b == "sqlite" or args.postgres_url)]
    score_sizes = QUICK_SCORE_SIZES if args.quick else SCORE_SIZES
    store_sizes = QUICK_STORE_SIZES if args.quick else STORE_SIZES
    if args.score_sizes:
        score_sizes = tuple(int(n) for n in args.score_sizes.split(","))
    if args.store_sizes:
        store_sizes = tuple(int(n) for n in args.store_sizes.split(","))
    plan: dict[str, Any] = {"score": list(score_sizes) if args.part != "store" else []}
    plan["store"] = {b: list(store_sizes) for b in backends} if args.part != "score" else {}
    units = [f"score:sqlite:{n}" for n in plan["score"]]
    units += [f"store:{b}:{n}" for n in store_sizes for b in plan["store"]]
    for unit in [] if args.assemble_only else units:
        print(f"[scale] {unit}", flush=True)
        cmd = [sys.executable, __file__, "--worker", unit, "--partial", str(args.partial),
               "--workdir", str(args.workdir)] + (["--postgres-url", args.postgres_url]
                                                  if args.postgres_url else [])  # fmt: skip
        status = subprocess.run(cmd, check=False).returncode
        if status:
            print(f"[scale] {unit} failed (exit {status}); going on", flush=True)
        write(rec, args, plan)
    path = write(rec, args, plan)
    print(path.read_text())


def write(rec: Recorder, args: argparse.Namespace, plan: dict[str, Any]) -> Path:
    res = summarise(read_partial(args.partial), plan)
    measured_pg = "postgresql" in res["measurements"].get("store", {})
    res = {"quick": bool(args.quick), "notes": list(NOTES), "postgres": measured_pg, **res}
    return rec.write(args.out, res)


if __name__ == "__main__":
    main()
