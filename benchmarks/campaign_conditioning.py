"""Ablation "no descriptor conditioning" (issue 8) on the quick-start campaign.

    OMP_NUM_THREADS=1 python benchmarks/campaign_conditioning.py      # ~15 min, resumable

The quick start (`src/qaware/data/quickstart.yaml`: stand-in ladder GGA+U@SevenNet-MF-0 ->
r2SCAN@SevenNet-MF-0, diffusion generator, qaware acquisition, budget 48) run twice per seed
with the same descriptor-conditioned generator (`benchmarks/models/generator_perov5_q.pt`, the
quick-start model fine-tuned on the shipped proxy's q) and the shipped proxy:

* ``no_conditioning``: λ = 0 (the generator's unconditional branch);
* ``conditioned``: λ = ``--lam`` toward a target q chosen the paper's way, "where the cheap level
  is likely wrong": the mean *GPAW PBE* descriptor vector of the Track X perovskites whose two
  stand-in levels disagree most (top 10 % of |e_form(r2SCAN) - e_form(GGA+U)|; data
  ``data/track_x``, chosen before any campaign ran; none of those cells is a campaign candidate,
  the generator makes new ones).

Per run: hits and discoveries (the campaign's own definitions: E_hull(top) <= 0 against the
quick start's hull; a discovery is a hit not among the known perov-5 cells) per top-level
call, and the mean divergence |e_form(top) - e_form(low)| of the discoveries (does conditioning
find candidates where the ladder diverges?). Seeds 0..``--seeds``-1; mean ± std over seeds.
Each run's directory is kept under ``runs/campaign_conditioning/``; a run whose summary.json
exists is not repeated (delete it to redo).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import REPO, RESULTS, Recorder

Q_MODEL: Final = REPO / "benchmarks" / "models" / "generator_perov5_q.pt"
PROXY: Final = REPO / "src" / "qaware" / "data" / "models" / "proxy_quickstart.pt"
TRACK_X: Final = REPO / "data" / "track_x"
WORK: Final = REPO / "runs" / "campaign_conditioning"
LOW, TOP, DFT = "GGA_plus_U_at_SevenNet_MF_0", "r2SCAN_at_SevenNet_MF_0", "PBE"


def divergent_target(top_share: float = 0.1) -> tuple[np.ndarray, dict[str, Any]]:
    """Mean GPAW PBE q of the Track X perovskites with the largest stand-in |D| (top share)."""
    from qaware.datasets import dataset_file, elemental_references, formation_energies, read_dataset
    from qaware.descriptors import descriptor_vector

    frames = read_dataset(dataset_file(TRACK_X, "track_x"))
    e = {k: formation_energies(frames, k, elemental_references(frames, k, ["ref:element"]))
         for k in (LOW, TOP)}  # fmt: skip
    keys = [f"desc_{b}_{DFT}" for b in ("dos", "gap", "elf", "response")]
    rows = [
        i
        for i, f in enumerate(frames)
        if str(f.info.get("tag", "")).startswith("X3=")
        and f.info.get(f"status_{DFT}") == "ok"
        and all(k in f.info for k in keys)
        and np.isfinite(e[LOW][i])
        and np.isfinite(e[TOP][i])
    ]
    d = np.abs(e[TOP][rows] - e[LOW][rows])
    n = max(1, round(top_share * len(rows)))
    chosen = [rows[j] for j in np.argsort(-d)[:n]]
    q = np.mean([descriptor_vector(*(np.asarray(frames[i].info[k]) for k in keys))
                 for i in chosen], axis=0)  # fmt: skip
    return q, {
        "cells": [frames[i].get_chemical_formula() for i in chosen],
        "abs_d_ev_per_atom": [float(abs(e[TOP][i] - e[LOW][i])) for i in chosen],
        "n_candidates_for_target": len(rows),
        "top_share": top_share,
    }


def config_for(arm: str, lam: float, seed: int, target: Path, run_dir: Path) -> dict[str, Any]:
    """The quick-start config with the conditioned generator, the proxy and this arm's λ."""
    data = REPO / "src" / "qaware" / "data"
    cfg = yaml.safe_load((data / "quickstart.yaml").read_text())
    cfg["run"] = {"name": f"conditioning-{arm}-{seed}", "directory": str(run_dir), "seed": seed}
    gen = cfg["generator"]
    gen.update(checkpoint=str(Q_MODEL), proxy=str(PROXY), lam=lam)
    if lam > 0:
        gen["descriptors"] = str(target)
    camp = cfg["campaign"]
    camp["hull_seeds"] = [str(data / p) for p in camp["hull_seeds"]]
    camp["known_structures"] = [str(data / p) for p in camp["known_structures"]]
    return cfg


