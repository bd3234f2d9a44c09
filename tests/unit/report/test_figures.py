"""Figure functions of the report on hand-made arrays: the numbers they show are the right ones."""

from __future__ import annotations

import numpy as np
import pytest

from qaware.report._style import render_figure
from qaware.report.fig_campaign import (
    e_hull_histogram,
    trap_figure,
    trap_warnings,
    wall_time_figure,
)
from qaware.report.fig_discovery import (
    cumulative_discoveries_figure,
    daf_curve,
    daf_figure,
    hit_rate_figure,
)
from qaware.report.fig_validator import (
    divergence_figure,
    divergence_fit,
    parity_figure,
    reliability_figure,
)
from qaware.validator.calibration import regression_ece


def _texts(fig) -> str:
    """Every piece of text on the figure (titles, legends, annotations), joined."""
    from matplotlib.text import Text

    return " | ".join(t.get_text() for t in fig.findobj(Text) if t.get_text())


def test_divergence_fit_recovers_a_known_line_and_drops_nan_pairs():
    pred = np.array([0.0, 0.1, 0.2, 0.3, np.nan, 0.5])
    true = 2.0 * pred + 0.1
    true[2] = np.nan
    fit = divergence_fit(pred, true)
    assert fit.n == 4
    assert fit.slope == pytest.approx(2.0) and fit.intercept == pytest.approx(0.1)
    assert fit.r2 == pytest.approx(1.0)
    assert np.isnan(divergence_fit(pred[:2], true[:2]).r2)  # fewer than 3 pairs


def test_divergence_fit_r2_is_the_squared_correlation_of_noisy_data():
    rng = np.random.default_rng(0)
    pred = rng.normal(size=400)
    true = pred + rng.normal(size=400)  # r = 1/sqrt(2), R² = 0.5
    fit = divergence_fit(pred, true)
    assert fit.r2 == pytest.approx(0.5, abs=0.06)
    assert fit.slope == pytest.approx(1.0, abs=0.1)


def test_divergence_figure_shows_r2_and_draws_the_fit():
    pred = np.array([0.0, 0.1, 0.2, 0.4])
    fig = divergence_figure(pred, 0.5 * pred - 0.02, low="PBE", top="CCSD(T)")
    assert "R² = 1.00" in _texts(fig)
    assert "fit: y = 0.50x -0.020" in _texts(fig)
    fit_line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("fit"))
    x, y = fit_line.get_data()
    assert np.allclose(y, 0.5 * np.asarray(x) - 0.02)


def test_cumulative_curve_counts_failed_calls_as_spent_calls():
    fig = cumulative_discoveries_figure({"full": [True, False, False, True], "random": [False]})
    ax = fig.axes[0]
    full = ax.get_lines()[0]
    x, y = full.get_data()
    assert list(x) == [0, 1, 2, 3, 4] and list(y) == [0, 1, 1, 1, 2]
    assert "full (2 in 4 calls)" in _texts(fig) and "random (0 in 1 calls)" in _texts(fig)


def test_cumulative_curve_draws_the_random_expectation():
    fig = cumulative_discoveries_figure({"run": [True] * 10}, baseline_rate=0.2)
    base = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "random (expected)")
    assert list(base.get_ydata()) == pytest.approx([0.0, 2.0])


def test_empty_inputs_render_a_message_instead_of_failing():
    empty = np.array([])
    figs = [
        cumulative_discoveries_figure({"run": []}),
        daf_figure({"run": [True]}, None),
        hit_rate_figure([], [], []),
        divergence_figure(empty, empty),
        parity_figure({"PBE": (empty, empty)}),
        reliability_figure(empty, empty),
        e_hull_histogram(empty),
        trap_figure([], [], []),
        wall_time_figure([], [], []),
    ]
    for fig in figs:
        assert any(w in _texts(fig) for w in ("no ", "yet", "needs")), _texts(fig)
        assert render_figure(fig, "x", title="x").png.startswith(b"\x89PNG")


