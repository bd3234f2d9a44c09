"""Benchmark figures: strategies side by side on one metric (mean ± std over seeds)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qaware.report._style import COLORS, empty_panel, new_figure

__all__ = ["strategy_bars"]

_REFERENCES = ("perfect", "random")
"""Bars drawn in grey: the ceiling and the floor every strategy is read against."""


def strategy_bars(
    names: Sequence[str],
    mean: Sequence[float] | np.ndarray,
    std: Sequence[float] | np.ndarray | None = None,
    *,
    metric: str = "hits per call",
    title: str = "",
):
    """Horizontal bars of ``metric`` per strategy with ±std error bars; the reference strategies
    ("perfect", "random") in grey, the best of the others highlighted. NaN means are skipped."""
    fig, (ax,) = new_figure(width=6.0)
    m = np.asarray(mean, dtype=float)
    s = np.zeros_like(m) if std is None else np.nan_to_num(np.asarray(std, dtype=float))
    keep = np.flatnonzero(np.isfinite(m))
    if keep.size == 0:
        empty_panel(ax, f"no {metric} recorded")
        return fig
    labels = [names[i] for i in keep]
    values, errors = m[keep], s[keep]
    others = [k for k, n in enumerate(labels) if n not in _REFERENCES]
    best = max(others, key=lambda k: values[k]) if others else -1
    colors = [COLORS["muted"] if n in _REFERENCES else COLORS["accent"] if k == best
              else COLORS["main"] for k, n in enumerate(labels)]  # fmt: skip
    y = np.arange(len(labels))[::-1]
    ax.barh(y, values, xerr=errors, color=colors, capsize=3)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(metric)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
