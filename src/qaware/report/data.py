"""What a campaign report shows, as plain arrays and records (no file access here).

:func:`qaware.report.collect.collect_campaign` fills these from a run directory; the figure
functions and the HTML writer only read them, so each can be tested on hand-made values.
Energies are eV/atom; times are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

__all__ = ["CampaignData", "CycleTable", "LabelledTable", "LevelInfo"]


def _empty() -> np.ndarray:
    return np.zeros(0)


@dataclass
class LevelInfo:
    """One rung of the ladder and what actually produced its labels in this run.

    codes: ``code version (settings sha256[:12])`` of every distinct setting seen in the
    call results at this level (more than one means the level changed during the run).
    """

    name: str
    role: str  # "low", "top" or "" (an intermediate rung)
    kind: str = ""
    weight: float | None = None
    cost: float | None = None
    codes: list[str] = field(default_factory=list)
    calls_done: int = 0
    calls_failed: int = 0
    calls_pending: int = 0
    oracle_wall_s: float = 0.0


@dataclass
class CycleTable:
    """Per-cycle columns (each (n_cycles,)), cycles in order; NaN where not measured.

    novelty: share of the cycle's screened samples that match no known structure (NaN when the
    run did not record it); close_packed: share of the cycle's new candidates whose framework
    matches fcc/bcc/hcp.
    """

    cycle: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    generated: np.ndarray = field(default_factory=_empty)
    new_candidates: np.ndarray = field(default_factory=_empty)
    top_calls: np.ndarray = field(default_factory=_empty)
    failed_calls: np.ndarray = field(default_factory=_empty)
    hits: np.ndarray = field(default_factory=_empty)
    discoveries: np.ndarray = field(default_factory=_empty)
    oracle_time_s: np.ndarray = field(default_factory=_empty)
    other_time_s: np.ndarray = field(default_factory=_empty)
    novelty: np.ndarray = field(default_factory=_empty)
    close_packed: np.ndarray = field(default_factory=_empty)


@dataclass
class LabelledTable:
    """Candidates labelled at the top level (status ``done``), one entry per row, (n,) each.

    pred_*: the validator's prediction when the candidate was scored (before its label);
    e_form_low is NaN where the low level has no label; div is the acquisition's D.
    """

    id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    formula: list[str] = field(default_factory=list)
    cycle: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    pred_e_low: np.ndarray = field(default_factory=_empty)
    pred_e_top: np.ndarray = field(default_factory=_empty)
    pred_sigma_top: np.ndarray = field(default_factory=_empty)
    pred_e_hull_top: np.ndarray = field(default_factory=_empty)
    div: np.ndarray = field(default_factory=_empty)
    e_form_low: np.ndarray = field(default_factory=_empty)
    e_form_top: np.ndarray = field(default_factory=_empty)
    e_hull_top: np.ndarray = field(default_factory=_empty)
    hit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    discovery: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    atoms: list[Atoms] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.id.size)


@dataclass
class CampaignData:
    """Everything the report of one run shows.

    call_discovery: (n_top_calls,) bool in the order the top-level calls were made (failed
    calls included, as False; calls still in flight left out).
    checksums: file (relative to the run directory or as configured) -> sha256.
    finished: the campaign recorded a stop reason; otherwise the report is of a run in progress.
    """

    run_dir: Path
    name: str
    strategy: str
    low: str
    top: str
    config: dict[str, Any]
    environment: dict[str, Any]
    levels: list[LevelInfo]
    cycles: CycleTable
    labelled: LabelledTable
    call_discovery: np.ndarray
    hit_threshold: float
    stopped: str = ""
    current: str = ""
    calibration_ece: float | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return bool(self.stopped)
