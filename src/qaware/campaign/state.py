"""The campaign's progress, persisted after every step so a killed driver resumes exactly.

``campaign_state.json`` in the run directory records the cycle, the last *finished* step of it,
the per-cycle summaries and the current model files. It is replaced atomically (write, fsync,
rename) after each step; a step killed half-way is simply redone, and every step is written to be
idempotent (its writes are keyed by structure hash or oracle-call key).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from qaware.errors import RunDirectoryError

__all__ = ["STATE_FILE", "STEPS", "CampaignState", "CycleSummary"]

STATE_FILE: Final[str] = "campaign_state.json"
STEPS: Final[tuple[str, ...]] = ("generate", "score", "select", "evaluate", "analyze", "retrain")
"""The steps of one cycle, in order (CAMD's shape; see :mod:`qaware.campaign.loop`)."""


@dataclass
class CycleSummary:
    """What one cycle did (one row of the status table and the report)."""

    cycle: int
    generated: int = 0
    new_candidates: int = 0
    rejected: int = 0  # failed screening or dropped as a known structure
    known: int = (
        0  # of those, dropped because they match a known structure (novelty = 1 - known/...)
    )
    scored: int = 0
    selected: int = 0
    top_calls: int = 0
    failed_calls: int = 0
    hits: int = 0
    discoveries: int = 0
    oracle_time_s: float = 0.0
    other_time_s: float = 0.0
    validator_retrained: bool = False
    generator_retrained: bool = False
    divergence_r2: float | None = None


@dataclass
class CampaignState:
    """Where the campaign stands; ``step`` is the last finished step of ``cycle`` ("" = none)."""

    cycle: int = 1
    step: str = ""
    history: list[CycleSummary] = field(default_factory=list)
    validator_model: str = ""
    generator_model: str = ""
    stopped: str = ""
    calibration_ece: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def next_step(self) -> str:
        """The step to run next (``generate`` after a finished cycle)."""
        if self.step == "":
            return STEPS[0]
        i = STEPS.index(self.step)
        return STEPS[i + 1] if i + 1 < len(STEPS) else STEPS[0]

    def summary(self, cycle: int) -> CycleSummary:
        """The summary of ``cycle``, created on first use."""
        for s in self.history:
            if s.cycle == cycle:
                return s
        s = CycleSummary(cycle)
        self.history.append(s)
        return s

    # ---- persistence -------------------------------------------------------------------------
    def save(self, run_dir: str | Path) -> None:
        path = Path(run_dir) / STATE_FILE
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(asdict(self), f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, run_dir: str | Path) -> CampaignState:
        """The saved state, or a fresh one when the run has not started a cycle."""
        path = Path(run_dir) / STATE_FILE
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            raw["history"] = [CycleSummary(**h) for h in raw.get("history", [])]
            state = cls(**raw)
        except (OSError, ValueError, TypeError) as err:
            raise RunDirectoryError(f"{path}: unreadable campaign state: {err}") from None
        if state.step and state.step not in STEPS:
            raise RunDirectoryError(f"{path}: unknown step {state.step!r}")
        return state
