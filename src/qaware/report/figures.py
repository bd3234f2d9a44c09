"""The campaign report's figures, built from :class:`~qaware.report.data.CampaignData`.

Each entry renders one figure function (``fig_*`` modules) to PNG (embedded in the HTML) and
to PNG + PDF files in the report's ``figures/`` folder; a figure with nothing to show yet (a
run in progress) still renders, saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qaware.report._style import RenderedFigure, render_figure
from qaware.report.data import CampaignData
from qaware.report.fig_campaign import (
    e_hull_histogram,
    trap_figure,
    trap_warnings,
    wall_time_figure,
)
from qaware.report.fig_discovery import (
    cumulative_discoveries_figure,
    daf_figure,
    hit_rate_figure,
)
from qaware.report.fig_validator import (
    divergence_figure,
    parity_figure,
    reliability_figure,
)

__all__ = ["FIGURE_NAMES", "campaign_figures", "run_label"]

FIGURE_NAMES = (
    "cumulative_discoveries",
    "daf",
    "hit_rate",
    "divergence",
    "reliability",
    "parity",
    "e_hull",
    "metallicity_trap",
    "wall_time",
)
"""File stems of the figures, in report order."""


def run_label(data: CampaignData) -> str:
    """How a run is named in a comparison: its name and acquisition strategy."""
    return f"{data.name}: {data.strategy}"


def _is_random(run: CampaignData) -> bool:
    return run.strategy.split(" ", 1)[0] == "random"


def random_baseline(runs: Sequence[CampaignData]) -> float | None:
    """Discoveries per top-level call of the runs whose acquisition is random (pooled), the
    baseline of DAF; None when there is no such run or it made no call."""
    rand = [r for r in runs if _is_random(r)]
    calls = sum(int(r.call_discovery.size) for r in rand)
    return sum(int(r.call_discovery.sum()) for r in rand) / calls if calls else None


def campaign_figures(
    data: CampaignData, out_dir: Path | None, compare: Sequence[CampaignData] = ()
) -> list[RenderedFigure]:
    """All figures of the report of ``data`` (and the runs in ``compare`` on the discovery
    curve); files go to ``out_dir`` when given."""
    lab, low, top = data.labelled, data.low, data.top
    cyc = data.cycles
    out: list[RenderedFigure] = []

    def add(fig: object, name: str, title: str, caption: str, warns: Sequence[str] = ()) -> None:
        out.append(render_figure(fig, name, title=title, caption=caption, out_dir=out_dir,
                                 warnings=tuple(warns)))  # fmt: skip

    curves = {run_label(r): r.call_discovery for r in (data, *compare)}
    base = random_baseline([data, *compare])
    add(cumulative_discoveries_figure(curves, top=top, baseline_rate=base),
        "cumulative_discoveries",
        "Cumulative discoveries vs top-level calls",
        f"Discoveries (novel, unique hits at {top}) after each {top} call in the order the calls "
        "were made; failed calls count as spent. "
        + ("Other runs are those given with --compare." if compare else
           "A random baseline needs a run with strategy 'random' (use --compare).")
        + (f" Dashed: random's {base:.3f} per call." if base is not None else ""))  # fmt: skip
    nonrandom = {run_label(r): r.call_discovery for r in (data, *compare) if not _is_random(r)}
    add(daf_figure(nonrandom, base, top=top), "daf", "Discovery acceleration factor vs calls",
        "DAF = (discoveries per call so far) / (discoveries per call of random selection), "
        "as Matbench Discovery defines it (precision / prevalence); the random rate is pooled "
        "from the runs given with --compare whose acquisition strategy is 'random'.")  # fmt: skip
    add(hit_rate_figure(cyc.cycle, cyc.hits, cyc.top_calls, cyc.discoveries), "hit_rate",
        "Hit rate per cycle",
        f"Hits (E_hull at {top} ≤ {data.hit_threshold:+.3f} eV/atom) and discoveries per {top} "
        "call, per cycle; labels are hits/calls.")  # fmt: skip
    add(divergence_figure(lab.pred_e_low - lab.pred_e_top, lab.e_form_low - lab.e_form_top,
                          low=low, top=top), "divergence",
        "Predicted divergence vs true low-level error",
        f"D predicted by the validator when each candidate was scored (e_form {low} − {top}) "
        f"against the labelled e_form({low}) − e_form({top}); R² is the squared Pearson "
        "correlation, the red line the least-squares fit.")  # fmt: skip
    add(reliability_figure(lab.pred_e_top - lab.e_form_top, lab.pred_sigma_top, level=top),
        "reliability", f"Reliability diagram ({top})",
        "Observed share of errors inside the predicted central p-interval (Gaussian σ) against "
        "p; ECE = mean |observed − p|. Below the diagonal is over-confident."
        + (f" Calibration gate at the start: ECE {data.calibration_ece:.3f}."
           if data.calibration_ece is not None else ""))  # fmt: skip
    parity = {top: (lab.pred_e_top, lab.e_form_top), low: (lab.pred_e_low, lab.e_form_low)}
    add(parity_figure(parity),
        "parity", "Parity per fidelity",
        "Formation energies predicted at scoring (before the label existed) against the "
        "oracle's, on the labelled candidates.")  # fmt: skip
    add(e_hull_histogram(lab.e_hull_top, threshold=data.hit_threshold,
                         predicted=lab.pred_e_hull_top, level=top), "e_hull",
        "E_hull of the selected candidates",
        f"Energy above the {top} convex hull of every selected candidate once labelled, and "
        "what the validator predicted for it at selection.")  # fmt: skip
    warns = trap_warnings(cyc.cycle, cyc.novelty, cyc.close_packed)
    novelty_note = ("" if np.isfinite(cyc.novelty).any() else
                    " Novelty is not recorded by this run (its cycle summaries lack the count of "
                    "samples dropped as known structures).")  # fmt: skip
    add(trap_figure(cyc.cycle, cyc.novelty, cyc.close_packed), "metallicity_trap",
        "Novelty and close-packed share per cycle",
        "Metallicity trap check: share of each cycle's new candidates whose framework matches "
        "fcc, bcc or hcp (StructureMatcher, species ignored), and the share of screened samples "
        "that are not known structures." + novelty_note, warns)  # fmt: skip
    add(
        wall_time_figure(cyc.cycle, cyc.oracle_time_s, cyc.other_time_s),
        "wall_time",
        "Wall time: oracle vs the rest",
        "Seconds of each cycle in the evaluate step (oracle calls) and in all other steps.",
    )
    return out
