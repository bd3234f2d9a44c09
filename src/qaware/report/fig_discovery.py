"""Discovery figures: cumulative discoveries against top-level calls, hit rate per cycle.

Calls are counted in the order they were made; a failed call is a spent call (the curve moves
right without rising), never a discovery (DESIGN.md §3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qaware.metrics.discovery import cumulative_discoveries, hit_rate_per_cycle
from qaware.report._style import COLORS, empty_panel, new_figure

__all__ = ["cumulative_discoveries_figure", "daf_curve", "daf_figure", "hit_rate_figure"]


def cumulative_discoveries_figure(
    curves: Mapping[str, Sequence[bool] | np.ndarray],
    *,
    baseline_rate: float | None = None,
    top: str = "top level",
):
    """Cumulative discoveries vs top-level calls, one step line per strategy/run.

    curves: label -> (n_calls,) bool, True where that call (in call order) was a discovery.
    baseline_rate: discoveries per call of random selection (the pool's prevalence) when
    known; drawn as the dashed "random (expected)" line.
    """
    fig, (ax,) = new_figure()
    if not any(len(v) for v in curves.values()):
        empty_panel(ax, f"no {top} calls yet")
        return fig
    longest = 0
    palette = [COLORS["main"], COLORS["accent"], COLORS["good"], COLORS["warn"], "#6a4c93"]
    for i, (label, flags) in enumerate(curves.items()):
        y = cumulative_discoveries(np.asarray(flags, dtype=bool))
        x = np.arange(1, len(y) + 1)
        longest = max(longest, len(y))
        total = int(y[-1]) if len(y) else 0
        ax.step(np.r_[0, x], np.r_[0, y], where="post", color=palette[i % len(palette)],
                linewidth=2, label=f"{label} ({total} in {len(y)} calls)")  # fmt: skip
    if baseline_rate is not None:
        xs = np.array([0, longest])
        ax.plot(xs, baseline_rate * xs, "--", color=COLORS["muted"], label="random (expected)")
    ax.set_xlabel(f"{top} calls (failed calls included)")
    ax.set_ylabel("cumulative discoveries")
    ax.set_xlim(0, max(longest, 1) * 1.03 + 0.3)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def hit_rate_figure(
    cycles: Sequence[int] | np.ndarray,
    hits: Sequence[int] | np.ndarray,
    calls: Sequence[int] | np.ndarray,
    discoveries: Sequence[int] | np.ndarray | None = None,
):
    """Bars of hits per top-level call for each cycle, labelled ``hits/calls``.

    A cycle without calls (unfinished, or the budget was spent) shows "no calls", not 0 %.
    discoveries: per cycle; drawn as a second, narrower bar (discoveries per call).
    """
    fig, (ax,) = new_figure()
    cyc = np.asarray(cycles, dtype=int)
    if cyc.size == 0:
        empty_panel(ax, "no cycle finished yet")
        return fig
    h, c = np.asarray(hits, dtype=int), np.asarray(calls, dtype=int)
    rate = hit_rate_per_cycle(h, c)
    shown = np.nan_to_num(rate, nan=0.0)
    ax.bar(cyc, shown, width=0.7, color=COLORS["main"], label="hits / call")
    if discoveries is not None:
        d = np.asarray(discoveries, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            drate = np.where(c > 0, d / np.where(c > 0, c, 1), 0.0)
        ax.bar(cyc, drate, width=0.35, color=COLORS["good"], label="discoveries / call")
    for x, r, hh, cc in zip(cyc, rate, h, c, strict=True):
        text = "no calls" if np.isnan(r) else f"{hh}/{cc}"
        ax.text(x, (0 if np.isnan(r) else r) + 0.02, text, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(cyc)
    ax.set_xlabel("cycle")
    ax.set_ylabel("rate per top-level call")
    ax.set_ylim(0, 1.12)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def daf_curve(flags: Sequence[bool] | np.ndarray, baseline_rate: float) -> np.ndarray:
    """(n_calls,) discovery acceleration factor after each call: (discoveries so far / calls
    so far) / ``baseline_rate`` (random selection's discoveries per call, i.e. the prevalence),
    as Matbench Discovery defines DAF = precision / prevalence."""
    if not baseline_rate > 0:
        raise ValueError(f"daf_curve: baseline rate must be > 0, got {baseline_rate}")
    y = cumulative_discoveries(np.asarray(flags, dtype=bool))
    return y / np.arange(1, len(y) + 1) / baseline_rate


def daf_figure(
    curves: Mapping[str, Sequence[bool] | np.ndarray],
    baseline_rate: float | None,
    *,
    top: str = "top level",
):
    """DAF against top-level calls for each run; 1 (random) is drawn. Without a positive
    baseline rate (no random run to compare with) the panel says how to get one."""
    fig, (ax,) = new_figure()
    if baseline_rate is None or not baseline_rate > 0:
        empty_panel(ax, "DAF needs a random baseline:\nqaware report RUN_DIR --compare RANDOM_RUN")
        return fig
    palette = [COLORS["main"], COLORS["accent"], COLORS["good"], COLORS["warn"], "#6a4c93"]
    longest = 0
    for i, (label, flags) in enumerate(curves.items()):
        if len(flags) == 0:
            continue
        d = daf_curve(flags, baseline_rate)
        longest = max(longest, len(d))
        ax.plot(np.arange(1, len(d) + 1), d, color=palette[i % len(palette)],
                label=f"{label} (final {d[-1]:.1f})")  # fmt: skip
    ax.axhline(1.0, color=COLORS["muted"], linestyle="--", label="random (DAF 1)")
    ax.set_xlabel(f"{top} calls")
    ax.set_ylabel("DAF = discoveries per call / random's")
    ax.set_xlim(0, max(longest, 1) * 1.03 + 0.3)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    return fig
