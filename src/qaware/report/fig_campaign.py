"""Figures of the campaign's course: E_hull of what it labelled, the metallicity trap, time.

The metallicity trap (DESIGN.md §3) is a generator drifting toward fcc/bcc/hcp frameworks as it
is fine-tuned on hits, or toward what it already knows: it shows as a rising close-packed share
or falling novelty per cycle, so both are plotted and a rise or a drop raises a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qaware.report._style import COLORS, empty_panel, new_figure

__all__ = ["e_hull_histogram", "trap_figure", "trap_warnings", "wall_time_figure"]

MIN_NOVELTY = 0.7
"""Novelty below this share of a cycle's valid samples raises the metallicity-trap warning."""
CLOSE_PACKED_RISE = 0.1
"""A close-packed share this much above the first cycle's raises the warning."""


def e_hull_histogram(
    e_hull: np.ndarray,
    *,
    threshold: float = 0.0,
    predicted: np.ndarray | None = None,
    level: str = "top",
):
    """Histogram of E_hull (eV/atom) at ``level`` of the labelled selected candidates, the hit
    threshold as a line, and (outlined) the E_hull the validator predicted for them."""
    fig, (ax,) = new_figure()
    e = np.asarray(e_hull, dtype=float)
    e = e[np.isfinite(e)]
    if e.size == 0:
        empty_panel(ax, f"no selected candidate labelled at {level} yet")
        return fig
    both = e if predicted is None else np.r_[e, np.asarray(predicted, dtype=float)]
    both = both[np.isfinite(both)]
    bins = np.histogram_bin_edges(both, bins=min(30, max(5, e.size // 2)))
    hits = int(np.sum(e <= threshold + 1e-8))
    ax.hist(e, bins=bins, color=COLORS["main"], alpha=0.85,
            label=f"labelled ({hits} of {e.size} at or below threshold)")  # fmt: skip
    if predicted is not None:
        p = np.asarray(predicted, dtype=float)
        ax.hist(p[np.isfinite(p)], bins=bins, histtype="step", color=COLORS["accent"],
                linewidth=1.5, label="predicted at scoring")  # fmt: skip
    ax.axvline(threshold, color=COLORS["good"], linestyle="--",
               label=f"hit threshold {threshold:+.3f}")  # fmt: skip
    ax.set_xlabel(f"E_hull at {level} [eV/atom]")
    ax.set_ylabel("selected candidates")
    ax.legend(fontsize=8)
    return fig


def trap_warnings(
    cycles: Sequence[int] | np.ndarray,
    novelty: Sequence[float] | np.ndarray,
    close_packed: Sequence[float] | np.ndarray,
    *,
    min_novelty: float = MIN_NOVELTY,
    rise: float = CLOSE_PACKED_RISE,
) -> list[str]:
    """Human-readable warnings: a cycle whose novelty is below ``min_novelty``, and a
    close-packed share that rose by ``rise`` or more above the first cycle's (NaN = unknown)."""
    out: list[str] = []
    cyc = np.asarray(cycles, dtype=int)
    nov = np.asarray(novelty, dtype=float)
    low = [(int(c), float(n)) for c, n in zip(cyc, nov, strict=True) if n < min_novelty]
    if low:
        where = ", ".join(f"cycle {c}: {100 * n:.0f} %" for c, n in low)
        out.append(f"novelty below {100 * min_novelty:.0f} % ({where}): the generator is "
                   "returning to known structures")  # fmt: skip
    cp = np.asarray(close_packed, dtype=float)
    ok = np.flatnonzero(np.isfinite(cp))
    if ok.size >= 2:
        first, later = cp[ok[0]], cp[ok[1:]]
        worst = int(ok[1:][np.argmax(later)])
        if cp[worst] - first >= rise - 1e-12:
            out.append(
                f"close-packed share rose from {100 * first:.0f} % (cycle {cyc[ok[0]]}) to "
                f"{100 * cp[worst]:.0f} % (cycle {cyc[worst]}): metallicity trap, the generator "
                "drifts toward fcc/bcc/hcp frameworks"
            )
    return out


def trap_figure(
    cycles: Sequence[int] | np.ndarray,
    novelty: Sequence[float] | np.ndarray,
    close_packed: Sequence[float] | np.ndarray,
    *,
    min_novelty: float = MIN_NOVELTY,
):
    """Novelty and close-packed share (0–1) per cycle; NaN points are left out. The novelty
    threshold is drawn, and the title turns into a warning when :func:`trap_warnings` fires."""
    fig, (ax,) = new_figure()
    cyc = np.asarray(cycles, dtype=int)
    nov, cp = np.asarray(novelty, dtype=float), np.asarray(close_packed, dtype=float)
    if cyc.size == 0 or not (np.isfinite(nov).any() or np.isfinite(cp).any()):
        empty_panel(ax, "no generated candidates to measure yet")
        return fig
    if np.isfinite(nov).any():
        ax.plot(cyc, nov, "o-", color=COLORS["main"], label="novelty")
    if np.isfinite(cp).any():
        ax.plot(cyc, cp, "s-", color=COLORS["accent"], label="close-packed (fcc/bcc/hcp)")
    ax.axhline(min_novelty, color=COLORS["muted"], linestyle="--", linewidth=1,
               label=f"novelty threshold {100 * min_novelty:.0f} %")  # fmt: skip
    warned = trap_warnings(cyc, nov, cp, min_novelty=min_novelty)
    if warned:
        ax.set_title("WARNING: possible metallicity trap", color=COLORS["warn"], fontsize=10,
                     fontweight="bold")  # fmt: skip
    ax.set_xticks(cyc)
    ax.set_xlabel("cycle")
    ax.set_ylabel("share of the cycle's candidates")
    ax.set_ylim(-0.03, 1.05)
    ax.legend(fontsize=8, loc="center right")
    return fig


def wall_time_figure(
    cycles: Sequence[int] | np.ndarray,
    oracle_s: Sequence[float] | np.ndarray,
    other_s: Sequence[float] | np.ndarray,
):
    """Stacked bars per cycle: time in the oracle step vs everything else (generate, score,
    select, analyze, retrain), seconds; the title gives the totals and the oracle share."""
    fig, (ax,) = new_figure()
    cyc = np.asarray(cycles, dtype=int)
    ora, rest = np.asarray(oracle_s, dtype=float), np.asarray(other_s, dtype=float)
    if cyc.size == 0 or (ora.sum() + rest.sum()) <= 0:
        empty_panel(ax, "no timed step yet")
        return fig
    ax.bar(cyc, ora, color=COLORS["main"], label="oracle calls")
    ax.bar(cyc, rest, bottom=ora, color=COLORS["muted"], label="generate/score/train/other")
    total = ora.sum() + rest.sum()
    ax.set_title(f"{ora.sum():.0f} s oracle, {rest.sum():.0f} s other "
                 f"({100 * ora.sum() / total:.0f} % in the oracle)", fontsize=10)  # fmt: skip
    ax.set_xticks(cyc)
    ax.set_xlabel("cycle")
    ax.set_ylabel("wall time [s]")
    ax.legend(fontsize=8)
    return fig
