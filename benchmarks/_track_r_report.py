"""Track R's results: campaign units pooled into metrics per strategy (mean ± std over seeds),
the notes and the short markdown file; apart from the campaign loop (``campaign_track_r.py``)."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from qaware.metrics.discovery import classification, divergence_r2, top_level_ece


def _metrics(units: list[dict[str, Any]], strategy: str) -> dict[str, float]:
    """One seed's campaign metrics for ``strategy``, pooled over the folds of a split."""
    sel, pos, d_eval, e_eval, d_pool, e_pool = [], [], [], [], [], []
    top_eval: list[list[float]] = []  # (predicted, true, σ) of the evaluated candidates
    hits = calls = 0
    cost = wall = oracle = 0.0
    for u in units:
        c, err = u["campaigns"][strategy], np.array(u["true_error"])
        mask = np.zeros(u["n_pool"], bool)
        mask[c["picked"]] = True
        sel.append(mask)
        pos.append(np.array(u["positive"], bool))
        d_eval += c["d_eval"]
        e_eval += err[c["picked"]].tolist()
        d_pool += c["d_pool"]
        top_eval += c.get("top_eval", [])
        e_pool += err.tolist()
        hits, calls = hits + sum(c["hits"]), calls + len(c["picked"])
        cost, wall, oracle = cost + c["cost"], wall + c["wall_s"], oracle + c["oracle_s"]
    cls = classification(np.concatenate(sel), np.concatenate(pos))
    de, ee, dp, ep = (np.array(x) for x in (d_eval, e_eval, d_pool, e_pool))
    top = np.array(top_eval, float).reshape(-1, 3)
    return {
        "hits": hits,
        "calls": calls,
        "hits_per_call": hits / calls if calls else 0.0,
        "cost": cost,
        "hits_per_1000_cost": 1000 * hits / cost,
        "precision": cls.precision,
        "recall": cls.recall,
        "f1": cls.f1,
        "daf": cls.daf,
        "r2_signed_evaluated": divergence_r2(de, ee),
        "r2_abs_evaluated": divergence_r2(abs(de), abs(ee)),
        "r2_signed_pool": divergence_r2(dp, ep),
        "r2_abs_pool": divergence_r2(abs(dp), abs(ep)),
        "ece_top_evaluated": top_level_ece(top[:, 0], top[:, 1], top[:, 2]),
        "wall_s": wall,
        "oracle_s": oracle,
    }


def summarise(units: list[dict[str, Any]], strategies: tuple[str, ...]) -> dict[str, Any]:
    """Mean ± std over seeds per strategy, and the ratios the targets are stated in."""
    seeds = sorted({u["seed"] for u in units})
    first = [u for u in units if u["seed"] == seeds[0]]
    out: dict[str, Any] = {
        "folds": {
            u["fold"]: {k: u[k] for k in ("n_pool", "budget", "batch", "n_seed_rows")}
            | {"n_positive": int(sum(u["positive"]))}
            for u in first
        },
        "seeds": seeds,
        "strategies": {},
    }
    per_seed = {
        s: [_metrics([u for u in units if u["seed"] == k], s) for k in seeds] for s in strategies
    }
    for s, rows in per_seed.items():
        out["strategies"][s] = {
            key: {
                "mean": float(np.nanmean(v)) if np.isfinite(v).any() else None,
                "std": float(np.nanstd(v)) if np.isfinite(v).any() else None,
            }
            for key in rows[0]
            for v in [np.array([r[key] for r in rows], float)]
        }
    hpc = {s: out["strategies"][s]["hits_per_call"]["mean"] for s in strategies}
    out["ratios"] = {
        f"{s}/{b}": (hpc[s] / hpc[b] if hpc[b] else None)
        for s in ("qaware", "qaware_abs", "divergence_signed", "screen_true")
        for b in ("dft_only", "random")
        if s in hpc and b in hpc
    }
    campaigns = [c for u in units for c in u["campaigns"].values()]
    out["time_s"] = {  # summed over folds and seeds, so a resumed run still reports it
        "compute": sum(u["setup_s"] for u in units) + sum(c["wall_s"] for c in campaigns),
        "oracle": sum(c["oracle_s"] for c in campaigns),
    }
    out["targets"] = targets(out["ratios"].get("qaware/dft_only"), hpc.get("dft_only"))
    return out


RATIO_TARGET: Final = 3.0  # issue: qaware finds ≥ 3× the discoveries per top-level call of dft_only


