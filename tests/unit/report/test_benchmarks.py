"""The benchmark report: strategies side by side (table + bars), records as tables, provenance."""

from __future__ import annotations

import json
import re

import pytest

from qaware.errors import ConfigError
from qaware.report.benchmarks import write_benchmark_report
from qaware.report.fig_benchmarks import strategy_bars


def _result_file(folder, name="track.json"):
    doc = {
        "benchmark": "campaign_track_x",
        "results": {
            "settings": {"budget": 10},
            "splits": {
                "oxides": {
                    "strategies": {
                        "random": {"hits_per_call": {"mean": 0.05, "std": 0.02}},
                        "dft_only": {"hits_per_call": {"mean": 0.01, "std": 0.01}},
                        "qaware": {"hits_per_call": {"mean": 0.3, "std": 0.05},
                                   "r2": {"mean": None, "std": None}},
                    }
                }
            },
            "calls": [{"system": "FeO", "wall_s": 1.5}, {"system": "<b>", "wall_s": 3.0}],
        },
        "provenance": {"command": "python benchmarks/x.py", "git": {"commit": "abc123def4567"},
                       "data_files": [{"path": "data.csv", "sha256": "f" * 64}],
                       "wall_time_s": 12.5},
    }  # fmt: skip
    (folder / name).write_text(json.dumps(doc))


def test_benchmark_page_puts_strategies_side_by_side(tmp_path):
    _result_file(tmp_path)
    out = write_benchmark_report(tmp_path, tmp_path / "out" / "bench.html")
    text = out.read_text(encoding="utf-8")
    assert "campaign_track_x" in text and "python benchmarks/x.py" in text and "f" * 64 in text
    strat = re.search(r'<table id="t-0-splits: oxides: strategies".*?</table>', text, re.S)
    assert strat is not None
    rows = re.findall(r"<tr><td[^>]*>(\w+)</td>", strat.group(0))
    assert rows == ["random", "dft_only", "qaware"]
    assert "0.3 ± 0.05" in strat.group(0) and 'data-sort="0.3"' in strat.group(0)
    assert len(list((tmp_path / "out" / "figures").glob("strategies_0_*.pdf"))) == 1
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == 1
    assert "&lt;b&gt;" in text and "<td><b></td>" not in text  # record values are escaped


def test_strategy_bars_highlight_the_best_non_reference_strategy():
    fig = strategy_bars(["perfect", "random", "dft_only", "qaware"], [0.4, 0.05, 0.01, 0.3],
                        [0, 0.02, 0.01, 0.05])  # fmt: skip
    bars = fig.axes[0].patches
    widths = [b.get_width() for b in bars]
    assert widths == pytest.approx([0.4, 0.05, 0.01, 0.3])
    colours = [b.get_facecolor() for b in bars]
    assert colours[3] != colours[2] and colours[0] == colours[1]  # best vs others; references


def test_bad_benchmark_folders_are_named(tmp_path):
    with pytest.raises(ConfigError, match="no benchmark result files"):
        write_benchmark_report(tmp_path, tmp_path / "x.html")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"broken\.json"):
        write_benchmark_report(tmp_path, tmp_path / "x.html")
