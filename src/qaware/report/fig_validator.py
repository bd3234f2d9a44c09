"""How good the validator was where it mattered: on the candidates the campaign labelled.

Predictions are the ones stored when each candidate was scored, i.e. made *before* its label
existed, so these are out-of-sample numbers. Energies are formation energies, eV/atom.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from qaware.metrics.discovery import divergence_r2
from qaware.report._style import COLORS, empty_panel, new_figure
from qaware.validator.calibration import regression_ece, reliability_diagram

__all__ = [
    "DivergenceFit",
    "divergence_figure",
    "divergence_fit",
    "parity_figure",
    "reliability_figure",
]


@dataclass(frozen=True)
class DivergenceFit:
    """Least-squares line ``true = slope·pred + intercept`` and R² (squared Pearson r)."""

    slope: float
    intercept: float
    r2: float
    n: int


def _finite(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    arrs = [np.asarray(a, dtype=float).ravel() for a in arrays]
    ok = np.logical_and.reduce([np.isfinite(a) for a in arrs])
    return tuple(a[ok] for a in arrs)


def divergence_fit(predicted: np.ndarray, true_error: np.ndarray) -> DivergenceFit:
    """Fit of the true low-level error (low − top, eV/atom) on the predicted D; NaN when < 3
    finite pairs or a constant input (R² as :func:`qaware.metrics.discovery.divergence_r2`)."""
    p, t = _finite(predicted, true_error)
    r2 = divergence_r2(p, t)
    if np.isnan(r2):
        return DivergenceFit(float("nan"), float("nan"), r2, int(p.size))
    slope, intercept = np.polyfit(p, t, 1)
    return DivergenceFit(float(slope), float(intercept), r2, int(p.size))


def divergence_figure(
    predicted: np.ndarray, true_error: np.ndarray, *, low: str = "low", top: str = "top"
):
    """Scatter of predicted D = e_form(low) − e_form(top) against the true one, with the fit,
    the diagonal and R² (all eV/atom)."""
    fig, (ax,) = new_figure()
    p, t = _finite(predicted, true_error)
    if p.size == 0:
        empty_panel(ax, f"no candidate labelled at both {low} and {top} yet")
        return fig
    fit = divergence_fit(p, t)
    ax.scatter(
        p, t, s=18, color=COLORS["main"], alpha=0.8, label=f"labelled candidates (n={p.size})"
    )
    lo, hi = float(min(p.min(), t.min())), float(max(p.max(), t.max()))
    pad = 0.05 * (hi - lo or 1.0)
    xs = np.array([lo - pad, hi + pad])
    ax.plot(xs, xs, ":", color=COLORS["muted"], label="y = x")
    if np.isfinite(fit.r2):
        ax.plot(xs, fit.slope * xs + fit.intercept, color=COLORS["accent"],
                label=f"fit: y = {fit.slope:.2f}x {fit.intercept:+.3f}")  # fmt: skip
    ax.set_title(f"R² = {fit.r2:.2f}" if np.isfinite(fit.r2) else "R² undefined (< 3 points)",
                 fontsize=10)  # fmt: skip
    ax.set_xlabel("predicted D = e_form(low) − e_form(top)  [eV/atom]")
    ax.set_ylabel("true e_form(low) − e_form(top)  [eV/atom]")
    ax.text(
        0.98,
        0.02,
        f"low: {low}\ntop: {top}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color=COLORS["muted"],
    )
    ax.legend(fontsize=8, loc="upper left")
    return fig


def parity_figure(levels: Mapping[str, tuple[np.ndarray, np.ndarray]]):
    """One parity panel per level: predicted vs labelled e_form (eV/atom), MAE in the title.

    levels: level name -> (predicted (n,), labelled (n,)); NaN pairs are dropped.
    """
    names = list(levels) or ["(no level)"]
    fig, axes = new_figure(len(names), width=4.6 * len(names))
    for ax, name in zip(axes, names, strict=True):
        pred, true = _finite(*levels[name]) if name in levels else (np.array([]), np.array([]))
        if pred.size == 0:
            empty_panel(ax, f"no {name} labels yet")
            ax.set_title(name, fontsize=10)
            continue
        mae = float(np.mean(np.abs(pred - true)))
        ax.scatter(true, pred, s=16, color=COLORS["main"], alpha=0.8)
        lo, hi = float(min(pred.min(), true.min())), float(max(pred.max(), true.max()))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], ":", color=COLORS["muted"])
        ax.set_title(f"{name}\nMAE {1000 * mae:.0f} meV/atom (n={pred.size})", fontsize=9)
        ax.set_xlabel("labelled e_form [eV/atom]")
        ax.set_ylabel("predicted e_form [eV/atom]")
    return fig


def reliability_figure(errors: np.ndarray, std: np.ndarray, *, level: str = "top"):
    """Observed fraction of |error| inside the predicted central p-interval against p, with the
    diagonal and the ECE (DESIGN.md §3). errors = predicted − labelled, std = predicted σ."""
    fig, (ax,) = new_figure()
    e, s = _finite(errors, std)
    keep = s >= 0
    e, s = e[keep], s[keep]
    if e.size == 0:
        empty_panel(ax, f"no {level} labels yet")
        return fig
    expected, observed = reliability_diagram(e, s)
    ece = regression_ece(e, s)
    ax.plot([0, 1], [0, 1], ":", color=COLORS["muted"], label="calibrated")
    ax.plot(expected, observed, "o-", color=COLORS["main"], label=f"{level} (n={e.size})")
    ax.fill_between(expected, expected, observed, color=COLORS["accent"], alpha=0.15)
    ax.set_title(f"ECE = {ece:.3f}", fontsize=10)
    ax.set_xlabel("expected coverage p")
    ax.set_ylabel("observed coverage")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    return fig