def test_daf_is_the_running_discovery_rate_over_the_random_rate():
    d = daf_curve([True, False, True, False], baseline_rate=0.25)
    assert d == pytest.approx([4.0, 2.0, 8 / 3, 2.0])
    with pytest.raises(ValueError, match="baseline"):
        daf_curve([True], 0.0)
    fig = daf_figure({"full": [True, False, True, False]}, 0.25)
    assert "full (final 2.0)" in _texts(fig)
    assert "random baseline" in _texts(daf_figure({"full": [True]}, 0.0))


def test_hit_rate_bars_are_hits_per_call_and_a_cycle_without_calls_says_so():
    fig = hit_rate_figure([1, 2, 3], hits=[3, 1, 0], calls=[4, 4, 0], discoveries=[2, 1, 0])
    bars = fig.axes[0].containers
    assert [b.get_height() for b in bars[0]] == pytest.approx([0.75, 0.25, 0.0])
    assert [b.get_height() for b in bars[1]] == pytest.approx([0.5, 0.25, 0.0])
    assert "3/4" in _texts(fig) and "no calls" in _texts(fig)


def test_reliability_figure_reports_the_ece_of_its_inputs():
    rng = np.random.default_rng(1)
    std = np.full(2000, 0.1)
    calibrated = rng.normal(scale=0.1, size=2000)
    fig = reliability_figure(calibrated, std, level="HSE06")
    assert f"ECE = {regression_ece(calibrated, std):.3f}" in _texts(fig)
    assert regression_ece(calibrated, std) < 0.03
    over = reliability_figure(calibrated * 3, std)  # σ three times too small
    points = next(ln for ln in over.axes[0].get_lines() if ln.get_marker() == "o")
    expected, observed = points.get_data()
    assert np.all(np.asarray(observed) < np.asarray(expected))  # below the diagonal


def test_parity_titles_give_each_level_its_mae():
    true = np.array([-1.0, -0.5, 0.0])
    fig = parity_figure({"PBE": (true + 0.1, true), "HSE06": (true - 0.02, true)})
    text = _texts(fig)
    assert "PBE\nMAE 100 meV/atom (n=3)" in text and "HSE06\nMAE 20 meV/atom (n=3)" in text


def test_e_hull_histogram_counts_every_labelled_candidate_and_the_hits():
    e = np.array([-0.05, 0.0, 0.02, 0.3, 0.4, np.nan])
    fig = e_hull_histogram(e, threshold=0.025, level="r2SCAN")
    heights = [p.get_height() for p in fig.axes[0].containers[0]]
    assert sum(heights) == 5
    assert "3 of 5 at or below threshold" in _texts(fig)


def test_trap_warnings_fire_on_low_novelty_and_on_a_close_packed_rise_only():
    assert trap_warnings([1, 2, 3], [0.9, 0.8, 0.75], [0.1, 0.12, 0.15]) == []
    low = trap_warnings([1, 2, 3], [0.9, 0.65, 0.8], [np.nan] * 3)
    assert len(low) == 1 and "cycle 2: 65 %" in low[0]
    rise = trap_warnings([1, 2, 3], [np.nan] * 3, [0.1, 0.15, 0.3])
    assert len(rise) == 1 and "from 10 % (cycle 1) to 30 % (cycle 3)" in rise[0]
    assert trap_warnings([1, 2], [1.0, 1.0], [0.5, 0.2]) == []  # a fall is no trap
    assert "WARNING" in _texts(trap_figure([1, 2], [0.9, 0.9], [0.0, 0.5]))
    assert "WARNING" not in _texts(trap_figure([1, 2], [0.9, 0.9], [0.5, 0.5]))


def test_wall_time_title_gives_the_oracle_share():
    fig = wall_time_figure([1, 2], [30.0, 10.0], [5.0, 5.0])
    assert "40 s oracle, 10 s other (80 % in the oracle)" in _texts(fig)


def test_render_figure_writes_png_and_pdf_and_embeds_the_png(tmp_path):
    import base64

    fig = wall_time_figure([1], [1.0], [1.0])
    out = render_figure(fig, "wall", title="t", out_dir=tmp_path / "figs")
    assert [p.name for p in out.files] == ["wall.png", "wall.pdf"]
    assert (tmp_path / "figs" / "wall.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "figs" / "wall.png").read_bytes() == out.png
    assert base64.b64decode(out.data_uri.split(",", 1)[1]) == out.png