def targets(ratio: float | None, dft_only_hpc: float | None) -> dict[str, Any]:
    """The issue's targets and whether this run meets them, in the result file itself.

    The ratio is undefined (None) when dft_only finds nothing; qaware then meets the target
    only by finding something, which the verdict states. The ≤ 2 % overhead target cannot be
    judged on a replay: its oracle "calls" are table look-ups (``time_s`` shows it)."""
    if ratio is not None:
        met: bool | None = ratio >= RATIO_TARGET
        note = f"qaware/dft_only = {ratio:.2f}"
    elif dft_only_hpc == 0:
        met, note = None, "dft_only found no hit: the ratio is undefined"
    else:
        met, note = None, "no dft_only arm or no qaware arm"
    return {
        "qaware_over_dft_only": {"target": RATIO_TARGET, "value": ratio, "met": met, "note": note},
        "overhead_fraction_of_oracle_time": {
            "target": 0.02,
            "met": None,
            "note": "not assessable on a replay: its oracle calls are table look-ups "
            "(see benchmarks/results/campaign_live_gpaw.json for a live campaign's split)",
        },
    }


_NA: Final[dict[str, float | None]] = {"mean": None, "std": None}


def _cell(stat: dict[str, float | None], digits: int = 3) -> str:
    m, s = stat["mean"], stat["std"]
    return "n/a" if m is None else f"{m:.{digits}f} ± {s:.{digits}f}"


def markdown(doc: dict[str, Any]) -> str:
    """The short result file: one table per track and split, the command and the data sha256."""
    prov, res = doc["provenance"], doc["results"]
    lines = [
        "# Track R replay campaigns (benchmarks/campaign_track_r.py)",
        "",
        f"Command: `{prov['command']}` (commit {(prov.get('git') or {}).get('commit', '?')}, "
        f"this invocation {prov['wall_time_s']:.0f} s wall, {prov['machine']['cpu_model']}, "
        "no GPU; units already in the .partial.jsonl cache are reused).",
        "",
    ]
    lines += [f"- `{f['path']}` sha256 `{f['sha256']}`" for f in prov["data_files"]]
    lines += ["", res["notes"], ""]
    for key, split in res["splits"].items():
        lines += [
            f"## {key}",
            "",
            "folds: "
            + ", ".join(
                f"{n} (pool {f['n_pool']}, hits {f['n_positive']}, budget {f['budget']})"
                for n, f in split["folds"].items()
            ),
            "",
        ]
        lines += [
            "| strategy | hits/call | hits | hits per 1000 cost | F1 | DAF "
            "| R²(D) eval | R²(D) pool | R²(abs D) eval | R²(abs D) pool | ECE eval | wall s |",
            "|" + "---|" * 12,
        ]
        for s, m in split["strategies"].items():
            lines.append(
                f"| {s} | {_cell(m['hits_per_call'])} | {_cell(m['hits'], 1)} | "
                f"{_cell(m['hits_per_1000_cost'])} | {_cell(m['f1'])} | {_cell(m['daf'], 2)} | "
                f"{_cell(m['r2_signed_evaluated'], 2)} | {_cell(m['r2_signed_pool'], 2)} | "
                f"{_cell(m['r2_abs_evaluated'], 2)} | {_cell(m['r2_abs_pool'], 2)} | "
                f"{_cell(m.get('ece_top_evaluated', _NA), 3)} | "
                f"{_cell(m['wall_s'], 1)} |"
            )
        ratios = ", ".join(
            f"{k} {v:.2f}" if v is not None else f"{k} n/a (the baseline found 0)"
            for k, v in split["ratios"].items()
        )
        t = split["time_s"]
        verdict = (split.get("targets") or {}).get("qaware_over_dft_only")
        target = (
            ""
            if verdict is None
            else f" Target qaware/dft_only ≥ {verdict['target']:g}: "
            + {True: "met", False: "not met", None: "undecided"}[verdict["met"]]
            + f" ({verdict['note']})."
        )
        lines += [
            "",
            f"Ratios of mean hits per top-level call: {ratios}.{target}",
            "",
            f"Time (all strategies, folds and seeds): {t['compute']:.0f} s of computing, of which "
            f"{t['oracle']:.3f} s in replay-oracle calls (table look-ups).",
            "",
        ]
    return "\n".join(lines) + "\n"


NOTES: Final = (
    "Hits per top-level (experiment) call, mean ± std over seeds; each fold's budget is 10 % of "
    "its pool. Cost model: lowest level 1 per call (bought for the whole pool), SCAN-like 3, "
    "HSE06 30, experiment 100 per selected candidate. R²(D) is the squared Pearson r between the "
    "validator's signed divergence (low − predicted top) and the true low-level error (low − "
    "experiment) on the evaluated candidates and on the whole pool; ECE eval is the regression ECE "
    "of the predicted top-level value and σ against the top-level result of the evaluated "
    "candidates (a single-level validator's own σ stands for the top's). Model-free strategies "
    "use the cycle-0 validator. See the script's docstring for the split, seed set and hit rules."
)
