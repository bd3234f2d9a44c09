"""Read one run directory into :class:`~qaware.report.data.CampaignData`, read-only.

Works on a finished run and on one still running: the store is only read (one connection,
closed at the end), ``campaign_state.json`` is replaced atomically by the driver so it is read
whole or not at all, and a cycle that has not finished simply has fewer numbers. Nothing in the
run directory is written.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from qaware.report.data import CampaignData, CycleTable, LabelledTable, LevelInfo

__all__ = ["MAX_STRUCTURES_PER_CYCLE", "collect_campaign", "cycle_close_packed"]

MAX_STRUCTURES_PER_CYCLE = 200
"""Close-packed share is measured on at most this many of a cycle's candidates (about 10 ms
each); more are subsampled with a fixed seed."""

log = logging.getLogger("qaware.report")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _levels(config: dict[str, Any]) -> tuple[list[dict[str, Any]], str, str]:
    fids = list(config.get("fidelities") or [])
    names = [f["name"] for f in fids]
    if not names:
        names = [o["level"] for o in config.get("oracles") or []]
        fids = [{"name": n} for n in names]
    top = names[-1] if names else "top"
    low = (config.get("validator") or {}).get("low_level") or (names[0] if names else "low")
    return fids, low, top


def cycle_close_packed(
    run_dir: Path, cycle: int, *, limit: int = MAX_STRUCTURES_PER_CYCLE
) -> float:
    """Close-packed share of the candidates generated in ``cycle`` (NaN if none are stored)."""
    import ase.io

    from qaware.metrics.generation import close_packed_share

    path = run_dir / "cycles" / f"cycle_{cycle:04d}" / "generated.extxyz"
    if not path.exists() or path.stat().st_size == 0:
        return float("nan")
    structures = ase.io.read(path, index=":", format="extxyz")
    if not isinstance(structures, list) or not structures:
        return float("nan")
    if len(structures) > limit:
        pick = np.random.default_rng(cycle).choice(len(structures), size=limit, replace=False)
        structures = [structures[i] for i in sorted(pick)]
    return float(close_packed_share(structures))


def _cycles(run_dir: Path, history: list[dict[str, Any]], trap: bool) -> CycleTable:
    rows = sorted(history, key=lambda h: h["cycle"])
    col = lambda key: np.array([float(h.get(key) or 0.0) for h in rows])  # noqa: E731
    novelty = []
    for h in rows:  # needs the count of samples dropped as known, when the run records it
        known = h.get("known")
        valid = float(h.get("generated", 0)) - float(h.get("rejected", 0)) + float(known or 0)
        novelty.append(1.0 - known / valid if known is not None and valid > 0 else np.nan)
    cycles = np.array([int(h["cycle"]) for h in rows], dtype=int)
    close = [cycle_close_packed(run_dir, int(c)) if trap else np.nan for c in cycles]
    return CycleTable(
        cycle=cycles,
        generated=col("generated"),
        new_candidates=col("new_candidates"),
        top_calls=col("top_calls"),
        failed_calls=col("failed_calls"),
        hits=col("hits"),
        discoveries=col("discoveries"),
        oracle_time_s=col("oracle_time_s"),
        other_time_s=col("other_time_s"),
        novelty=np.array(novelty, dtype=float),
        close_packed=np.array(close, dtype=float),
    )


def _labelled(records: list[Any]) -> LabelledTable:
    def num(key: str) -> np.ndarray:
        return np.array([float(r.key_value_pairs.get(key, np.nan)) for r in records])

    def flag(key: str) -> np.ndarray:
        return np.array([bool(r.key_value_pairs.get(key, False)) for r in records], dtype=bool)

    return LabelledTable(
        id=np.array([r.id for r in records], dtype=int),
        formula=[r.atoms.get_chemical_formula(mode="metal") for r in records],
        cycle=np.array(
            [int(r.key_value_pairs.get("selected_cycle", r.cycle)) for r in records], dtype=int
        ),
        pred_e_low=num("pred_e_low"),
        pred_e_top=num("pred_e_top"),
        pred_sigma_top=num("pred_sigma_top"),
        pred_e_hull_top=num("pred_e_hull_top"),
        div=num("div"),
        e_form_low=num("e_form_low"),
        e_form_top=num("e_form_top"),
        e_hull_top=num("e_hull_top"),
        hit=flag("hit"),
        discovery=flag("discovery"),
        atoms=[r.atoms for r in records],
    )


def _checksums(run_dir: Path, config: dict[str, Any]) -> dict[str, str]:
    """sha256 of the recorded config, saved models and the data files the config names."""
    from qaware._canonical import file_sha256

    out: dict[str, str] = {}
    sha = run_dir / "config.sha256"
    if sha.exists():
        out["config (canonical JSON)"] = sha.read_text().split()[0]
    for side in sorted((run_dir / "models").glob("*.sha256")):
        if side.name.endswith(".new.sha256"):
            continue
        parts = side.read_text().split()
        if len(parts) >= 2:
            out[f"models/{parts[1]}"] = parts[0]
    base = Path(_read_json(run_dir / "base_dir.json").get("base_dir", run_dir))
    camp, gen, val = (config.get(k) or {} for k in ("campaign", "generator", "validator"))
    files = [*camp.get("hull_seeds", []), *camp.get("known_structures", []),
             *camp.get("calibration_structures", []), *gen.get("structures", []),
             gen.get("checkpoint"), val.get("checkpoint")]  # fmt: skip
    for name in files:
        if not name:
            continue
        path = Path(name) if Path(name).is_absolute() else base / name
        if path.is_file():
            out[str(name)] = file_sha256(path)
        elif (packaged := _packaged(str(name))) is not None:
            out[f"{name} (bundled)"] = file_sha256(packaged)
    return out


def _packaged(name: str) -> Path | None:
    from importlib import resources

    try:
        path = Path(str(resources.files("qaware.data").joinpath(name)))
    except (ModuleNotFoundError, ValueError):
        return None
    return path if path.is_file() else None


def collect_campaign(run_dir: str | Path, *, trap: bool = True) -> CampaignData:
    """Everything the report shows about the run in ``run_dir`` (read-only; see module doc).

    trap: measure the close-packed share per cycle (StructureMatcher, ~10 ms a structure).
    """
    from qaware.store import CallStatus, CandidateStatus, RunDirectory

    run_dir = Path(run_dir)
    run = RunDirectory.open(run_dir)
    config = run.load_config()
    state = _read_json(run_dir / "campaign_state.json")
    fids, low, top = _levels(config)
    levels = {
        f["name"]: LevelInfo(f["name"], "top" if f["name"] == top else "low" if f["name"] == low
                             else "", f.get("kind", ""), f.get("weight"), f.get("cost"))
        for f in fids
    }  # fmt: skip
    codes: dict[str, set[str]] = {n: set() for n in levels}
    with run.store() as store:
        done = list(store.candidates(status=CandidateStatus.DONE))
        calls = list(store.calls())
    top_calls = []
    for call in calls:
        info = levels.setdefault(call.level, LevelInfo(call.level, ""))
        if call.status == CallStatus.SUBMITTED:
            info.calls_pending += 1
            continue
        info.calls_done += call.status == CallStatus.DONE
        info.calls_failed += call.status == CallStatus.FAILED
        res = call.result
        if res is not None:
            info.oracle_wall_s += float(res.wall_time_s or 0.0)
            if res.code:
                label = f"{res.code} {res.code_version}".strip()
                codes.setdefault(call.level, set()).add(
                    f"{label} (settings {res.settings_hash[:12]})"
                )
        if call.level == top and call.candidate_id is not None:
            top_calls.append(call.candidate_id)
    for name, info in levels.items():
        info.codes = sorted(codes.get(name, ()))
    discovered = {r.id for r in done if r.key_value_pairs.get("discovery")}
    acq = config.get("acquisition") or {}
    strategy = str(acq.get("strategy", "?"))
    if strategy in ("qaware", "divergence"):
        strategy += f" ({acq.get('divergence', 'signed')} D)"
    step = state.get("step") or "not started"
    current = f"cycle {state.get('cycle', 1)}, last finished step: {step}"
    return CampaignData(
        run_dir=run_dir,
        name=str((config.get("run") or {}).get("name", run_dir.name)),
        strategy=strategy,
        low=low,
        top=top,
        config=config,
        environment=_read_json(run_dir / "environment.json"),
        levels=list(levels.values()),
        cycles=_cycles(run_dir, list(state.get("history", [])), trap),
        labelled=_labelled(done),
        call_discovery=np.array([cid in discovered for cid in top_calls], dtype=bool),
        hit_threshold=float((config.get("campaign") or {}).get("hit_threshold", 0.0)),
        stopped=str(state.get("stopped") or ""),
        current=current,
        calibration_ece=state.get("calibration_ece"),
        checksums=_checksums(run_dir, config),
    )
