"""The active-learning campaign: named steps per cycle, persisted after each (DESIGN.md §1, §4).

One cycle is ``generate → score → select → evaluate → analyze → retrain`` (each in
:mod:`qaware.campaign.steps`). The driver saves :class:`~qaware.campaign.state.CampaignState`
after every finished step and commits every candidate transition before the next side effect,
so ``kill -9`` at any point followed by :func:`resume_campaign` redoes at most the step that was
cut short; oracle calls are keyed in the store and never made twice.

Randomness of a step derives from (run seed, cycle, step), so a resumed run follows the same path
as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaware.campaign.components import Components, build_components, load_validator
from qaware.campaign.context import CampaignContext
from qaware.campaign.state import CampaignState
from qaware.campaign.steps import STEP_FUNCTIONS
from qaware.campaign.stopping import stop_reason
from qaware.config import QawareConfig
from qaware.errors import CalibrationError, RunDirectoryError
from qaware.faults import crash_point
from qaware.store.driver_lock import driver_lock

__all__ = ["BASE_DIR_FILE", "CampaignResult", "resume_campaign", "run_campaign"]

BASE_DIR_FILE = "base_dir.json"

log = logging.getLogger("qaware.campaign")


@dataclass
class CampaignResult:
    """How a campaign ended: its directory, the reason it stopped and the per-cycle history."""

    run_dir: Path
    state: CampaignState

    @property
    def discoveries(self) -> int:
        return sum(s.discoveries for s in self.state.history)

    @property
    def top_calls(self) -> int:
        return sum(s.top_calls for s in self.state.history)


def run_campaign(
    config: QawareConfig, *, base_dir: Path | None = None, force: bool = False
) -> CampaignResult:
    """Start (or continue, if its directory holds the same config) the campaign ``config``.

    force: start even when the validator fails the calibration gate.
    """
    from qaware.ingest import open_run_directory
    from qaware.store.run_directory import MARKER

    base = (base_dir or Path.cwd()).resolve()
    if (Path(config.run.directory) / MARKER).exists():  # its own errors first (newer, other run)
        run = open_run_directory(config)
        parts = build_components(config, base)
    else:  # a config error must not leave a new run directory behind
        parts = build_components(config, base)
        run = open_run_directory(config)
    marker = run.path / BASE_DIR_FILE
    if not marker.exists():  # where the config's relative paths point, for `qaware resume`
        marker.write_text(json.dumps({"base_dir": str(base)}) + "\n", encoding="utf-8")
    return _drive(config, run, base, force=force, parts=parts)


def resume_campaign(
    run_dir: str | Path,
    *,
    config: QawareConfig | None = None,
    allow_config_change: bool = False,
    force: bool = False,
    base_dir: Path | None = None,
) -> CampaignResult:
    """Continue the campaign in ``run_dir`` from its last finished step.

    config: a new configuration; refused if it differs from the recorded one unless
    ``allow_config_change`` (the change is logged in events.jsonl).
    """
    from qaware.config_io import config_sha256, load_config
    from qaware.store import RunDirectory

    run = RunDirectory.open(run_dir)
    recorded = load_config(Path(run_dir) / "config.yaml")
    if config is None:
        config = recorded
    elif config_sha256(config) != config_sha256(recorded):  # both as this qaware reads them
        if not allow_config_change:
            raise RunDirectoryError(
                f"{run_dir}: the configuration differs from the recorded one "
                f"({Path(run_dir) / 'config.yaml'}); pass --allow-config-change to resume anyway"
            )
        run.events.append("config_changed", payload=config.model_dump(mode="json"))
    return _drive(config, run, base_dir or _recorded_base_dir(run.path), force=force)


def _recorded_base_dir(run_dir: Path) -> Path:
    try:
        return Path(json.loads((run_dir / BASE_DIR_FILE).read_text())["base_dir"])
    except (OSError, ValueError, KeyError):
        return Path.cwd()


def _drive(
    config: QawareConfig,
    run: Any,
    base_dir: Path,
    *,
    force: bool,
    parts: Components | None = None,
) -> CampaignResult:
    with driver_lock(run.path):  # a second `qaware run`/`resume` on this directory is refused
        return _drive_locked(config, run, base_dir, force=force, parts=parts)


def _drive_locked(
    config: QawareConfig,
    run: Any,
    base_dir: Path,
    *,
    force: bool,
    parts: Components | None,
) -> CampaignResult:
    state = CampaignState.load(run.path)
    if state.stopped:
        log.info("campaign already finished: %s", state.stopped)
        return CampaignResult(run.path, state)
    parts = parts or build_components(config, base_dir)
    if state.validator_model:
        parts.validator = load_validator(config, base_dir, run.model_path(state.validator_model))
    if state.generator_model:
        generator_class: Any = type(parts.generator)  # the fine-tuned model of the last cycle
        parts.generator = generator_class.load(run.model_path(state.generator_model))
    with run.store() as store:
        ctx = CampaignContext(config, run, store, parts, state, base_dir)
        try:
            _cycles(ctx, force)
        finally:
            ctx.close()
    return CampaignResult(run.path, state)


def _cycles(ctx: CampaignContext, force: bool) -> None:
    """Run steps until the stopping rule says stop; the state is saved after each step."""
    config, run, state = ctx.config, ctx.run, ctx.state
    ctx.prepare()
    if not state.history and state.step == "":
        _calibration_gate(ctx, force)
    while not state.stopped:
        step = state.next_step()
        if step == "generate" and state.step == "retrain":
            state.cycle += 1
        start = time.perf_counter()
        STEP_FUNCTIONS[step](ctx)
        summary = state.summary(state.cycle)
        if step == "evaluate":
            summary.oracle_time_s += time.perf_counter() - start
        else:
            summary.other_time_s += time.perf_counter() - start
        crash_point("step")
        state.step = step
        if step == "retrain":
            reason = stop_reason(
                [s.discoveries for s in sorted(state.history, key=lambda s: s.cycle)],
                calls_spent=ctx.top_calls_spent(),
                budget=config.campaign.budget,
                max_cycles=config.campaign.max_cycles,
                patience=config.campaign.patience,
            )
            if reason:
                state.stopped = reason
                run.events.append("stopped", cycle=state.cycle, payload={"reason": reason})
                log.info("campaign stops: %s", reason)
        state.save(run.path)


def _calibration_gate(ctx: CampaignContext, force: bool) -> None:
    """Refuse to start while the validator's top-level ECE is at or above the threshold.

    An ECE measured on fewer than ``campaign.min_calibration_structures`` structures says
    nothing either way (one structure's error against its σ is one draw): the gate then warns
    and is not applied, as when there is no held-out top-level data at all."""
    ece, n, source = ctx.calibration_error()
    ctx.state.calibration_ece = ece
    limit = ctx.config.campaign.max_calibration_error
    least = ctx.config.campaign.min_calibration_structures
    applied = ece is not None and n >= least
    ctx.run.events.append("calibration_gate", payload={
        "ece": ece, "n": n, "source": source, "max": limit, "applied": applied})  # fmt: skip
    if ece is None:
        log.warning("calibration gate: no held-out top-level data to check the validator on")
        return
    if not applied:
        log.warning(
            "calibration gate not applied: top-level ECE %.3f on only %d structure(s) (%s); "
            "campaign.min_calibration_structures is %d",
            ece,
            n,
            source,
            least,
        )
        return
    log.info("calibration gate: top-level ECE %.3f (%s, %d), limit %.2f", ece, source, n, limit)
    if ece >= limit and not force:
        raise CalibrationError(
            f"the validator's top-level ECE is {ece:.3f} on {source} ({n} structures; limit "
            f"{limit}): its uncertainties cannot be trusted for acquisition; retrain or "
            "recalibrate it, or pass --force to start anyway"
        )