def run_one(arm: str, lam: float, seed: int, target: Path) -> dict[str, Any]:
    run_dir = WORK / f"{arm}_seed{seed}"
    summary = run_dir / "summary.json"
    if not summary.exists():
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        config = WORK / f"{arm}_seed{seed}.yaml"
        config.write_text(yaml.safe_dump(config_for(arm, lam, seed, target, run_dir)))
        t0 = time.perf_counter()
        subprocess.run(  # the CLI, as a user runs it; a failure stops the benchmark
            [sys.executable, "-m", "qaware", "run", str(config)],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "QAWARE_NO_PROGRESS": "1"},
        )
        (run_dir / "wall_seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
    data = json.loads(summary.read_text())
    cycles = data["cycles"]
    calls = sum(c["top_calls"] for c in cycles)
    d = [abs(x["e_form_top"] - x["e_form_low"]) for x in data["discoveries"]]
    return {
        "seed": seed,
        "top_calls": calls,
        "hits": sum(c["hits"] for c in cycles),
        "discoveries": len(data["discoveries"]),
        "discoveries_per_call": len(data["discoveries"]) / calls if calls else 0.0,
        "mean_abs_divergence_of_discoveries": float(np.mean(d)) if d else None,
        "stopped": data["stopped"],
    }


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--lam", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=RESULTS / "campaign_conditioning.json")
    args = parser.parse_args()
    target_path = WORK / "target_q.json"
    q, about = divergent_target()
    WORK.mkdir(parents=True, exist_ok=True)
    target_path.write_text(json.dumps({"q": q.tolist(), **about}))
    rec = Recorder(
        "campaign_conditioning",
        seeds={"campaign": list(range(args.seeds))},
        data_files=[Q_MODEL, PROXY, TRACK_X / "track_x.extxyz.gz"],
    )
    arms = {"no_conditioning": 0.0, "conditioned": args.lam}
    runs = {arm: [run_one(arm, lam, s, target_path) for s in range(args.seeds)]
            for arm, lam in arms.items()}  # fmt: skip
    summary = {
        arm: {
            "lam": arms[arm],
            "discoveries_per_call": _mean_std([r["discoveries_per_call"] for r in rs]),
            "hits": _mean_std([r["hits"] for r in rs]),
            "discoveries": _mean_std([r["discoveries"] for r in rs]),
            "mean_abs_divergence_of_discoveries": _mean_std(
                [r["mean_abs_divergence_of_discoveries"] or 0.0 for r in rs]
            ),
        }
        for arm, rs in runs.items()
    }
    ratio = (
        summary["conditioned"]["discoveries_per_call"]["mean"]
        / summary["no_conditioning"]["discoveries_per_call"]["mean"]
    )
    result = {
        "ladder": "STAND-IN: GGA+U@SevenNet-MF-0 -> r2SCAN@SevenNet-MF-0 (not DFT)",
        "target": about,
        "summary": summary,
        "ratio_conditioned_to_unconditioned": ratio,
        "runs": runs,
        "notes": [
            "Same generator weights in both arms (the proxy-conditioned model); λ = 0 is its "
            "unconditional branch. The proxy's cross-validated R² is 0.32 (target 0.9), so "
            "'conditioned' means steered in the proxy's descriptor space.",
            "The quick start's hull lacks binary oxides (none ship offline), so its hit rate is "
            "high for both arms; the comparison is within this setting only.",
        ],
    }
    rec.write(args.out, result)
    print(json.dumps({"summary": summary, "ratio": ratio}, indent=1))


if __name__ == "__main__":
    main()
